#include "discovery/server/http_listener.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>

#include <spdlog/spdlog.h>

namespace discovery::server {
namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

std::size_t request_line_bytes(const Request& request) {
  // "METHOD SP target SP HTTP/1.x"
  return request.method_string().size() + 1 + request.target().size() + 1 + 8;
}

// Closes with RST rather than FIN, so the client sees a reset and no HTTP answer, as it does from
// etcd when its connection multiplexer cannot match an over-long request line.
void reset(beast::tcp_stream& stream) {
  beast::error_code ignored;
  stream.socket().set_option(asio::socket_base::linger(true, 0), ignored);
  stream.socket().close(ignored);
}

bool expects_continue(const Request& request) {
  return beast::iequals(request[http::field::expect], "100-continue");
}

}  // namespace

common::Result<std::unique_ptr<HttpListener>, std::string> HttpListener::open(
    asio::io_context& io, const tcp::endpoint& endpoint, RequestHandler& handler,
    HttpLimits limits) {
  tcp::acceptor acceptor(io);
  beast::error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return "listen tcp " + endpoint.address().to_string() + ":" +
           std::to_string(endpoint.port()) + ": " + ec.message();
  }
  return std::unique_ptr<HttpListener>(new HttpListener(std::move(acceptor), handler, limits));
}

HttpListener::HttpListener(tcp::acceptor acceptor, RequestHandler& handler, HttpLimits limits)
    : acceptor_(std::move(acceptor)),
      handler_(handler),
      limits_(limits),
      connections_(std::make_shared<std::size_t>(0)) {}

void HttpListener::start() {
  asio::co_spawn(acceptor_.get_executor(), accept_loop(), asio::detached);
}

void HttpListener::stop() {
  beast::error_code ignored;
  acceptor_.close(ignored);
}

tcp::endpoint HttpListener::local_endpoint() const { return acceptor_.local_endpoint(); }

asio::awaitable<void> HttpListener::accept_loop() {
  while (acceptor_.is_open()) {
    auto [ec, socket] = co_await acceptor_.async_accept(kAwait);
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) {
      // Out of descriptors and the like: keep serving the connections we have.
      spdlog::warn("accept: {}", ec.message());
      continue;
    }
    if (*connections_ >= limits_.connections_max) {
      beast::error_code ignored;
      socket.close(ignored);
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    asio::co_spawn(acceptor_.get_executor(), session(beast::tcp_stream(std::move(socket))),
                   asio::detached);
  }
}

asio::awaitable<void> HttpListener::session(beast::tcp_stream stream) {
  const std::shared_ptr<std::size_t> connections = connections_;
  ++*connections;
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(limits_.header_bytes_max));
    parser.body_limit(limits_.body_bytes_max);
    stream.expires_after(limits_.idle_timeout);
    auto [ec, read] = co_await http::async_read_header(stream, buffer, parser, kAwait);
    if (!ec && request_line_bytes(parser.get()) > limits_.request_line_bytes_max) {
      reset(stream);
      break;
    }
    if (!ec && expects_continue(parser.get())) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      stream.expires_after(limits_.write_timeout);
      std::tie(ec, read) = co_await asio::async_write(stream, asio::buffer(kContinue), kAwait);
    }
    if (!ec && !parser.is_done()) {
      stream.expires_after(limits_.idle_timeout);
      std::tie(ec, read) = co_await http::async_read(stream, buffer, parser, kAwait);
    }
    if (ec == http::error::end_of_stream || ec == asio::error::eof ||
        ec == beast::error::timeout || ec == asio::error::connection_reset) {
      break;
    }
    if (ec == http::error::body_limit) {
      co_await write_protocol_error(stream, "413 Request Entity Too Large",
                                    "413 Request Entity Too Large");
      break;
    }
    if (ec == http::error::header_limit) {
      co_await write_protocol_error(stream, "431 Request Header Fields Too Large",
                                    "431 Request Header Fields Too Large");
      break;
    }
    if (ec) {
      co_await write_protocol_error(stream, "400 Bad Request", "400 Bad Request");
      break;
    }
    stream.expires_never();
    if (!co_await handler_.handle(stream, parser.release())) break;
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  --*connections;
}

asio::awaitable<void> write_protocol_error(beast::tcp_stream& stream, std::string_view status_line,
                                           std::string_view body) {
  // The shape Go's net/http gives a request it cannot parse.
  std::string answer = "HTTP/1.1 ";
  answer.append(status_line);
  answer.append("\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n");
  answer.append(body);
  stream.expires_after(std::chrono::seconds{5});
  co_await asio::async_write(stream, asio::buffer(answer), kAwait);
}

}  // namespace discovery::server
