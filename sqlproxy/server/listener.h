#pragma once
// SessionListener: accepts MySQL client connections on one address and starts a Session for
// each, spreading them round-robin over the worker io_contexts (one thread each), so a session
// lives on one thread for its whole life.
//
// Ownership: main() owns it; the workers and the SessionEnv outlive it. Threads: the accept loop
// runs on the io_context given to open() (the control thread); sessions run on the workers.

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
  static common::Result<std::unique_ptr<SessionListener>, std::string> open(
      boost::asio::io_context& accept_io, const boost::asio::ip::tcp::endpoint& endpoint,
      std::vector<boost::asio::io_context*> workers, std::shared_ptr<const session::SessionEnv> env,
      std::atomic<std::uint64_t>& next_id);
  void start();
  void stop();
  boost::asio::ip::tcp::endpoint local_endpoint() const;

 private:
  SessionListener(boost::asio::ip::tcp::acceptor acceptor,
                  std::vector<boost::asio::io_context*> workers,
                  std::shared_ptr<const session::SessionEnv> env,
                  std::atomic<std::uint64_t>& next_id);
  boost::asio::awaitable<void> accept_loop();

  boost::asio::ip::tcp::acceptor acceptor_;
  std::vector<boost::asio::io_context*> workers_;
  std::shared_ptr<const session::SessionEnv> env_;
  std::atomic<std::uint64_t>& next_id_;
  std::size_t next_worker_ = 0;
};

}  // namespace sqlproxy::server
