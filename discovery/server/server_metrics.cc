#include "discovery/server/server_metrics.h"

#include <chrono>

namespace discovery::server {

void register_member_metrics(common::metrics::Registry& registry, Member& member,
                             common::WallTime start_time) {
  const std::vector<double> latency_bounds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                              0.01,   0.025,   0.05,   0.1,   0.25,   1};
  member.set_metrics(MemberMetrics{
      .leader_changes = &registry.counter("etcd_server_leader_changes_seen_total",
                                          "The number of leader changes seen."),
      .proposals_failed = &registry.counter("etcd_server_proposals_failed_total",
                                            "The total number of failed proposals seen."),
      .apply_seconds = &registry.histogram(
          "discovery_apply_duration_seconds",
          "Time to apply the committed entries of one raft Ready to the store.", latency_bounds),
      .fsync_seconds = &registry.histogram(
          "etcd_disk_wal_fsync_duration_seconds",
          "The latency distributions of fsync called by the raft loop (one synced batch).",
          latency_bounds),
      .snapshots =
          SnapshotMetrics{
              .taken = &registry.counter("discovery_snapshots_taken_total",
                                         "Raft snapshots this member took of its own state."),
              .installed = &registry.counter(
                  "discovery_snapshots_installed_total",
                  "Raft snapshots received from a leader and installed in place of the state."),
              .seconds = &registry.histogram(
                  "discovery_snapshot_duration_seconds",
                  "Time to take (checkpoint and compact) or install one raft snapshot.",
                  {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60}),
          },
  });
  // Read on the io thread (scrapes run there), like everything of the Member.
  const auto node_value = [&member](auto read) {
    return [&member, read] { return member.started() ? static_cast<double>(read(member)) : 0.0; };
  };
  registry.gauge_callback(
      "etcd_server_has_leader", "Whether or not a leader exists. 1 is existence, 0 is not.",
      node_value([](const Member& m) { return m.node().leader() != raft::kNone ? 1 : 0; }));
  registry.gauge_callback(
      "etcd_server_is_leader", "Whether or not this member is a leader. 1 if is, 0 otherwise.",
      node_value([](const Member& m) { return m.node().role() == raft::Role::Leader ? 1 : 0; }));
  registry.gauge_callback("discovery_raft_term", "The raft term this member is in.",
                          node_value([](const Member& m) { return m.node().term(); }));
  registry.gauge_callback("etcd_server_proposals_committed_total",
                          "The total number of consensus proposals committed.",
                          node_value([](const Member& m) { return m.node().log().committed(); }));
  registry.gauge_callback("etcd_server_proposals_applied_total",
                          "The total number of consensus proposals applied.",
                          node_value([](const Member& m) { return m.raft_applied(); }));
  registry.gauge_callback("discovery_raft_snapshot_index",
                          "The raft index of this member's latest snapshot.",
                          node_value([](const Member& m) { return m.snapshot_index(); }));
  registry.gauge_callback("discovery_raft_log_first_index",
                          "The first raft log entry this member still holds (after compaction).",
                          node_value([](const Member& m) { return m.first_log_index(); }));
  registry.gauge("etcd_server_proposals_pending",
                 "The current number of pending proposals to commit.");
  registry.gauge_callback("discovery_store_watchers", "Watchers registered on this member.",
                          [&member] { return static_cast<double>(member.watcher_count()); });
  const double start_seconds = std::chrono::duration<double>(start_time.time_since_epoch()).count();
  registry
      .gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.")
      .set(start_seconds);
}

}  // namespace discovery::server
