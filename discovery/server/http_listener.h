#pragma once
// HttpListener: accepts HTTP/1.x connections on one address and runs one session coroutine per
// connection: read a request within its limits and deadline, hand it to the RequestHandler, loop
// while the connection is kept alive.
//
// Ownership: owned by main(); the handler must outlive it. Threads: everything runs on the one
// io_context thread. Limits: a request line over request_line_bytes_max is dropped with a TCP
// reset and no answer (as etcd's connection multiplexer does); headers over header_bytes_max get
// 431; bodies over body_bytes_max get 413; malformed requests get 400; all close the connection.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/result.h"

namespace discovery::server {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;

class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  // Answers one request on `stream` (possibly as a long-lived watch stream). Returns whether the
  // connection may carry another request. Must not throw.
  virtual boost::asio::awaitable<bool> handle(boost::beast::tcp_stream& stream,
                                              Request request) = 0;
  // Answers a request whose header parsed but whose body did not; `go_error` is the text Go's
  // body reader gives for the fault (e.g. "invalid byte in chunk length"). The connection closes
  // afterwards. Must not throw.
  virtual boost::asio::awaitable<void> handle_broken_body(boost::beast::tcp_stream& stream,
                                                          Request header,
                                                          std::string_view go_error) = 0;
};

struct HttpLimits {
  std::size_t request_line_bytes_max = 4096;
  std::size_t header_bytes_max = 1 << 20;
  std::uint64_t body_bytes_max = 64ull << 20;
  std::chrono::seconds idle_timeout{120};  // waiting for / reading one request
  std::chrono::seconds write_timeout{60};  // writing one response or watch event
  std::size_t connections_max = 10000;
};

class HttpListener {
 public:
  // Binds and listens. Error: the address cannot be bound (the message names it).
  static common::Result<std::unique_ptr<HttpListener>, std::string> open(
      boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& endpoint,
      RequestHandler& handler, HttpLimits limits);

  // Starts accepting; returns at once.
  void start();
  // Stops accepting; open sessions end when their socket closes or times out.
  void stop();

  boost::asio::ip::tcp::endpoint local_endpoint() const;
  // Open client connections right now.
  std::size_t connection_count() const { return *connections_; }

 private:
  // What to do with a connection whose next request starts with a given line.
  enum class LineVerdict { Serve, Close, Reset };

  HttpListener(boost::asio::ip::tcp::acceptor acceptor, RequestHandler& handler, HttpLimits limits);
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> session(boost::beast::tcp_stream stream);
  // Reads until the buffer holds the request line (leaving it there for the parser).
  boost::asio::awaitable<LineVerdict> read_request_line(boost::beast::tcp_stream& stream,
                                                        boost::beast::flat_buffer& buffer);
  static LineVerdict classify_request_line(std::string_view line, std::size_t line_bytes_max);
  static boost::asio::awaitable<void> answer_read_error(boost::beast::tcp_stream& stream,
                                                        boost::beast::error_code ec);

  boost::asio::ip::tcp::acceptor acceptor_;
  RequestHandler& handler_;
  HttpLimits limits_;
  std::shared_ptr<std::size_t> connections_;
};

// Writes a raw Go-style error answer ("400 Bad Request" and the like) and marks the end of the
// connection. Used for protocol errors before a request exists.
boost::asio::awaitable<void> write_protocol_error(boost::beast::tcp_stream& stream,
                                                  std::string_view status_line,
                                                  std::string_view body);

}  // namespace discovery::server
