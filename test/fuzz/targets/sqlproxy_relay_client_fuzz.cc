// libFuzzer target: the client->server direction of the relay (FrameScanner + RelayState).
//
// Input layout: byte 0 picks the chunk size (1..256); the rest is what a client sends after a
// real login (greeting, response and OK from a recorded MariaDB session are replayed first).
// Whenever the state waits for a server answer the harness replays a canned ERR (which ends any
// response), so the fuzzer reaches command after command.
// Properties beyond "no crash, no sanitizer report": a protocol error is sticky; the pending
// queue never exceeds its bound; Opaque and Closed are final.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "sqlproxy/protocol/codecs.h"
#include "sqlproxy/protocol/framing.h"
#include "sqlproxy/session/recorded_session.h"

namespace {

namespace p = sqlproxy::protocol;
using sqlproxy::session::Phase;
using sqlproxy::session::RelayState;
using sqlproxy::session::Replayer;

void require(bool condition) {
  if (!condition) std::abort();
}

std::string greeting() {
  p::HandshakeV10 h;
  h.server_version = "5.5.5-10.11.19-MariaDB";
  h.auth_plugin_data = std::string(20, 'S') + '\0';
  h.capabilities = 0xFFFFFFFEu & ~p::cap::kSsl & ~p::cap::kCompress;
  h.auth_plugin_data_len = 21;
  h.reserved = std::string(6, '\0') + std::string("\x1f\0\0\0", 4);
  h.auth_plugin_name = "mysql_native_password";
  return p::frame(p::build_handshake_v10(h), 0);
}

std::string login_response() {
  p::HandshakeResponse41 r;
  r.capabilities = p::cap::kProtocol41 | p::cap::kTransactions | p::cap::kSecureConnection |
                   p::cap::kPluginAuth | p::cap::kMultiResults | p::cap::kLocalFiles;
  r.mariadb_capabilities = 0x1F;
  r.user = "fuzz";
  r.auth_plugin = "mysql_native_password";
  return p::frame(p::build_handshake_response41(r), 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t chunk = std::size_t{data[0]} + 1;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::string answer = p::frame(p::build_proxy_err(1064, "42000", "fuzz"), 1);
  Replayer r;
  require(!r.feed(true, greeting()));
  require(!r.feed(false, login_response()));
  require(!r.feed(true, p::frame(p::build_ok(p::OkPacket{}, p::cap::kProtocol41), 2)));
  bool failed = false;
  for (std::size_t pos = 0; pos < input.size(); pos += chunk) {
    const Phase before = r.state().phase();
    failed = r.feed(false, input.substr(pos, chunk)).has_value();
    if (failed) break;
    if (before == Phase::Opaque || before == Phase::Closed) require(r.state().phase() == before);
    require(r.state().pending() <= RelayState::kPendingMax);
    // Answer what is owed, as a server would, so later client packets meet later states.
    for (int i = 0; i < 4 && r.state().pending() > 0 && !failed; ++i) {
      failed = r.feed(true, answer).has_value();
    }
    if (failed) break;
  }
  if (failed) require(r.feed(false, "\x01\0\0\0\x0e").has_value());
  return 0;
}
