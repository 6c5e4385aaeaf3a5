#include "discovery/server/api_handler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/channel.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>

#include "discovery/api/auth.h"
#include "discovery/api/member_request.h"
#include "discovery/server/bootstrap.h"
#include "discovery/server/cluster_members.h"
#include "discovery/server/health_check.h"
#include "discovery/server/member_id.h"

namespace discovery::server {
namespace asio = boost::asio;
namespace beast = boost::beast;
using namespace boost::asio::experimental::awaitable_operators;

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
constexpr auto kWriteTimeout = std::chrono::seconds{60};

// etcd gives each watcher a 100-event buffer and drops a watcher whose client falls further
// behind, ending its answer; so do we, so that one slow reader cannot hold memory without bound.
constexpr std::size_t kWatchQueueEvents = 100;

// The etcd release that /version reports: clients choose their API by it.
constexpr std::string_view kServerVersion = "3.4.23";

using EventChannel = asio::experimental::channel<void(boost::system::error_code, store::Event)>;

asio::awaitable<bool> write_message(beast::tcp_stream& stream, const api::Response& response) {
  // One buffer, one write: cheaper than the serializer's buffer sequences (about a tenth of the
  // CPU of a GET).
  const std::string wire = api::to_wire(response);
  stream.expires_after(kWriteTimeout);
  const auto [ec, written] = co_await asio::async_write(stream, asio::buffer(wire), kAwait);
  stream.expires_never();
  co_return !ec;
}

template <class Buffers>
asio::awaitable<bool> write_raw(beast::tcp_stream& stream, const Buffers& buffers) {
  stream.expires_after(kWriteTimeout);
  const auto [ec, written] = co_await asio::async_write(stream, buffers, kAwait);
  stream.expires_never();
  co_return !ec;
}

api::RaftRole role_of(raft::Role role) {
  switch (role) {
    case raft::Role::Leader:
      return api::RaftRole::Leader;
    case raft::Role::Candidate:
      return api::RaftRole::Candidate;
    case raft::Role::PreCandidate:
      return api::RaftRole::PreCandidate;
    case raft::Role::Follower:
      break;
  }
  return api::RaftRole::Follower;
}

}  // namespace

ApiHandler::ApiHandler(const Config& config, Identity identity, Member& member,
                       common::metrics::Registry& metrics, const PeerStats& peer_stats)
    : config_(config),
      member_(member),
      metrics_(metrics),
      peer_stats_(peer_stats),
      member_id_(identity.member_id),
      cluster_id_(identity.cluster_id),
      client_urls_(url_texts(config.advertise_client_urls)),
      start_time_(member.clock().wall_now()),
      requests_(metrics.counter("discovery_http_requests_total", "HTTP requests received.")),
      watch_streams_(metrics.counter("discovery_watch_requests_total", "Watch requests served.")) {}

asio::awaitable<bool> ApiHandler::handle(beast::tcp_stream& stream, Request request) {
  requests_.inc();
  const common::WallTime now = member_.clock().wall_now();
  api::Route route = api::route(request, cluster_id_, now);
  api::Response response;
  if (auto* ready = std::get_if<api::Response>(&route)) {
    response = std::move(*ready);
  } else {
    const auto& routed = std::get<api::Routed>(route);
    const api::ResponseMeta meta = api::response_meta(request, now);
    if (routed.endpoint == api::Endpoint::Keys) {
      auto parsed = api::parse_keys_request(request);
      // etcd checks every parsed keys request against its auth records, a read that fails when
      // auth was never enabled; /v2/stats/store shows it as one getsFail per request.
      if (parsed) ++member_.store().stats().gets_fail;
      if (parsed && parsed->wait) co_return co_await watch(stream, *parsed, meta);
      if (!parsed) {
        response = api::keys_error_response(parsed.error(), cluster_id_, meta);
      } else {
        response = co_await keys(*parsed, meta);
      }
    } else if (routed.endpoint == api::Endpoint::Health) {
      response = api::health_response(co_await member_healthy(member_), meta);
    } else if (routed.endpoint == api::Endpoint::MemberAdd ||
               routed.endpoint == api::Endpoint::MemberRemove ||
               routed.endpoint == api::Endpoint::MemberUpdate) {
      response = co_await change_members(routed, request, meta);
    } else {
      response = serve(routed, request, meta);
    }
  }
  const bool written = co_await write_message(stream, response);
  co_return written&& response.keep_alive();
}

asio::awaitable<void> ApiHandler::handle_broken_body(beast::tcp_stream& stream, Request header,
                                                     std::string_view go_error) {
  // Go reports a body it cannot read where the handler reads it: the keys handler's form parsing
  // turns it into error 210 (pinned by the differential test "malformed_requests").
  header.keep_alive(false);
  const common::WallTime now = member_.clock().wall_now();
  api::Route route = api::route(header, cluster_id_, now);
  const auto* routed = std::get_if<api::Routed>(&route);
  const std::string_view method = header.method_string();
  if (routed != nullptr && routed->endpoint == api::Endpoint::Keys &&
      (method == "PUT" || method == "POST" || method == "PATCH")) {
    auto response = api::keys_error_response(
        store::Error{
            .code = store::ErrorCode::InvalidForm, .cause = std::string(go_error), .index = 0},
        cluster_id_, api::response_meta(header, now));
    co_await write_message(stream, response);
    co_return;
  }
  co_await write_protocol_error(stream, "400 Bad Request", "400 Bad Request");
}

asio::awaitable<api::Response> ApiHandler::keys(const api::KeysRequest& keys,
                                                const api::ResponseMeta& meta) {
  // etcd answers errors that are not the store's with index 0 (cluster_clients_test
  // "unavailable"), and holds a request made during an election until a leader is elected.
  const store::Error timed_out{
      .code = store::ErrorCode::RaftInternal, .cause = "etcdserver: request timed out", .index = 0};
  if ((keys.is_write() || keys.quorum) && !co_await wait_for_leader(member_)) {
    co_return api::keys_error_response(timed_out, cluster_id_, meta);
  }
  if (keys.is_write()) {
    auto result = co_await member_.write(api::make_write_command(keys, member_.clock().wall_now()));
    if (!result) co_return api::keys_error_response(result.error(), cluster_id_, meta);
    co_return api::keys_event_response(*result, keys.no_value_on_success, cluster_id_,
                                       raft_position(), meta);
  }
  // quorum=true: linearizable through ReadIndex; a plain read is served from the local store.
  if (keys.quorum && !co_await member_.read_barrier()) {
    co_return api::keys_error_response(timed_out, cluster_id_, meta);
  }
  auto result =
      member_.store().get(keys.key, keys.recursive, keys.sorted, member_.clock().wall_now());
  co_await member_.wait_durable();
  if (!result) co_return api::keys_error_response(result.error(), cluster_id_, meta);
  co_return api::keys_event_response(*result, false, cluster_id_, raft_position(), meta);
}

asio::awaitable<bool> ApiHandler::watch(beast::tcp_stream& stream, const api::KeysRequest& keys,
                                        const api::ResponseMeta& meta) {
  watch_streams_.inc();
  auto channel = std::make_shared<EventChannel>(stream.get_executor(), kWatchQueueEvents);
  const bool streaming = keys.stream;
  auto sink = [weak = std::weak_ptr<EventChannel>(channel), streaming](const store::Event& event) {
    const std::shared_ptr<EventChannel> open = weak.lock();
    if (!open || !open->is_open()) return false;
    if (!open->try_send(boost::system::error_code{}, event)) {
      open->close();  // the client is too slow: end its answer after what it has queued
      return false;
    }
    return streaming;
  };
  auto started = member_.store().watch(keys.key, keys.recursive, keys.stream, keys.wait_index,
                                       std::move(sink));
  co_await member_.wait_durable();
  if (!started) {
    auto response = api::keys_error_response(started.error(), cluster_id_, meta);
    co_return co_await write_message(stream, response) && response.keep_alive();
  }
  const store::WatchId id = started->id;
  if (started->event) channel->try_send(boost::system::error_code{}, *started->event);

  // etcd flushes the header as soon as the watcher is registered (behaviour item 28).
  auto header = api::keys_watch_header(started->etcd_index, cluster_id_, raft_position(), meta);
  http::response_serializer<http::empty_body> serializer(header);
  stream.expires_after(kWriteTimeout);
  auto [header_ec, header_bytes] = co_await http::async_write_header(stream, serializer, kAwait);
  stream.expires_never();
  bool healthy = !header_ec;
  while (healthy) {
    // Waiting for an event, a readable socket means the client closed (or broke the protocol by
    // sending during a watch): either way the watch ends.
    auto next = co_await (channel->async_receive(kAwait) ||
                          stream.socket().async_wait(asio::socket_base::wait_read, kAwait));
    if (next.index() == 1) {
      healthy = false;
      break;
    }
    auto [ec, event] = std::get<0>(std::move(next));
    if (ec) break;  // closed: the watcher was dropped for falling behind
    co_await member_.wait_durable();
    std::string body = api::render_event(event);
    healthy = co_await write_raw(stream, http::make_chunk(asio::buffer(body)));
    if (!streaming) break;
  }
  if (id != 0) member_.store().cancel_watch(id);
  channel->close();
  if (!healthy) co_return false;
  co_return co_await write_raw(stream, http::make_chunk_last()) && meta.keep_alive;
}

api::Response ApiHandler::serve(const api::Routed& routed, const Request& request,
                                const api::ResponseMeta& meta) {
  switch (routed.endpoint) {
    case api::Endpoint::MembersList:
      return api::members_response(members(), cluster_id_, meta);
    case api::Endpoint::MembersLeader:
      return api::members_leader_response(find_member(members(), member_.node().leader()),
                                          cluster_id_, meta);
    case api::Endpoint::Auth:
      return api::auth_disabled_response(request, routed, cluster_id_, meta);
    case api::Endpoint::Machines:
      return api::machines_response(machine_urls(), meta);
    case api::Endpoint::StatsSelf:
      return api::stats_self_response(self_stats(), meta);
    case api::Endpoint::StatsLeader:
      return leader_stats(meta);
    case api::Endpoint::StatsStore:
      return api::stats_store_response(member_.store().stats(), meta);
    case api::Endpoint::Version:
      return api::version_response(kServerVersion, kClusterVersion, meta);
    case api::Endpoint::Metrics:
      return api::metrics_response(metrics_.render(), meta);
    case api::Endpoint::V3Gateway:
      // etcd's v3 gateway answers paths it does not know with its own plain 404.
      return api::plain_error_response(404, "Not Found", "", meta);
    default:
      return api::plain_error_response(404, "404 page not found", "", meta);
  }
}

asio::awaitable<api::Response> ApiHandler::change_members(const api::Routed& routed,
                                                          const Request& request,
                                                          const api::ResponseMeta& meta) {
  // etcd reads the body before it looks the member up (pinned by the differential test).
  MembershipChange change{
      .type = raft::pb::ConfChangeRemoveNode, .id = routed.member_id, .peer_urls = {}};
  if (routed.endpoint != api::Endpoint::MemberRemove) {
    auto peer_urls = api::parse_member_peer_urls(request.body());
    if (!peer_urls) {
      co_return api::members_error_response(400, peer_urls.error().message, cluster_id_, meta);
    }
    change.peer_urls = std::move(*peer_urls);
    change.type = raft::pb::ConfChangeUpdateNode;
  }
  if (routed.endpoint == api::Endpoint::MemberAdd) {
    // etcd's id for a member added at runtime: its peer URLs, no cluster token, and the time.
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(
        member_.clock().wall_now().time_since_epoch());
    change.type = raft::pb::ConfChangeAddNode;
    change.id = compute_member_id(change.peer_urls, "", seconds.count());
  }
  const api::Member added{
      .id = change.id, .name = {}, .peer_urls = change.peer_urls, .client_urls = {}};
  auto done = co_await member_.change_membership(std::move(change));
  if (!done) co_return membership_error(routed, added.id, done.error(), meta);
  if (routed.endpoint == api::Endpoint::MemberAdd) {
    co_return api::member_created_response(added, cluster_id_, meta);
  }
  co_return api::members_no_content_response(cluster_id_, meta);
}

api::Response ApiHandler::membership_error(const api::Routed& routed, std::uint64_t id,
                                           MembershipError error,
                                           const api::ResponseMeta& meta) const {
  // etcd's members handler maps only some errors per method; the rest are 500 Internal Server
  // Error (for example ErrIDRemoved on an update).
  const api::Endpoint endpoint = routed.endpoint;
  switch (error) {
    case MembershipError::IdExists:
      if (endpoint == api::Endpoint::MemberAdd) {
        return api::members_error_response(409, "membership: ID exists", cluster_id_, meta);
      }
      break;
    case MembershipError::PeerUrlExists:
      if (endpoint != api::Endpoint::MemberRemove) {
        return api::members_error_response(409, "membership: peerURL exists", cluster_id_, meta);
      }
      break;
    case MembershipError::IdRemoved:
      if (endpoint == api::Endpoint::MemberRemove) {
        return api::members_error_response(410, "Member permanently removed: " + format_id(id),
                                           cluster_id_, meta);
      }
      break;
    case MembershipError::IdNotFound:
      if (endpoint != api::Endpoint::MemberAdd) {
        return api::members_error_response(404, "No such member: " + format_id(id), cluster_id_,
                                           meta);
      }
      break;
    default:
      break;
  }
  return api::members_error_response(500, "Internal Server Error", cluster_id_, meta);
}

std::vector<std::string> ApiHandler::machine_urls() const {
  std::vector<std::string> urls;
  for (api::Member& member : members()) {
    for (std::string& url : member.client_urls) urls.push_back(std::move(url));
  }
  std::sort(urls.begin(), urls.end());  // etcd sorts them
  return urls;
}

std::vector<api::Member> ApiHandler::members() const {
  return cluster_members(member_.store(), member_.node().conf_state());
}

api::Response ApiHandler::leader_stats(const api::ResponseMeta& meta) const {
  const raft::Status status = member_.node().status();
  if (status.role != raft::Role::Leader) return api::stats_leader_response(std::nullopt, meta);
  std::vector<std::uint64_t> ids;
  for (const auto& [id, progress] : status.progress) {
    if (id != member_id_) ids.push_back(id);
  }
  api::LeaderStats stats{.leader_id = member_id_, .followers = peer_stats_.followers(ids)};
  return api::stats_leader_response(std::move(stats), meta);
}

api::SelfStats ApiHandler::self_stats() const {
  const common::WallTime now = member_.clock().wall_now();
  api::SelfStats stats{
      .name = config_.name,
      .id = member_id_,
      .state = role_of(member_.node().role()),
      .start_time = start_time_,
      .leader_id = member_.node().leader(),
      .leader_uptime_ns =
          std::chrono::duration_cast<std::chrono::nanoseconds>(now - start_time_).count(),
      .leader_start_time = start_time_,
  };
  peer_stats_.fill_self(stats);
  return stats;
}

api::RaftPosition ApiHandler::raft_position() const {
  return api::RaftPosition{.index = member_.raft_applied(), .term = member_.node().term()};
}

}  // namespace discovery::server
