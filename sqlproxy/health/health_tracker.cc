#include "sqlproxy/health/health_tracker.h"

#include <fmt/format.h>

#include <utility>

#include "common/check.h"

namespace sqlproxy::health {
namespace {

bool is_usable(State state) { return state == State::Writable || state == State::ReadOnly; }

}  // namespace

HealthTracker::HealthTracker(TrackerConfig config) : config_(config) {
  CHECK(config_.offline_after_failures >= 1, "offline_after_failures {}",
        config_.offline_after_failures);
  CHECK(config_.recover_after_samples >= 1, "recover_after_samples {}",
        config_.recover_after_samples);
}

bool HealthTracker::publish(NodeHealth health, common::SteadyTime now) {
  const bool changed = health.state != health_.state || !observed_;
  if (changed) since_ = now;
  health_ = std::move(health);
  observed_ = true;
  better_streak_ = 0;
  return changed;
}

bool HealthTracker::observe(const Sample& sample, common::SteadyTime now,
                            std::int64_t peers_conf_id) {
  last_sample_ = sample;
  const bool first = !observed_;
  if (!sample.ok()) {
    ++failures_;
    better_streak_ = 0;
    if (first || health_.state == State::Offline) {
      last_unreachable_ = now;
      return publish(classify(sample, config_.classifier), now);
    }
    if (failures_ < config_.offline_after_failures) return false;
    last_unreachable_ = now;
    return publish({State::Offline, fmt::format("{} consecutive probes failed, last: {}", failures_,
                                                *sample.probe_error)},
                   now);
  }
  failures_ = 0;
  last_ok_sample_ = sample;
  NodeHealth health = classify(sample, config_.classifier);
  if (!transfer_donor_only(sample)) donor_since_.reset();
  if (!first && health.state < health_.state && is_usable(health_.state) &&
      transfer_donor_only(sample)) {
    if (!donor_since_) donor_since_ = now;
    if (now - *donor_since_ < config_.donor_grace) return false;
    health.reason = fmt::format(
        "{} for {} ms", health.reason,
        std::chrono::duration_cast<std::chrono::milliseconds>(now - *donor_since_).count());
  }
  if (first || health.state <= health_.state) return publish(std::move(health), now);
  // Better than published: wait for K consecutive better samples before trusting it, and for
  // the suspect period after the node was last unreachable.
  if (sample.wsrep_cluster_conf_id < peers_conf_id) {  // a stale view is no healthy sample
    better_streak_ = 0;
    return false;
  }
  if (++better_streak_ < config_.recover_after_samples) return false;
  if (last_unreachable_ && now - *last_unreachable_ < config_.suspect_after_unreachable) {
    return false;
  }
  last_unreachable_.reset();
  return publish(std::move(health), now);
}

}  // namespace sqlproxy::health
