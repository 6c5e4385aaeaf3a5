// libFuzzer target: the server->client direction of the relay (FrameScanner + RelayState).
//
// Input layout: byte 0 picks the chunk size (1..256), byte 1 the command the client sends after
// a real login (COM_QUERY, COM_STMT_PREPARE, COM_STMT_EXECUTE, COM_STMT_FETCH, COM_FIELD_LIST,
// COM_CHANGE_USER, COM_PING or COM_STATISTICS); byte 2 the capabilities (bit 0 DEPRECATE_EOF,
// bit 1 MariaDB metadata cache); the rest is the server's answer stream. Each time the response
// completes, the same command is sent again. Properties beyond "no crash, no sanitizer report":
// a protocol error is sticky; the pending queue stays within one command (no pipelining here);
// Opaque and Closed are final.

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
using sqlproxy::session::Replayer;

void require(bool condition) {
  if (!condition) std::abort();
}

constexpr p::Command kCommands[] = {p::Command::Query,       p::Command::StmtPrepare,
                                    p::Command::StmtExecute, p::Command::StmtFetch,
                                    p::Command::FieldList,   p::Command::ChangeUser,
                                    p::Command::Ping,        p::Command::Statistics};

void login(Replayer& r, std::uint8_t caps_choice) {
  const std::uint32_t deprecate = (caps_choice & 1) ? p::cap::kDeprecateEof : 0;
  const std::uint32_t mariadb = (caps_choice & 2) ? 0x1Fu : 0x0Fu;
  p::HandshakeV10 h;
  h.server_version = "5.5.5-10.11.19-MariaDB";
  h.auth_plugin_data = std::string(20, 'S') + '\0';
  h.capabilities = 0xFFFFFFFEu & ~p::cap::kSsl & ~p::cap::kCompress;
  h.auth_plugin_data_len = 21;
  h.reserved = std::string(6, '\0') + std::string("\x1f\0\0\0", 4);
  h.auth_plugin_name = "mysql_native_password";
  require(!r.feed(true, p::frame(p::build_handshake_v10(h), 0)));
  p::HandshakeResponse41 resp;
  resp.capabilities = p::cap::kProtocol41 | p::cap::kTransactions | p::cap::kSecureConnection |
                      p::cap::kPluginAuth | p::cap::kMultiResults | p::cap::kLocalFiles | deprecate;
  resp.mariadb_capabilities = mariadb;
  resp.user = "fuzz";
  require(!r.feed(false, p::frame(p::build_handshake_response41(resp), 1)));
  require(!r.feed(true, p::frame(p::build_ok(p::OkPacket{}, p::cap::kProtocol41), 2)));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const std::size_t chunk = std::size_t{data[0]} + 1;
  const p::Command command = kCommands[data[1] % std::size(kCommands)];
  const std::string_view input(reinterpret_cast<const char*>(data + 3), size - 3);
  Replayer r;
  login(r, data[2]);
  const std::string packet = p::frame(std::string(1, static_cast<char>(command)) + "x", 0);
  bool failed = r.feed(false, packet).has_value();
  for (std::size_t pos = 0; pos < input.size() && !failed; pos += chunk) {
    const Phase before = r.state().phase();
    failed = r.feed(true, input.substr(pos, chunk)).has_value();
    if (failed) break;
    if (before == Phase::Opaque || before == Phase::Closed) require(r.state().phase() == before);
    require(r.state().pending() <= 1);
    if (r.state().idle()) failed = r.feed(false, packet).has_value();
  }
  if (failed) require(r.feed(true, "\x01\0\0\0\x00").has_value());
  return 0;
}
