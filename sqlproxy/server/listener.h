#pragma once
// SessionListener: accepts MySQL client connections on one address and starts a Session for
// each. Every worker io_context has its own acceptor on the address (SO_REUSEPORT), so the
// kernel spreads new connections over the workers and a connection is accepted, relayed and
// closed on one thread with no hand-off (bench/sqlproxy-vs-haproxy, connect + SELECT 1 +
// disconnect: proxy CPU per connection went from 128 to 111 us, medians of 3 rounds, against
// one accepting thread handing sockets to the workers).
//
// Ownership: main() owns it; the workers and the SessionEnv outlive it. Threads: each acceptor
// and its accept loop belong to its worker's thread; stop() posts the closing there.

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "sqlproxy/session/session.h"

namespace sqlproxy::server {

class SessionListener {
 public:
  // Binds one acceptor per worker (the first picks the port when endpoint's port is 0).
  static common::Result<std::unique_ptr<SessionListener>, std::string> open(
      const boost::asio::ip::tcp::endpoint& endpoint,
      const std::vector<boost::asio::io_context*>& workers,
      std::shared_ptr<const session::SessionEnv> env, std::atomic<std::uint64_t>& next_id);
  void start();
  void stop();
  boost::asio::ip::tcp::endpoint local_endpoint() const;

 private:
  SessionListener(std::vector<std::unique_ptr<boost::asio::ip::tcp::acceptor>> acceptors,
                  std::shared_ptr<const session::SessionEnv> env,
                  std::atomic<std::uint64_t>& next_id);
  boost::asio::awaitable<void> accept_loop(boost::asio::ip::tcp::acceptor& acceptor);

  std::vector<std::unique_ptr<boost::asio::ip::tcp::acceptor>> acceptors_;
  std::shared_ptr<const session::SessionEnv> env_;
  std::atomic<std::uint64_t>& next_id_;
};

}  // namespace sqlproxy::server
