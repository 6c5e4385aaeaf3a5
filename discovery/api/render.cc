#include "discovery/api/render.h"

#include <fmt/format.h>

#include <algorithm>

namespace discovery::api {
namespace {

void append_field_name(std::string& out, bool& first, std::string_view name) {
  if (!first) out += ',';
  first = false;
  out += '"';
  out += name;  // field names are fixed ASCII identifiers: nothing to escape
  out += "\":";
}

void append_string_list(std::string& out, const std::vector<std::string>& items) {
  out += '[';
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i != 0) out += ',';
    append_json_string(out, items[i]);
  }
  out += ']';
}

// Go's zero time.Time, which etcd shows for a start time it never set.
std::string format_optional_time(const std::optional<WallTime>& t) {
  return t ? format_rfc3339_nano(*t) : "0001-01-01T00:00:00Z";
}

std::string_view role_name(RaftRole role) {
  switch (role) {
    case RaftRole::Follower:
      return "StateFollower";
    case RaftRole::Candidate:
      return "StateCandidate";
    case RaftRole::Leader:
      return "StateLeader";
    case RaftRole::PreCandidate:
      return "StatePreCandidate";
  }
  return "StateFollower";
}

bool hides_nodes(store::Action action) {
  return action == store::Action::Set || action == store::Action::Create ||
         action == store::Action::Update || action == store::Action::CompareAndSwap;
}

}  // namespace

void append_node(std::string& out, const store::NodeView& node) {
  // Every field of etcd's NodeExtern is `omitempty`; the order is the struct's.
  bool first = true;
  out += '{';
  if (!node.key.empty()) {
    append_field_name(out, first, "key");
    append_json_string(out, node.key);
  }
  if (node.dir) {
    append_field_name(out, first, "dir");
    out += "true";
  }
  if (node.value) {
    append_field_name(out, first, "value");
    append_json_string(out, *node.value);
  }
  if (node.expiration) {
    append_field_name(out, first, "expiration");
    out += '"' + format_rfc3339_nano(*node.expiration) + '"';
  }
  if (node.ttl != 0) {
    append_field_name(out, first, "ttl");
    out += std::to_string(node.ttl);
  }
  if (!node.nodes.empty()) {
    append_field_name(out, first, "nodes");
    out += '[';
    for (std::size_t i = 0; i < node.nodes.size(); ++i) {
      if (i != 0) out += ',';
      append_node(out, node.nodes[i]);
    }
    out += ']';
  }
  if (node.modified_index != 0) {
    append_field_name(out, first, "modifiedIndex");
    out += std::to_string(node.modified_index);
  }
  if (node.created_index != 0) {
    append_field_name(out, first, "createdIndex");
    out += std::to_string(node.created_index);
  }
  out += '}';
}

std::string render_event(const store::Event& event, bool no_value_on_success) {
  std::string out = "{\"action\":";
  append_json_string(out, store::action_name(event.action));
  if (!(no_value_on_success && hides_nodes(event.action))) {
    out += ",\"node\":";
    append_node(out, event.node);
    if (event.prev_node) {
      out += ",\"prevNode\":";
      append_node(out, *event.prev_node);
    }
  }
  out += "}\n";
  return out;
}

std::string render_error(const store::Error& error) {
  std::string out = fmt::format("{{\"errorCode\":{},\"message\":", static_cast<int>(error.code));
  append_json_string(out, store::error_message(error.code));
  if (!error.cause.empty()) {
    out += ",\"cause\":";
    append_json_string(out, error.cause);
  }
  out += fmt::format(",\"index\":{}}}\n", error.index);
  return out;
}

std::string render_message_error(std::string_view message) {
  std::string out = "{\"message\":";
  append_json_string(out, message);
  out += '}';
  return out;
}

std::string format_member_id(std::uint64_t id) { return fmt::format("{:x}", id); }

namespace {

void append_member(std::string& out, const Member& member) {
  out += "{\"id\":\"" + format_member_id(member.id) + "\",\"name\":";
  append_json_string(out, member.name);
  out += ",\"peerURLs\":";
  append_string_list(out, member.peer_urls);
  out += ",\"clientURLs\":";
  append_string_list(out, member.client_urls);
  out += '}';
}

}  // namespace

std::string render_members(std::vector<Member> members) {
  std::sort(members.begin(), members.end(),
            [](const Member& a, const Member& b) { return a.id < b.id; });
  std::string out = "{\"members\":[";
  for (std::size_t i = 0; i < members.size(); ++i) {
    if (i != 0) out += ',';
    append_member(out, members[i]);
  }
  out += "]}\n";
  return out;
}

std::string render_member(const Member& member) {
  std::string out;
  append_member(out, member);
  out += '\n';
  return out;
}

std::string render_machines(std::vector<std::string> client_urls) {
  // etcd's cluster.ClientURLs() sorts the URL strings (not the members by id).
  std::sort(client_urls.begin(), client_urls.end());
  std::string out;
  for (std::size_t i = 0; i < client_urls.size(); ++i) {
    if (i != 0) out += ", ";
    out += client_urls[i];
  }
  return out;
}

std::string render_version(std::string_view server_version, std::string_view cluster_version) {
  std::string out = "{\"etcdserver\":";
  append_json_string(out, server_version);
  out += ",\"etcdcluster\":";
  append_json_string(out, cluster_version);
  out += '}';
  return out;
}

std::string render_health(bool healthy) {
  return healthy ? R"({"health":"true"})" : R"({"health":"false"})";
}

std::string render_self_stats(const SelfStats& s) {
  std::string out = "{\"name\":";
  append_json_string(out, s.name);
  out += fmt::format(",\"id\":\"{}\",\"state\":\"{}\",\"startTime\":\"{}\"", format_member_id(s.id),
                     role_name(s.state), format_optional_time(s.start_time));
  // etcd's ServerStats keeps the leader id as a string that is empty until a leader is known.
  out += fmt::format(",\"leaderInfo\":{{\"leader\":\"{}\",\"uptime\":\"{}\",\"startTime\":\"{}\"}}",
                     s.leader_id == 0 ? "" : format_member_id(s.leader_id),
                     format_go_duration(s.leader_uptime_ns),
                     format_optional_time(s.leader_start_time));
  out += fmt::format(",\"recvAppendRequestCnt\":{}", s.recv_append_request_cnt);
  if (s.recv_pkg_rate != 0) out += ",\"recvPkgRate\":" + format_go_float(s.recv_pkg_rate);
  if (s.recv_bandwidth_rate != 0) {
    out += ",\"recvBandwidthRate\":" + format_go_float(s.recv_bandwidth_rate);
  }
  out += fmt::format(",\"sendAppendRequestCnt\":{}", s.send_append_request_cnt);
  if (s.send_pkg_rate != 0) out += ",\"sendPkgRate\":" + format_go_float(s.send_pkg_rate);
  if (s.send_bandwidth_rate != 0) {
    out += ",\"sendBandwidthRate\":" + format_go_float(s.send_bandwidth_rate);
  }
  out += '}';
  return out;
}

std::string render_leader_stats(LeaderStats stats) {
  // Go sorts map keys as strings, so hex ids of different lengths sort lexically.
  std::sort(stats.followers.begin(), stats.followers.end(),
            [](const FollowerStats& a, const FollowerStats& b) {
              return format_member_id(a.id) < format_member_id(b.id);
            });
  std::string out =
      fmt::format("{{\"leader\":\"{}\",\"followers\":{{", format_member_id(stats.leader_id));
  for (std::size_t i = 0; i < stats.followers.size(); ++i) {
    const FollowerStats& f = stats.followers[i];
    if (i != 0) out += ',';
    out += fmt::format(
        "\"{}\":{{\"latency\":{{\"current\":{},\"average\":{},\"standardDeviation\":{},"
        "\"minimum\":{},\"maximum\":{}}},\"counts\":{{\"fail\":{},\"success\":{}}}}}",
        format_member_id(f.id), format_go_float(f.latency_current),
        format_go_float(f.latency_average), format_go_float(f.latency_standard_deviation),
        format_go_float(f.latency_minimum), format_go_float(f.latency_maximum), f.fail, f.success);
  }
  out += "}}";
  return out;
}

std::string render_store_stats(const StoreStats& s) {
  return fmt::format(
      "{{\"getsSuccess\":{},\"getsFail\":{},\"setsSuccess\":{},\"setsFail\":{},"
      "\"deleteSuccess\":{},\"deleteFail\":{},\"updateSuccess\":{},\"updateFail\":{},"
      "\"createSuccess\":{},\"createFail\":{},\"compareAndSwapSuccess\":{},"
      "\"compareAndSwapFail\":{},\"compareAndDeleteSuccess\":{},\"compareAndDeleteFail\":{},"
      "\"expireCount\":{},\"watchers\":{}}}",
      s.gets_success, s.gets_fail, s.sets_success, s.sets_fail, s.delete_success, s.delete_fail,
      s.update_success, s.update_fail, s.create_success, s.create_fail, s.compare_and_swap_success,
      s.compare_and_swap_fail, s.compare_and_delete_success, s.compare_and_delete_fail,
      s.expire_count, s.watchers);
}

}  // namespace discovery::api
