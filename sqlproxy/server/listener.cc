#include "sqlproxy/server/listener.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace sqlproxy::server {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {
using ReusePort = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;
}  // namespace

common::Result<std::unique_ptr<SessionListener>, std::string> SessionListener::open(
    const tcp::endpoint& endpoint, const std::vector<asio::io_context*>& workers,
    std::shared_ptr<const session::SessionEnv> env, std::atomic<std::uint64_t>& next_id) {
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  tcp::endpoint bind_to = endpoint;
  for (asio::io_context* worker : workers) {
    auto acceptor = std::make_unique<tcp::acceptor>(*worker);
    boost::system::error_code ec;
    acceptor->open(bind_to.protocol(), ec);
    if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor->set_option(ReusePort(true), ec);
    if (!ec) acceptor->bind(bind_to, ec);
    if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return fmt::format("listen {}:{}: {}", bind_to.address().to_string(), bind_to.port(),
                         ec.message());
    }
    // The others join the port the first one got (it may have been 0: kernel's choice).
    bind_to = acceptor->local_endpoint();
    acceptors.push_back(std::move(acceptor));
  }
  return std::unique_ptr<SessionListener>(
      new SessionListener(std::move(acceptors), std::move(env), next_id));
}

SessionListener::SessionListener(std::vector<std::unique_ptr<tcp::acceptor>> acceptors,
                                 std::shared_ptr<const session::SessionEnv> env,
                                 std::atomic<std::uint64_t>& next_id)
    : acceptors_(std::move(acceptors)), env_(std::move(env)), next_id_(next_id) {}

void SessionListener::start() {
  for (auto& acceptor : acceptors_) {
    asio::co_spawn(acceptor->get_executor(), accept_loop(*acceptor), asio::detached);
  }
}

void SessionListener::stop() {
  for (auto& acceptor : acceptors_) {
    asio::post(acceptor->get_executor(), [a = acceptor.get()] {
      boost::system::error_code ignored;
      a->close(ignored);
    });
  }
}

tcp::endpoint SessionListener::local_endpoint() const {
  return acceptors_.front()->local_endpoint();
}

asio::awaitable<void> SessionListener::accept_loop(tcp::acceptor& acceptor) {
  while (acceptor.is_open()) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
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
