#include "sqlproxy/admin/admin_server.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <optional>

#include "common/check.h"
#include "common/flags.h"
#include "sqlproxy/admin/status_page.h"
#include "sqlproxy/admin/status_render.h"

namespace sqlproxy::admin {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
constexpr std::chrono::seconds kReadTimeout{30};
constexpr std::chrono::seconds kWriteTimeout{30};
constexpr std::uint64_t kBodyBytesMax = std::uint64_t{64} * 1024;

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hex_digit(s[i + 1]) >= 0 &&
               hex_digit(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// The value of `key` in a query string, decoded; nullopt when absent.
std::optional<std::string> query_param(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const std::size_t eq = pair.find('=');
    if (percent_decode(pair.substr(0, eq)) == key) {
      return eq == std::string_view::npos ? "" : percent_decode(pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

AdminAnswer text(unsigned status, std::string body) {
  return AdminAnswer{status, "text/plain; charset=utf-8", std::move(body)};
}

AdminAnswer ready(const AdminDeps& deps) {
  const auto snapshot = deps.status->status();
  if (snapshot->writer.empty()) return text(503, "not ready: " + snapshot->writer_reason + "\n");
  return text(200, "ready: writer " + snapshot->writer + "\n");
}

AdminAnswer metrics(const AdminDeps& deps) {
  const auto snapshot = deps.status->status();
  std::string body = deps.metrics->render();
  body += render_backend_metrics(*snapshot, deps.registry->counts());
  return AdminAnswer{200, "text/plain; version=0.0.4; charset=utf-8", std::move(body)};
}

// The page carries names and reasons from outside: besides escaping them, forbid scripts and
// every load from elsewhere, so a name that slipped through could still run nothing.
AdminAnswer page(const AdminDeps& deps) {
  CHECK(deps.clock != nullptr, "AdminDeps.clock is required for the status page");
  AdminAnswer answer{
      200, "text/html; charset=utf-8",
      render_status_page(*deps.status->status(), deps.registry->counts(), deps.clock->wall_now())};
  answer.headers = {{"Cache-Control", "no-store"},
                    {"Content-Security-Policy",
                     "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"},
                    {"X-Content-Type-Options", "nosniff"}};
  return answer;
}

AdminAnswer action(std::string_view path, std::string_view query, const AdminDeps& deps) {
  const auto backend = query_param(query, "backend");
  if (!backend || backend->empty()) return text(400, "missing backend=<name>\n");
  if (path == "/fence") {
    const std::size_t n = deps.registry->fence(*backend);
    spdlog::warn("admin: fence {} ({} sessions closed)", *backend, n);
    return text(200, fmt::format("fenced {}: {} sessions closed\n", *backend, n));
  }
  if (path == "/readmit") {
    deps.registry->readmit(*backend);
    spdlog::warn("admin: readmit {}", *backend);
    return text(200, fmt::format("readmitted {}\n", *backend));
  }
  std::chrono::milliseconds grace = deps.drain_grace;
  if (const auto g = query_param(query, "grace")) {
    auto parsed = common::flags::parse_duration(*g);
    if (!parsed || parsed->count() < 0) return text(400, "bad grace (want e.g. 10s, 500ms)\n");
    grace = std::chrono::duration_cast<std::chrono::milliseconds>(*parsed);
  }
  const std::size_t n = deps.registry->drain(*backend, grace);
  spdlog::warn("admin: drain {} within {} ms ({} sessions)", *backend, grace.count(), n);
  return text(200,
              fmt::format("draining {}: {} sessions, grace {} ms\n", *backend, n, grace.count()));
}

}  // namespace

AdminAnswer handle_admin_request(std::string_view method, std::string_view target,
                                 const AdminDeps& deps) {
  const std::size_t q = target.find('?');
  const std::string_view path = target.substr(0, q);
  const std::string_view query = q == std::string_view::npos ? "" : target.substr(q + 1);
  const bool get = method == "GET" || method == "HEAD";
  if (path == "/fence" || path == "/drain" || path == "/readmit") {
    if (method != "POST") return text(405, "use POST\n");
    return action(path, query, deps);
  }
  if (!get) {
    if (path == "/" || path == "/health" || path == "/ready" || path == "/status" ||
        path == "/metrics") {
      return text(405, "use GET\n");
    }
    return text(404, "not found\n");
  }
  if (path == "/") return page(deps);
  if (path == "/health") return text(200, "ok\n");
  if (path == "/ready") return ready(deps);
  if (path == "/status") {
    return AdminAnswer{200, "application/json",
                       render_status_json(*deps.status->status(), deps.registry->counts())};
  }
  if (path == "/metrics") return metrics(deps);
  return text(404, "not found\n");
}

common::Result<std::unique_ptr<AdminServer>, std::string> AdminServer::open(
    asio::io_context& io, const tcp::endpoint& endpoint, AdminDeps deps) {
  tcp::acceptor acceptor(io);
  boost::system::error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return fmt::format("admin listen {}:{}: {}", endpoint.address().to_string(), endpoint.port(),
                       ec.message());
  }
  return std::unique_ptr<AdminServer>(new AdminServer(std::move(acceptor), deps));
}

AdminServer::AdminServer(tcp::acceptor acceptor, AdminDeps deps)
    : acceptor_(std::move(acceptor)), deps_(deps) {}

void AdminServer::start() {
  asio::co_spawn(acceptor_.get_executor(), accept_loop(), asio::detached);
}

void AdminServer::stop() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
}

tcp::endpoint AdminServer::local_endpoint() const { return acceptor_.local_endpoint(); }

asio::awaitable<void> AdminServer::accept_loop() {
  while (acceptor_.is_open()) {
    auto [ec, socket] = co_await acceptor_.async_accept(kAwait);
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) {
      spdlog::warn("admin accept: {}", ec.message());
      continue;
    }
    asio::co_spawn(acceptor_.get_executor(), serve(beast::tcp_stream(std::move(socket))),
                   asio::detached);
  }
}

asio::awaitable<void> AdminServer::serve(beast::tcp_stream stream) {
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(kBodyBytesMax);
    stream.expires_after(kReadTimeout);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, kAwait);
    if (ec) break;
    const auto& request = parser.get();
    const AdminAnswer answer = handle_admin_request(std::string_view(request.method_string()),
                                                    std::string_view(request.target()), deps_);
    http::response<http::string_body> response{static_cast<http::status>(answer.status),
                                               request.version()};
    response.set(http::field::content_type, answer.content_type);
    for (const auto& [name, value] : answer.headers) response.set(name, value);
    response.keep_alive(request.keep_alive());
    if (request.method() != http::verb::head) response.body() = answer.body;
    response.prepare_payload();
    if (request.method() == http::verb::head) response.content_length(answer.body.size());
    stream.expires_after(kWriteTimeout);
    auto [wec, wn] = co_await http::async_write(stream, response, kAwait);
    if (wec || !response.keep_alive()) break;
  }
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

}  // namespace sqlproxy::admin
