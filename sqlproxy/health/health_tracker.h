#pragma once
// HealthTracker: the published health of one backend over time. It turns the stream of samples
// into the state routing may act on:
//  - a failed probe turns a node Offline only after `offline_after_failures` consecutive failures
//    (one lost probe on a busy machine is not a dead node);
//  - any other change for the worse (desync, read_only, non-Primary, ...) is published at once,
//    except that a usable node that turns state-transfer donor (and would be usable if donors
//    were allowed) keeps its state for `donor_grace`: a rejoining node's IST makes one synced
//    node donor for about a second, often the writer, and draining it would switch writers on
//    every rejoin; an rsync SST donation lasts longer and then drains;
//  - a change for the better (e.g. Offline -> Writable, Draining -> Writable, ReadOnly ->
//    Writable) is published only after `recover_after_samples` consecutive samples that are all
//    better than the published state;
//  - a node that was published Offline because probes failed (dead, frozen, unreachable) also
//    stays suspect for `suspect_after_unreachable` after its last failed probe: a node resumed
//    after SIGSTOP or a partition reports stale Synced/Primary for 1-6 s while its writes fail
//    (measured on MariaDB 10.11 + Galera 4).
// The very first sample is published as it is (nothing to recover from yet).
// Pure: the caller passes the time. Not thread-safe; HealthMonitor owns one per backend and
// calls it under its lock.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "common/clock.h"
#include "sqlproxy/health/galera_state.h"

namespace sqlproxy::health {

struct TrackerConfig {
  ClassifierConfig classifier;
  int offline_after_failures = 3;  // N >= 1
  int recover_after_samples = 3;   // K >= 1
  std::chrono::milliseconds suspect_after_unreachable{5000};
  std::chrono::milliseconds donor_grace{3000};
};

class HealthTracker {
 public:
  explicit HealthTracker(TrackerConfig config);

  // Feeds the sample taken at `now` (monotonic, non-decreasing across calls). Returns true when
  // the published State changed, and for the first sample (a reason change alone returns false
  // but is kept).
  // `peers_conf_id` is the highest wsrep_cluster_conf_id that the other usable backends of the
  // same cluster state UUID report (-1: none known). A change for the better also waits until
  // this node's conf_id has caught up with it: a node resumed after a freeze or a partition
  // keeps reporting its old view (Synced, Primary, old size and conf_id) until it notices that
  // the others evicted it, which took ~7 s after SIGCONT here. Only upgrades wait for it, so a
  // usable node is never demoted by a peer that saw a view change one probe earlier.
  bool observe(const Sample& sample, common::SteadyTime now, std::int64_t peers_conf_id = -1);

  // Published health; before the first sample: Offline, "no probe yet". While a change is held
  // back (recovery, donor grace) the reason says so, e.g. "recovering: 1/3 healthy samples".
  const NodeHealth& health() const { return health_; }
  // When the published State last changed (the time of the first sample before that).
  common::SteadyTime since() const { return since_; }
  // The latest sample, failed or not.
  const Sample& last_sample() const { return last_sample_; }
  // The latest successful sample (default Sample before the first one): the status fields
  // routing compares (cluster state UUID) stay known while a few probes fail.
  const Sample& last_ok_sample() const { return last_ok_sample_; }
  int consecutive_failures() const { return failures_; }

 private:
  bool publish(NodeHealth health, common::SteadyTime now);
  bool on_failure(const Sample& sample, common::SteadyTime now);
  bool on_success(const Sample& sample, common::SteadyTime now, std::int64_t peers_conf_id);
  // Keeps the published State but says why in its reason (recovering, donor grace); false.
  bool hold(std::string reason);

  TrackerConfig config_;
  NodeHealth health_{State::Offline, "no probe yet"};
  common::SteadyTime since_{};
  Sample last_sample_;
  Sample last_ok_sample_;
  bool observed_ = false;
  int failures_ = 0;
  int better_streak_ = 0;  // consecutive ok samples classified better than health_
  // Time of the last failed probe while published Offline; cleared when the node recovers.
  std::optional<common::SteadyTime> last_unreachable_;
  // Time of the first sample of the current donor episode while published usable.
  std::optional<common::SteadyTime> donor_since_;
};

}  // namespace sqlproxy::health
