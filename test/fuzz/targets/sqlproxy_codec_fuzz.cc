// libFuzzer target for the sqlproxy::protocol codecs.
//
// Input layout: 4 bytes of little-endian capability flags, then one payload given to every
// parser. Properties checked beyond "no crash, no sanitizer report":
//   - a parsed greeting or EOF builds back to exactly the input bytes;
//   - any other parsed value (response, OK, ERR, column count) builds to bytes that parse back
//     to the same value;
//   - is_ssl_request agrees with parse_ssl_request.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "sqlproxy/protocol/codecs.h"
#include "sqlproxy/protocol/responses.h"
#include "sqlproxy/protocol/wire.h"

namespace {

namespace p = sqlproxy::protocol;

void require(bool condition) {
  if (!condition) std::abort();
}

void check_client_packets(std::string_view payload) {
  if (auto r = p::parse_handshake_response41(payload)) {
    auto back = p::parse_handshake_response41(p::build_handshake_response41(*r));
    require(back && *back == *r);
  }
  auto ssl = p::parse_ssl_request(payload);
  require(p::is_ssl_request(payload) == (ssl && (ssl->capabilities & p::cap::kSsl) != 0));
  if (ssl) require(p::build_ssl_request(*ssl).size() == p::kSslRequestSize);
  if (auto r = p::parse_handshake_response41(payload)) {
    auto caps = p::parse_client_capabilities(payload);
    require(caps && caps->capabilities == r->capabilities);
  }
  if (auto c = p::command_of(payload)) {
    require(!p::command_name(*c).empty());
    (void)p::expects_response(*c);
  }
}

// The prefix parsers the relay uses (responses.h) agree with the whole-packet codecs.
void check_relay_parsers(std::string_view payload, std::uint32_t caps) {
  if (auto h = p::parse_handshake_v10(payload)) {
    auto g = p::parse_greeting_capabilities(payload);
    require(g && g->capabilities == h->capabilities);
  }
  if (auto ok = p::parse_ok(payload, caps)) {
    auto flags = p::parse_ok_status(payload, caps);
    require(flags && *flags == ok->status_flags);
  }
  if (auto s = p::parse_stmt_prepare_ok(payload)) {
    auto back = p::parse_stmt_prepare_ok(p::build_stmt_prepare_ok(*s));
    require(back && *back == *s);
  }
  if (auto a = p::parse_auth_switch_request(payload)) {
    require(p::build_auth_switch_request(*a) == payload);
  }
  (void)p::parse_end_of_rows_status(payload, caps);
  (void)p::classify_auth_reply(payload);
  (void)p::is_progress_report(payload);
  (void)p::is_local_infile_request(payload);
}

void check_server_packets(std::string_view payload, std::uint32_t caps) {
  if (auto h = p::parse_handshake_v10(payload)) require(p::build_handshake_v10(*h) == payload);
  if (auto e = p::parse_eof(payload, caps)) require(p::build_eof(*e, caps) == payload);
  if (auto ok = p::parse_ok(payload, caps)) {
    auto back = p::parse_ok(p::build_ok(*ok, caps), caps);
    require(back && *back == *ok);
  }
  if (auto err = p::parse_err(payload, caps)) {
    auto back = p::parse_err(p::build_err(*err, caps), caps);
    require(back && *back == *err);
  }
  // The same 32 bits stand for MariaDB's extended capabilities here.
  if (auto c = p::parse_column_count(payload, caps)) {
    auto back = p::parse_column_count(p::build_column_count(*c, caps), caps);
    require(back && *back == *c);
  }
  check_relay_parsers(payload, caps);
  (void)p::classify_query_response(payload);
  (void)p::is_end_of_rows(payload, caps);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 4) return 0;
  const std::string_view all(reinterpret_cast<const char*>(data), size);
  p::WireReader head(all);
  const std::uint32_t caps = *head.u32();
  const std::string_view payload = all.substr(4);
  check_client_packets(payload);
  check_server_packets(payload, caps);
  return 0;
}
