#include "sqlproxy/server/listener.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace sqlproxy::server {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

common::Result<std::unique_ptr<SessionListener>, std::string> SessionListener::open(
    asio::io_context& accept_io, const tcp::endpoint& endpoint,
    std::vector<asio::io_context*> workers, std::shared_ptr<const session::SessionEnv> env,
    std::atomic<std::uint64_t>& next_id) {
  tcp::acceptor acceptor(accept_io);
  boost::system::error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return fmt::format("listen {}:{}: {}", endpoint.address().to_string(), endpoint.port(),
                       ec.message());
  }
  return std::unique_ptr<SessionListener>(
      new SessionListener(std::move(acceptor), std::move(workers), std::move(env), next_id));
}

SessionListener::SessionListener(tcp::acceptor acceptor, std::vector<asio::io_context*> workers,
                                 std::shared_ptr<const session::SessionEnv> env,
                                 std::atomic<std::uint64_t>& next_id)
    : acceptor_(std::move(acceptor)),
      workers_(std::move(workers)),
      env_(std::move(env)),
      next_id_(next_id) {}

void SessionListener::start() {
  asio::co_spawn(acceptor_.get_executor(), accept_loop(), asio::detached);
}

void SessionListener::stop() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
}

tcp::endpoint SessionListener::local_endpoint() const { return acceptor_.local_endpoint(); }

asio::awaitable<void> SessionListener::accept_loop() {
  while (acceptor_.is_open()) {
    asio::io_context& worker = *workers_[next_worker_];
    next_worker_ = (next_worker_ + 1) % workers_.size();
    // The socket is bound to the worker, so the session's I/O completes on that thread.
    auto [ec, socket] =
        co_await acceptor_.async_accept(worker, asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) {
      // Out of descriptors and the like: keep the sessions we have.
      spdlog::warn("accept on {}: {}", env_->role, ec.message());
      continue;
    }
    session::Session::start(std::move(socket), env_, next_id_.fetch_add(1) + 1);
  }
}

}  // namespace sqlproxy::server
