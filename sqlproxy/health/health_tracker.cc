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
  if (!sample.ok()) return on_failure(sample, now);
  failures_ = 0;
  last_ok_sample_ = sample;
  return on_success(sample, now, peers_conf_id);
}

bool HealthTracker::on_failure(const Sample& sample, common::SteadyTime now) {
  ++failures_;
  better_streak_ = 0;
  if (!observed_ || health_.state == State::Offline) {
    last_unreachable_ = now;
    return publish(classify(sample, config_.classifier), now);
  }
  if (failures_ < config_.offline_after_failures) return false;
  last_unreachable_ = now;
  return publish({State::Offline, fmt::format("{} consecutive probes failed, last: {}", failures_,
                                              *sample.probe_error)},
                 now);
}

bool HealthTracker::hold(std::string reason) {
  health_.reason = std::move(reason);
  return false;
}

bool HealthTracker::on_success(const Sample& sample, common::SteadyTime now,
                               std::int64_t peers_conf_id) {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  NodeHealth health = classify(sample, config_.classifier);
  const bool donor = transfer_donor_only(sample);
  if (!donor) donor_since_.reset();
  if (observed_ && donor && health.state < health_.state && is_usable(health_.state)) {
    if (!donor_since_) donor_since_ = now;
    const auto donating = duration_cast<milliseconds>(now - *donor_since_);
    if (donating < config_.donor_grace) {
      return hold(fmt::format("state-transfer donor for {} ms (grace {} ms)", donating.count(),
                              config_.donor_grace.count()));
    }
    health.reason = fmt::format("{} for {} ms", health.reason, donating.count());
  }
  if (!observed_ || health.state <= health_.state) return publish(std::move(health), now);
  // Better than published: trust it only after K consecutive better samples with a current view,
  // and after the suspect period that follows a time of being unreachable.
  if (sample.wsrep_cluster_conf_id < peers_conf_id) {
    better_streak_ = 0;
    return hold(fmt::format("recovering: stale view (wsrep_cluster_conf_id {} < {} of the others)",
                            sample.wsrep_cluster_conf_id, peers_conf_id));
  }
  if (++better_streak_ < config_.recover_after_samples) {
    return hold(fmt::format("recovering: {}/{} healthy samples ({})", better_streak_,
                            config_.recover_after_samples, health.reason));
  }
  if (last_unreachable_ && now - *last_unreachable_ < config_.suspect_after_unreachable) {
    return hold(fmt::format("recovering: suspect for {} ms after being unreachable",
                            config_.suspect_after_unreachable.count()));
  }
  last_unreachable_.reset();
  return publish(std::move(health), now);
}

}  // namespace sqlproxy::health
