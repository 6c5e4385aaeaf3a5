#pragma once
// Response bodies, byte for byte as etcd 3.4.23 writes them. Pure functions over plain values;
// callers (response.h) add status and headers. Thread-safe: no state.
//
// Newline rules (behaviour item 1): keys events and errors and /v2/members(/leader) end in "\n"
// (Go json.Encoder); stats, /version, /v2/machines and the {"message":…} errors do not
// (json.Marshal + Write).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "discovery/api/go_format.h"
#include "discovery/store/error.h"
#include "discovery/store/event.h"
#include "discovery/store/stats.h"

namespace discovery::api {

// {"action":…,"node":…,"prevNode":…}, node fields in etcd order with its omissions (see
// store::NodeView), then "\n". With `no_value_on_success` and a set, create, update or
// compareAndSwap action only {"action":"set"} remains (behaviour item 27).
std::string render_event(const store::Event& event, bool no_value_on_success = false);

// One node object without newline (exposed for tests and for callers that embed nodes).
void append_node(std::string& out, const store::NodeView& node);

// {"errorCode":…,"message":…,"cause":…,"index":…} + "\n"; cause is left out when empty, as
// Go's `omitempty` does. The message comes from store::error_message.
std::string render_error(const store::Error& error);

// {"message":"…"} without newline: the error body of the members and stats handlers.
std::string render_message_error(std::string_view message);

// One cluster member as /v2/members shows it. id is rendered as lowercase hex without leading
// zeros; empty URL lists render as [] (never null).
struct Member {
  std::uint64_t id = 0;
  std::string name;  // empty for a member that was added but has not started
  std::vector<std::string> peer_urls;
  std::vector<std::string> client_urls;
};

// {"members":[…]} + "\n", members sorted by id as etcd's cluster.Members() returns them.
std::string render_members(std::vector<Member> members);
// One member + "\n" (/v2/members/leader, and the 201 answer of a member add).
std::string render_member(const Member& member);

// Lowercase hex, no leading zeros: etcd's types.ID.String().
std::string format_member_id(std::uint64_t id);

// /v2/machines: all members' client URLs, sorted as strings, joined with ", ", no newline.
std::string render_machines(std::vector<std::string> client_urls);

// /version: {"etcdserver":"3.4.23","etcdcluster":"3.4.0"}, no newline. etcd sends
// "not_decided" as the cluster version until the cluster agreed on one.
std::string render_version(std::string_view server_version, std::string_view cluster_version);

// /health: {"health":"true"} or {"health":"false"}, no newline.
std::string render_health(bool healthy);

// /v2/stats/self. Times are rendered with format_rfc3339_nano (UTC, as the Go server shows
// them when TZ is UTC); a nullopt time is Go's zero time "0001-01-01T00:00:00Z". Rates of 0
// are left out (omitempty), exactly as etcd does when no traffic flowed in the last second.
enum class RaftRole { Follower, Candidate, Leader, PreCandidate };
struct SelfStats {
  std::string name;
  std::uint64_t id = 0;
  RaftRole state = RaftRole::Follower;
  std::optional<WallTime> start_time;
  std::uint64_t leader_id = 0;
  std::int64_t leader_uptime_ns = 0;  // now - leader_start_time, as Go's Duration.String()
  std::optional<WallTime> leader_start_time;
  std::uint64_t recv_append_request_cnt = 0;
  double recv_pkg_rate = 0;
  double recv_bandwidth_rate = 0;
  std::uint64_t send_append_request_cnt = 0;
  double send_pkg_rate = 0;
  double send_bandwidth_rate = 0;
};
std::string render_self_stats(const SelfStats& stats);

// /v2/stats/leader on the leader. Latencies are milliseconds as float64.
struct FollowerStats {
  std::uint64_t id = 0;
  double latency_current = 0;
  double latency_average = 0;
  double latency_standard_deviation = 0;
  double latency_minimum = 0;
  double latency_maximum = 0;
  std::uint64_t fail = 0;
  std::uint64_t success = 0;
};
struct LeaderStats {
  std::uint64_t leader_id = 0;
  std::vector<FollowerStats> followers;  // any order; rendered sorted by hex id (Go map order)
};
std::string render_leader_stats(LeaderStats stats);

// /v2/stats/store: the store's per-member counters, in etcd's field order.
// The store keeps these counters itself, in etcd's field order.
using StoreStats = store::Stats;
std::string render_store_stats(const StoreStats& stats);

}  // namespace discovery::api
