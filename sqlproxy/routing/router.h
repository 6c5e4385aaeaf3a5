#pragma once
// Writer and reader choice for the proxy: a pure function of the health view, the writer chosen
// last time and the operator's configuration. No I/O, clock or threads, so that every proxy fed
// the same view makes the same choice and tests replay any decision.
//
// Rules, in order:
// 1. Eligible backends are the usable ones (health Writable or ReadOnly; failure counting and
//    hysteresis already happened in health::HealthTracker) that report a cluster state UUID.
// 2. Split brain: backends of different wsrep_cluster_state_uuid belong to different cluster
//    histories (a second cluster bootstrapped by hand, a node restored from another backup) and
//    are never mixed. One group is chosen:
//      a. the previous writer's group, if the previous writer is still eligible (never switch
//         histories under running sessions);
//      b. else the group with the most eligible backends (the Primary component that most nodes
//         agree on);
//      c. ties: the larger reported wsrep_cluster_size, then the smaller UUID string (arbitrary
//         but the same on every proxy).
//    Backends of other groups are neither writer nor reader.
// 3. Writer (exactly one, or none when no backend of the group is Writable):
//      a. config.prefer_writer, when it is Writable in the group (operator's explicit choice);
//      b. the previous writer, when it is Writable in the group and config.failback is off
//         (sticky: a node that comes back, even a "better" one, does not take over; a switch
//         costs a rejoin stall and kills transactions);
//      c. otherwise the first Writable backend in the order: weight descending, then name
//         ascending. config.failback on means this order always decides.
//    With no previous writer (start-up), no writer is chosen while some backend has not been
//    probed yet (BackendStatus::probes == 0): otherwise the first backend to answer would win
//    and stay (sticky), and proxies started together could pick different writers.
// 4. Readers: every eligible backend of the group, in the same order; the writer is included
//    unless config.readers_include_writer is false (and then only when another reader exists).

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sqlproxy/health/cluster_view.h"

namespace sqlproxy::routing {

using ClusterView = health::ClusterView;

struct RoutingConfig {
  std::optional<std::string> prefer_writer;  // backend name ("host:port")
  bool failback = false;                     // true: always the best-ordered writable backend
  bool readers_include_writer = true;
};

struct Decision {
  std::optional<std::string> writer;  // backend name; none when no backend may take writes
  std::vector<std::string> readers;   // in preference order
  std::string reason;                 // one line: why this writer (for the single log line)
  bool writer_changed = false;        // writer != previous_writer
  std::string cluster_state_uuid;     // the group chosen (empty when no backend is eligible)
};

// Decides writer and readers. `previous_writer` is the writer of the last decision (none at
// start or after no writer existed). Deterministic: the result depends only on the arguments,
// never on the order of view.backends.
Decision route(const ClusterView& view, const std::optional<std::string>& previous_writer,
               const RoutingConfig& config);

// Router: route() plus the memory of the previous writer, for the one place that reacts to new
// views. Pure (no I/O or clock). Not thread-safe: owned by whoever receives HealthMonitor views
// (e.g. the server's strand), which then publishes the Decision to sessions.
class Router {
 public:
  explicit Router(RoutingConfig config) : config_(std::move(config)) {}

  // Decides for `view` with the writer of the previous update() as previous writer and keeps
  // the result. Log decision.reason once when decision.writer_changed.
  const Decision& update(const ClusterView& view) {
    decision_ = route(view, decision_.writer, config_);
    return decision_;
  }
  const Decision& decision() const { return decision_; }  // the last one (empty before update)
  const RoutingConfig& config() const { return config_; }

 private:
  RoutingConfig config_;
  Decision decision_;
};

}  // namespace sqlproxy::routing
