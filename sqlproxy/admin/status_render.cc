#include "sqlproxy/admin/status_render.h"

#include <fmt/format.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <string_view>

#include "common/metrics.h"

namespace sqlproxy::admin {

namespace json = boost::json;

std::string_view backend_state_name(BackendState s) {
  switch (s) {
    case BackendState::Writable:
      return "writable";
    case BackendState::ReadableOnly:
      return "readable_only";
    case BackendState::Draining:
      return "draining";
    case BackendState::Offline:
      return "offline";
    case BackendState::Unknown:
      return "unknown";
  }
  return "unknown";
}

std::size_t sessions_of(const SessionCounts& sessions, const std::string& name) {
  const auto it = sessions.find(name);
  return it == sessions.end() ? 0 : it->second;
}

namespace {

// Label values escaped as the text format requires (backslash, double quote, newline).
std::string label(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

json::object backend_json(const BackendStatus& b, std::size_t sessions) {
  json::object o;
  o["name"] = b.name;
  o["address"] = b.address;
  o["state"] = backend_state_name(b.state);
  o["reason"] = b.reason;
  o["writer"] = b.writer;
  o["sessions"] = sessions;
  if (b.last_probe_latency) {
    o["probe_latency_ms"] = static_cast<double>(b.last_probe_latency->count()) / 1000.0;
  } else {
    o["probe_latency_ms"] = nullptr;
  }
  o["probes"] = b.probes_total;
  o["probe_failures"] = b.probe_failures_total;
  json::object details;
  for (const auto& [k, v] : b.details) details[k] = v;
  o["details"] = std::move(details);
  return o;
}

// What sqlproxy knows of its discovery cluster, above all which endpoint it asks now.
json::object discovery_json(const DiscoveryStatus& d) {
  json::object o;
  o["endpoint"] = d.endpoint;
  json::array endpoints;
  for (const std::string& e : d.endpoints) endpoints.emplace_back(e);
  o["endpoints"] = std::move(endpoints);
  o["leader_id"] = d.leader_id.empty() ? json::value(nullptr) : json::value(d.leader_id);
  json::array members;
  for (const DiscoveryMember& m : d.members) {
    json::object member;
    member["id"] = m.id;
    member["name"] = m.name;
    json::array urls;
    for (const std::string& u : m.client_urls) urls.emplace_back(u);
    member["client_urls"] = std::move(urls);
    members.push_back(std::move(member));
  }
  o["members"] = std::move(members);
  o["error"] = d.error;
  return o;
}

}  // namespace

std::string render_status_json(const StatusSnapshot& snapshot, const SessionCounts& sessions) {
  json::object root;
  root["ready"] = !snapshot.writer.empty();
  root["writer"] = snapshot.writer.empty() ? json::value(nullptr) : json::value(snapshot.writer);
  root["writer_reason"] = snapshot.writer_reason;
  root["writer_changes"] = snapshot.writer_changes;
  root["backend_source"] = snapshot.backend_source;
  std::size_t total = 0;
  for (const auto& [name, n] : sessions) total += n;
  root["sessions"] = total;
  json::array backends;
  for (const BackendStatus& b : snapshot.backends) {
    backends.push_back(backend_json(b, sessions_of(sessions, b.name)));
  }
  root["backends"] = std::move(backends);
  if (snapshot.discovery) root["discovery"] = discovery_json(*snapshot.discovery);
  return json::serialize(root) + "\n";
}

std::string render_backend_metrics(const StatusSnapshot& snapshot, const SessionCounts& sessions) {
  using common::metrics::format_value;
  constexpr BackendState kStates[] = {BackendState::Writable, BackendState::ReadableOnly,
                                      BackendState::Draining, BackendState::Offline,
                                      BackendState::Unknown};
  std::string out;
  out += "# HELP sqlproxy_backend_state The control plane's state of each backend (1 = current).\n";
  out += "# TYPE sqlproxy_backend_state gauge\n";
  for (const BackendStatus& b : snapshot.backends) {
    for (BackendState s : kStates) {
      out += fmt::format("sqlproxy_backend_state{{backend=\"{}\",state=\"{}\"}} {}\n",
                         label(b.name), backend_state_name(s), b.state == s ? 1 : 0);
    }
  }
  out += "# HELP sqlproxy_backend_writer 1 for the backend that takes writer-port sessions.\n";
  out += "# TYPE sqlproxy_backend_writer gauge\n";
  for (const BackendStatus& b : snapshot.backends) {
    out += fmt::format("sqlproxy_backend_writer{{backend=\"{}\"}} {}\n", label(b.name),
                       b.writer ? 1 : 0);
  }
  out += "# HELP sqlproxy_backend_sessions Client sessions relayed to each backend now.\n";
  out += "# TYPE sqlproxy_backend_sessions gauge\n";
  for (const BackendStatus& b : snapshot.backends) {
    out += fmt::format("sqlproxy_backend_sessions{{backend=\"{}\"}} {}\n", label(b.name),
                       sessions_of(sessions, b.name));
  }
  out += "# HELP sqlproxy_backend_probe_latency_seconds Duration of the last good probe.\n";
  out += "# TYPE sqlproxy_backend_probe_latency_seconds gauge\n";
  for (const BackendStatus& b : snapshot.backends) {
    if (!b.last_probe_latency) continue;
    out +=
        fmt::format("sqlproxy_backend_probe_latency_seconds{{backend=\"{}\"}} {}\n", label(b.name),
                    format_value(static_cast<double>(b.last_probe_latency->count()) / 1e6));
  }
  out += "# HELP sqlproxy_writer_changes_total Times the writer changed.\n";
  out += "# TYPE sqlproxy_writer_changes_total counter\n";
  out += fmt::format("sqlproxy_writer_changes_total {}\n", snapshot.writer_changes);
  out += "# HELP sqlproxy_has_writer 1 when a writable backend is chosen.\n";
  out += "# TYPE sqlproxy_has_writer gauge\n";
  out += fmt::format("sqlproxy_has_writer {}\n", snapshot.writer.empty() ? 0 : 1);
  return out;
}

}  // namespace sqlproxy::admin
