#include "discovery/server/health_check.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>

namespace discovery::server {
namespace asio = boost::asio;

namespace {

// Shared by the caller and the read it starts: whichever ends last frees it.
struct Probe {
  explicit Probe(const asio::any_io_executor& executor) : timer(executor) {}
  asio::steady_timer timer;
  bool done = false;
  bool ok = false;
};

}  // namespace

asio::awaitable<bool> wait_for_leader(const Member& member, std::chrono::milliseconds deadline) {
  if (member.node().leader() != 0) co_return true;
  // Leadership changes only when the raft loop runs, at most once per tick or message; a poll
  // at a fraction of a tick answers within that much of the election.
  constexpr std::chrono::milliseconds kPoll{20};
  asio::steady_timer timer(co_await asio::this_coro::executor);
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (member.node().leader() == 0) {
    if (std::chrono::steady_clock::now() >= until) co_return false;
    timer.expires_after(kPoll);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  co_return true;
}

asio::awaitable<bool> member_healthy(Member& member, std::chrono::milliseconds read_deadline) {
  // A member cut off from the quorum may still name the old leader until its election timeout;
  // the read catches that case, the leader check the one after (both pinned by
  // cluster_clients_test "unavailable": etcdctl cluster-health reports the cluster unavailable).
  if (member.node().leader() == 0) co_return false;
  const asio::any_io_executor executor = co_await asio::this_coro::executor;
  auto probe = std::make_shared<Probe>(executor);
  probe->timer.expires_after(read_deadline);
  // Member::read_barrier cannot be cancelled: it runs on by itself and the timer bounds the wait.
  asio::co_spawn(
      executor,
      [&member, probe]() -> asio::awaitable<void> {
        probe->ok = co_await member.read_barrier();
        probe->done = true;
        probe->timer.cancel();
      },
      asio::detached);
  if (!probe->done) co_await probe->timer.async_wait(asio::as_tuple(asio::use_awaitable));
  co_return probe->done && probe->ok;
}

}  // namespace discovery::server
