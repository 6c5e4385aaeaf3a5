#include "discovery/server/server_metrics.h"

#include <chrono>

namespace discovery::server {

void register_member_metrics(common::metrics::Registry& registry, const Member& member,
                             common::WallTime start_time) {
  // A single member leads from its first tick, so these are constant until replication exists.
  registry
      .gauge("etcd_server_has_leader", "Whether or not a leader exists. 1 is existence, 0 is not.")
      .set(1);
  registry
      .gauge("etcd_server_is_leader",
             "Whether or not this member is a leader. 1 if is, 0 otherwise.")
      .set(1);
  registry.counter("etcd_server_leader_changes_seen_total", "The number of leader changes seen.")
      .inc();
  registry.gauge("etcd_server_proposals_pending",
                 "The current number of pending proposals to commit.");
  registry.counter("etcd_server_proposals_failed_total",
                   "The total number of failed proposals seen.");
  registry.gauge_callback("etcd_server_proposals_committed_total",
                          "The total number of consensus proposals committed.",
                          [&member] { return static_cast<double>(member.durable_index()); });
  registry.gauge_callback("etcd_server_proposals_applied_total",
                          "The total number of consensus proposals applied.",
                          [&member] { return static_cast<double>(member.applied_index()); });
  registry.gauge_callback("discovery_store_watchers", "Watchers registered on this member.",
                          [&member] { return static_cast<double>(member.watcher_count()); });
  const double start_seconds = std::chrono::duration<double>(start_time.time_since_epoch()).count();
  registry
      .gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.")
      .set(start_seconds);
}

}  // namespace discovery::server
