#include "discovery/server/http_listener.h"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>

namespace discovery::server {
namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

// Closes with RST rather than FIN, so the client sees a reset and no HTTP answer, as it does from
// etcd when its connection multiplexer cannot match an over-long request line.
void reset(beast::tcp_stream& stream) {
  beast::error_code ignored;
  stream.socket().set_option(asio::socket_base::linger(true, 0), ignored);
  stream.socket().close(ignored);
}

// The text Go's chunked body reader gives for a fault Beast reports while reading a body, which
// etcd copies into its answer; empty for faults that are not of the body's framing.
std::string_view go_body_error(beast::error_code ec) {
  if (ec == http::error::bad_chunk || ec == http::error::bad_chunk_extension) {
    return "invalid byte in chunk length";
  }
  if (ec == http::error::partial_message) return "unexpected EOF";
  return "";
}

bool is_form_method(std::string_view method) {
  return method == "POST" || method == "PUT" || method == "PATCH";
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
    return "listen tcp " + endpoint.address().to_string() + ":" + std::to_string(endpoint.port()) +
           ": " + ec.message();
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
    const LineVerdict verdict = co_await read_request_line(stream, buffer);
    if (verdict == LineVerdict::Reset) reset(stream);
    if (verdict != LineVerdict::Serve) break;
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(limits_.header_bytes_max));
    parser.body_limit(limits_.body_bytes_max);
    stream.expires_after(limits_.idle_timeout);
    auto [ec, read] = co_await http::async_read_header(stream, buffer, parser, kAwait);
    bool keep_open = true;
    if (!ec && !parser.is_done()) {
      // Go sends "100 Continue" only when a handler reads the body, and etcd's handlers read it
      // only for form methods; for the rest the body is never read and the connection closes.
      const bool reads_body = is_form_method(parser.get().method_string());
      if (expects_continue(parser.get()) && !reads_body) {
        keep_open = false;
      } else {
        if (expects_continue(parser.get())) {
          static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
          stream.expires_after(limits_.write_timeout);
          std::tie(ec, read) = co_await asio::async_write(stream, asio::buffer(kContinue), kAwait);
        }
        stream.expires_after(limits_.idle_timeout);
        if (!ec) std::tie(ec, read) = co_await http::async_read(stream, buffer, parser, kAwait);
      }
    }
    if (const std::string_view body_error = go_body_error(ec); !body_error.empty()) {
      co_await handler_.handle_broken_body(stream, parser.release(), body_error);
      break;
    }
    if (ec) {
      co_await answer_read_error(stream, ec);
      break;
    }
    stream.expires_never();
    if (!co_await handler_.handle(stream, parser.release()) || !keep_open) break;
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  --*connections;
}

asio::awaitable<HttpListener::LineVerdict> HttpListener::read_request_line(
    beast::tcp_stream& stream, beast::flat_buffer& buffer) {
  stream.expires_after(limits_.idle_timeout);
  for (;;) {
    const std::string_view data(static_cast<const char*>(buffer.data().data()),
                                buffer.data().size());
    const std::size_t end = data.find("\r\n");
    if (end != std::string_view::npos) {
      co_return classify_request_line(data.substr(0, end), limits_.request_line_bytes_max);
    }
    if (data.size() > limits_.request_line_bytes_max) co_return LineVerdict::Reset;
    auto [ec, read] = co_await stream.async_read_some(buffer.prepare(4096), kAwait);
    if (ec) co_return LineVerdict::Close;
    buffer.commit(read);
  }
}

HttpListener::LineVerdict HttpListener::classify_request_line(std::string_view line,
                                                              std::size_t line_bytes_max) {
  // What etcd's connection multiplexer and Go's server do with a first line (observed on etcd
  // 3.4.23, pinned by the differential test "malformed_requests"): no HTTP/1 shape -> close;
  // an HTTP/1 shape it cannot serve -> reset.
  if (line.size() > line_bytes_max) return LineVerdict::Reset;
  const std::size_t method_end = line.find(' ');
  if (method_end == 0 || method_end == std::string_view::npos) return LineVerdict::Close;
  const std::size_t target_end = line.find(' ', method_end + 1);
  if (target_end == std::string_view::npos) return LineVerdict::Close;
  if (line.find(' ', target_end + 1) != std::string_view::npos) return LineVerdict::Close;
  const std::string_view target = line.substr(method_end + 1, target_end - method_end - 1);
  const std::string_view version = line.substr(target_end + 1);
  if (version != "HTTP/1.1" && version != "HTTP/1.0") return LineVerdict::Reset;
  const bool origin_form = target.starts_with('/');
  const bool absolute_form = target.starts_with("http://") || target.starts_with("https://");
  if (!origin_form && !absolute_form && target != "*") return LineVerdict::Reset;
  return LineVerdict::Serve;
}

asio::awaitable<void> HttpListener::answer_read_error(beast::tcp_stream& stream,
                                                      beast::error_code ec) {
  if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == beast::error::timeout ||
      ec == asio::error::connection_reset) {
    co_return;
  }
  if (ec == http::error::body_limit) {
    co_await write_protocol_error(stream, "413 Request Entity Too Large",
                                  "413 Request Entity Too Large");
  } else if (ec == http::error::header_limit) {
    co_await write_protocol_error(stream, "431 Request Header Fields Too Large",
                                  "431 Request Header Fields Too Large");
  } else {
    co_await write_protocol_error(stream, "400 Bad Request", "400 Bad Request");
  }
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
