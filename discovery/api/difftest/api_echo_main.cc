// api_echo: reads one raw HTTP request from stdin and writes what this project's api layer
// answers without a store: route()'s ready answers, and keys parameter errors. For requests that
// need the store or the cluster it prints "ROUTED <endpoint number>". No Date header. Used by
// difftest/compare_with_etcd.py to compare these answers byte for byte with a running etcd.

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/write.hpp>
#include <cstdint>
#include <iostream>
#include <iterator>
#include <string>
#include <string_view>

#include "discovery/api/auth.h"
#include "discovery/api/keys_request.h"
#include "discovery/api/route.h"

namespace {

// `api_echo --render-set KEY INDEX`: the body etcd sends for a set that created KEY at INDEX with
// the value read from stdin (no TTL), to compare JSON escaping on arbitrary bytes.
int render_set(const char* key, const char* index) {
  discovery::store::Event event;
  event.action = discovery::store::Action::Set;
  event.node.key = key;
  event.node.value =
      std::string((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  event.node.modified_index = event.node.created_index = std::stoull(index);
  std::cout << discovery::api::render_event(event);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  namespace http = boost::beast::http;
  using namespace discovery;
  if (argc == 4 && std::string_view(argv[1]) == "--render-set") return render_set(argv[2], argv[3]);
  const std::uint64_t cluster_id = argc > 1 ? std::stoull(argv[1], nullptr, 16) : 0;
  std::string input((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  http::request_parser<http::string_body> parser;
  parser.eager(true);
  parser.body_limit(64 << 20);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(input), ec);
  if (ec || !parser.is_done()) {
    std::cout << "PARSE ERROR " << ec.message() << "\n";
    return 0;
  }
  const api::Request& req = parser.get();
  const api::Route r = api::route(req, cluster_id, std::nullopt);
  if (const auto* res = std::get_if<api::Response>(&r)) {
    std::cout << *res;
    return 0;
  }
  const auto& routed = std::get<api::Routed>(r);
  if (routed.endpoint == api::Endpoint::Keys) {
    auto parsed = api::parse_keys_request(req);
    if (!parsed) {
      std::cout << api::keys_error_response(parsed.error(), cluster_id,
                                            api::response_meta(req, std::nullopt));
      return 0;
    }
  }
  if (routed.endpoint == api::Endpoint::Auth && req.method() != http::verb::put) {
    std::cout << api::auth_disabled_response(req, routed, cluster_id,
                                             api::response_meta(req, std::nullopt));
    return 0;
  }
  std::cout << "ROUTED " << static_cast<int>(routed.endpoint) << "\n";
  return 0;
}
