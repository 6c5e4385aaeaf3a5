#include "discovery/server/join_cluster.h"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <thread>

#include "discovery/server/peer_frame.h"

namespace discovery::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
constexpr std::chrono::seconds kAttemptTimeout{2};
constexpr std::size_t kReplyBytesMax = 1 << 20;
constexpr std::chrono::milliseconds kRetryPause{200};

// One query: dial, send MembersQuery, read one MembersReply. The error text says what failed.
asio::awaitable<common::Result<RemoteCluster, std::string>> query(PeerAddress peer) {
  using Out = common::Result<RemoteCluster, std::string>;
  const auto executor = co_await asio::this_coro::executor;
  const std::string where = peer.host + ":" + peer.port;
  tcp::resolver resolver(executor);
  auto [resolve_ec, endpoints] = co_await resolver.async_resolve(peer.host, peer.port, kAwait);
  if (resolve_ec) co_return Out(where + ": " + resolve_ec.message());
  beast::tcp_stream stream(executor);
  stream.expires_after(kAttemptTimeout);
  auto [connect_ec, connected] = co_await stream.async_connect(endpoints, kAwait);
  if (connect_ec) co_return Out(where + ": " + connect_ec.message());
  pb::Envelope envelope;
  envelope.mutable_members_query();
  std::string frame;
  append_frame(frame, envelope);
  auto [write_ec, written] = co_await asio::async_write(stream, asio::buffer(frame), kAwait);
  if (write_ec) co_return Out(where + ": " + write_ec.message());
  FrameReader reader(kReplyBytesMax);
  for (;;) {
    auto next = reader.next();
    if (!next) co_return Out(where + ": malformed answer");
    if (*next) {
      if (!(*next)->has_members_reply()) co_return Out(where + ": not a member list");
      const pb::MembersReply& reply = (*next)->members_reply();
      RemoteCluster cluster{.cluster_id = reply.cluster_id(), .members = {}};
      for (const auto& member : reply.members()) {
        RemoteMember remote{.id = member.id(),
                            .peer_urls = {member.peer_urls().begin(), member.peer_urls().end()}};
        std::sort(remote.peer_urls.begin(), remote.peer_urls.end());
        cluster.members.push_back(std::move(remote));
      }
      co_return Out(std::move(cluster));
    }
    const std::span<char> space = reader.prepare(64 << 10);
    auto [read_ec, n] =
        co_await stream.async_read_some(asio::buffer(space.data(), space.size()), kAwait);
    if (read_ec) co_return Out(where + ": " + read_ec.message());
    reader.commit(n);
  }
}

}  // namespace

common::Result<RemoteCluster, std::string> fetch_cluster(const std::vector<PeerAddress>& peers,
                                                         std::chrono::milliseconds deadline_after) {
  if (peers.empty()) return std::string("no other member to ask");
  const auto deadline = std::chrono::steady_clock::now() + deadline_after;
  std::string last_error;
  for (;;) {
    for (const PeerAddress& peer : peers) {
      asio::io_context io(1);
      std::optional<common::Result<RemoteCluster, std::string>> result;
      asio::co_spawn(io, query(peer), [&result](const std::exception_ptr& error, auto answer) {
        if (!error) result = std::move(answer);
      });
      io.run();
      if (result && *result) return std::move(**result);
      last_error = result ? result->error() : "query failed";
    }
    if (std::chrono::steady_clock::now() >= deadline) return last_error;
    std::this_thread::sleep_for(kRetryPause);  // start-up only: nothing else runs yet
  }
}

common::Result<Identity, std::string> identity_in(const RemoteCluster& cluster,
                                                  const std::vector<std::string>& local_peer_urls) {
  std::vector<std::string> wanted = local_peer_urls;
  std::sort(wanted.begin(), wanted.end());
  for (const RemoteMember& member : cluster.members) {
    if (member.peer_urls == wanted) {
      return Identity{.member_id = member.id, .cluster_id = cluster.cluster_id};
    }
  }
  std::string urls;
  for (const std::string& url : wanted) urls += (urls.empty() ? "" : ",") + url;
  return "error validating peerURLs: no member of the cluster has peer URLs " + urls +
         " (add it first with POST /v2/members)";
}

}  // namespace discovery::server
