// Fuzz target: raw HTTP request bytes through Beast's parser (with the server's limits), then
// route() and, for keys requests, parse_keys_request() and make_write_command(); every answer
// is serialized. Invariants: no crash or sanitizer report; a parsed keys request has a clean
// absolute key; parse errors carry index 0 and a 2xx error code.

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/write.hpp>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string_view>

#include "discovery/api/auth.h"
#include "discovery/api/go_format.h"
#include "discovery/api/keys_request.h"
#include "discovery/api/member_request.h"
#include "discovery/api/route.h"

namespace {

namespace http = boost::beast::http;
using namespace discovery;

void check(bool ok) {
  if (!ok) std::abort();
}

template <class Message>
void serialize(const Message& m) {
  std::ostringstream os;
  os << m;
}

void exercise_keys(const api::Request& req) {
  auto parsed = api::parse_keys_request(req);
  if (!parsed) {
    const int code = static_cast<int>(parsed.error().code);
    check(parsed.error().index == 0 && code >= 200 && code < 300);
    serialize(api::keys_error_response(parsed.error(), 1, api::response_meta(req, std::nullopt)));
    return;
  }
  check(!parsed->key.empty() && parsed->key.front() == '/');
  check(parsed->key == "/" || parsed->key.back() != '/');
  check(api::go_path_clean(parsed->key) == parsed->key);
  check(!parsed->wait || parsed->method == api::KeysMethod::Get);
  if (parsed->is_write()) {
    const auto command = api::make_write_command(*parsed, api::WallTime{});
    check(command.write().key() == parsed->key);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  http::request_parser<http::string_body> parser;
  parser.header_limit(8 * 1024);
  parser.body_limit(64 * 1024);
  parser.eager(true);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(data, size), ec);
  if (ec || !parser.is_done()) return 0;
  const api::Request& req = parser.get();
  const api::Route r = api::route(req, 0x8af6ec0d51b28919, api::WallTime{});
  if (const auto* answer = std::get_if<api::Response>(&r)) {
    // HEAD answers carry no body (Content-Length may still be set), except Go's own raw 400
    // pages, which etcd writes even for HEAD and which have no CORS headers.
    const bool go_page = answer->count("Access-Control-Allow-Origin") == 0;
    check(req.method() != http::verb::head || answer->body().empty() || go_page);
    serialize(*answer);
    return 0;
  }
  const auto& routed = std::get<api::Routed>(r);
  if (routed.endpoint == api::Endpoint::Keys) exercise_keys(req);
  if (routed.endpoint == api::Endpoint::MemberAdd ||
      routed.endpoint == api::Endpoint::MemberUpdate) {
    (void)api::parse_member_peer_urls(req.body());
  }
  if (routed.endpoint == api::Endpoint::Auth) {
    serialize(api::auth_disabled_response(req, routed, 1, api::response_meta(req, std::nullopt)));
  }
  return 0;
}
