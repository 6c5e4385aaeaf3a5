#include "sqlproxy/health/health_tracker.h"

#include <gtest/gtest.h>

namespace sqlproxy::health {
namespace {

using namespace std::chrono_literals;

Sample synced() {
  Sample s;
  s.wsrep_local_state = LocalState::Synced;
  s.wsrep_local_state_comment = "Synced";
  s.wsrep_cluster_status = "Primary";
  s.wsrep_ready = true;
  s.wsrep_connected = true;
  s.wsrep_cluster_state_uuid = "u1";
  return s;
}

Sample failed() {
  Sample s;
  s.probe_error = "connect: refused";
  return s;
}

Sample desynced() {
  Sample s = synced();
  s.wsrep_local_state = LocalState::DonorDesynced;
  s.wsrep_desync = true;
  return s;
}

Sample read_only() {
  Sample s = synced();
  s.read_only = true;
  return s;
}

class TrackerTest : public testing::Test {
 protected:
  // Feeds one sample 250 ms after the previous one; returns the published state.
  State feed(const Sample& sample) {
    now_ += 250ms;
    changed_ = tracker_.observe(sample, now_);
    return tracker_.health().state;
  }

  HealthTracker tracker_{TrackerConfig{{}, 3, 3, 0ms, 0ms}};
  common::SteadyTime now_{};
  bool changed_ = false;
};

TEST_F(TrackerTest, StartsOfflineAndTakesTheFirstSampleAsItIs) {
  EXPECT_EQ(tracker_.health().state, State::Offline);
  EXPECT_EQ(tracker_.health().reason, "no probe yet");
  EXPECT_EQ(feed(synced()), State::Writable);
  EXPECT_TRUE(changed_);
  EXPECT_EQ(tracker_.since(), now_);
}

TEST_F(TrackerTest, OfflineOnlyAfterNConsecutiveFailures) {
  feed(synced());
  const auto writable_since = tracker_.since();
  EXPECT_EQ(feed(failed()), State::Writable);
  EXPECT_EQ(feed(failed()), State::Writable);
  EXPECT_FALSE(changed_);
  EXPECT_EQ(tracker_.consecutive_failures(), 2);
  EXPECT_EQ(tracker_.last_ok_sample().wsrep_cluster_state_uuid, "u1");
  EXPECT_EQ(feed(failed()), State::Offline);
  EXPECT_TRUE(changed_);
  EXPECT_EQ(tracker_.health().reason, "3 consecutive probes failed, last: connect: refused");
  EXPECT_GT(tracker_.since(), writable_since);
}

TEST_F(TrackerTest, ASuccessResetsTheFailureCount) {
  feed(synced());
  feed(failed());
  feed(failed());
  EXPECT_EQ(feed(synced()), State::Writable);
  EXPECT_EQ(tracker_.consecutive_failures(), 0);
  feed(failed());
  EXPECT_EQ(feed(failed()), State::Writable);
  EXPECT_EQ(feed(failed()), State::Offline);
}

TEST_F(TrackerTest, FailuresBeforeAnySuccessAreOfflineAtOnce) {
  EXPECT_EQ(feed(failed()), State::Offline);
  EXPECT_EQ(tracker_.health().reason, "probe failed: connect: refused");
}

TEST_F(TrackerTest, WorseStatesArePublishedAtOnce) {
  feed(synced());
  EXPECT_EQ(feed(desynced()), State::Draining);
  EXPECT_TRUE(changed_);
  feed(synced());  // back to writable needs K samples; start over from a writable node:
  HealthTracker tracker({{}, 3, 3, 0ms, 0ms});
  tracker.observe(synced(), now_);
  tracker.observe(read_only(), now_ + 1ms);
  EXPECT_EQ(tracker.health().state, State::ReadOnly);
}

TEST_F(TrackerTest, ComingBackNeedsKConsecutiveHealthySamples) {
  feed(synced());
  feed(failed());
  feed(failed());
  feed(failed());
  ASSERT_EQ(tracker_.health().state, State::Offline);
  const auto offline_since = tracker_.since();
  EXPECT_EQ(feed(synced()), State::Offline);
  EXPECT_EQ(tracker_.health().reason, "recovering: 1/3 healthy samples (synced)");
  EXPECT_EQ(feed(synced()), State::Offline);
  EXPECT_FALSE(changed_);
  EXPECT_EQ(feed(synced()), State::Writable);
  EXPECT_EQ(tracker_.health().reason, "synced");
  EXPECT_TRUE(changed_);
  EXPECT_EQ(tracker_.since(), offline_since + 750ms);
}

TEST_F(TrackerTest, AFailureOrWorseSampleRestartsTheRecoveryStreak) {
  feed(synced());
  feed(desynced());
  feed(synced());
  feed(synced());
  EXPECT_EQ(feed(desynced()), State::Draining);  // streak broken
  feed(synced());
  feed(synced());
  EXPECT_EQ(feed(failed()), State::Draining);  // one failure is tolerated but breaks the streak
  feed(synced());
  feed(synced());
  EXPECT_EQ(feed(synced()), State::Writable);
}

TEST_F(TrackerTest, ReadOnlyToWritableIsAnUpgradeToo) {
  feed(read_only());
  EXPECT_EQ(feed(synced()), State::ReadOnly);
  EXPECT_EQ(feed(synced()), State::ReadOnly);
  EXPECT_EQ(feed(synced()), State::Writable);
}

TEST_F(TrackerTest, RecoveringToReadOnlyPublishesTheLatestSample) {
  feed(synced());
  feed(desynced());
  feed(read_only());
  feed(synced());
  EXPECT_EQ(feed(read_only()), State::ReadOnly);
  EXPECT_EQ(tracker_.health().reason, "read_only=ON");
}

TEST(TrackerSuspect, AnUnreachableNodeStaysSuspectAfterItAnswersAgain) {
  HealthTracker tracker({{}, 2, 3, 5000ms});
  common::SteadyTime now{};
  auto feed = [&](const Sample& sample, std::chrono::milliseconds after) {
    now += after;
    tracker.observe(sample, now);
    return tracker.health().state;
  };
  feed(synced(), 0ms);
  feed(failed(), 250ms);
  EXPECT_EQ(feed(failed(), 250ms), State::Offline);
  const auto last_failure = now;
  // Frozen node resumed: it answers with a stale Synced/Primary at once. K samples are not
  // enough while the suspect period runs.
  for (int i = 0; i < 18; ++i) EXPECT_EQ(feed(synced(), 250ms), State::Offline) << i;
  EXPECT_EQ(now - last_failure, 4500ms);
  EXPECT_EQ(feed(synced(), 250ms), State::Offline);  // 4750 ms
  EXPECT_EQ(tracker.health().reason, "recovering: suspect for 5000 ms after being unreachable");
  EXPECT_EQ(feed(synced(), 250ms), State::Writable);  // 5000 ms
}

TEST(TrackerSuspect, AStaleViewWaitsForThePeersConfId) {
  HealthTracker tracker({{}, 2, 2, 0ms});
  common::SteadyTime now{};
  Sample before = synced();
  before.wsrep_cluster_conf_id = 7;
  before.wsrep_cluster_size = 3;
  tracker.observe(before, now);
  tracker.observe(failed(), now += 250ms);
  tracker.observe(failed(), now += 250ms);
  ASSERT_EQ(tracker.health().state, State::Offline);
  // Resumed: it still reports view 7 while the peers installed view 8 without it.
  for (int i = 0; i < 20; ++i) tracker.observe(before, now += 250ms, /*peers_conf_id=*/8);
  EXPECT_EQ(tracker.health().state, State::Offline);
  EXPECT_EQ(tracker.health().reason,
            "recovering: stale view (wsrep_cluster_conf_id 7 < 8 of the others)");
  Sample rejoined = before;
  rejoined.wsrep_cluster_conf_id = 9;
  tracker.observe(rejoined, now += 250ms, 9);
  EXPECT_EQ(tracker.health().state, State::Offline);  // K = 2 samples
  tracker.observe(rejoined, now += 250ms, 9);
  EXPECT_EQ(tracker.health().state, State::Writable);
  // A usable node is never demoted because a peer saw a newer view first.
  tracker.observe(rejoined, now += 250ms, 10);
  EXPECT_EQ(tracker.health().state, State::Writable);
}

Sample transfer_donor() {
  Sample s = synced();
  s.wsrep_local_state = LocalState::DonorDesynced;
  s.wsrep_local_state_comment = "Donor/Desynced";
  return s;
}

TEST(TrackerDonor, AShortDonationKeepsTheNodeUsable) {
  HealthTracker tracker({{}, 3, 3, 0ms, 3000ms});
  common::SteadyTime now{};
  tracker.observe(synced(), now);
  for (int i = 0; i < 11; ++i) {  // an IST donation seen for 2500 ms
    EXPECT_FALSE(tracker.observe(transfer_donor(), now += 250ms)) << i;
  }
  EXPECT_EQ(tracker.health().state, State::Writable);
  EXPECT_EQ(tracker.health().reason, "state-transfer donor for 2500 ms (grace 3000 ms)");
  tracker.observe(synced(), now += 250ms);
  EXPECT_EQ(tracker.health().state, State::Writable);
  // A new donation starts a new grace period.
  for (int i = 0; i < 11; ++i) tracker.observe(transfer_donor(), now += 250ms);
  EXPECT_EQ(tracker.health().state, State::Writable);
}

TEST(TrackerDonor, ALongDonationDrains) {
  HealthTracker tracker({{}, 3, 3, 0ms, 3000ms});
  common::SteadyTime now{};
  tracker.observe(synced(), now);
  for (int i = 0; i < 12; ++i) tracker.observe(transfer_donor(), now += 250ms);  // 0..2750 ms
  EXPECT_EQ(tracker.health().state, State::Writable);
  EXPECT_TRUE(tracker.observe(transfer_donor(), now += 250ms));  // 3000 ms after the first
  EXPECT_EQ(tracker.health().state, State::Draining);
  EXPECT_EQ(tracker.health().reason, "donor (allow_donor off) for 3000 ms");
}

TEST(TrackerDonor, DesyncAndRejectingDonorsDrainAtOnce) {
  HealthTracker tracker({{}, 3, 3, 0ms, 3000ms});
  common::SteadyTime now{};
  tracker.observe(synced(), now);
  tracker.observe(desynced(), now += 250ms);
  EXPECT_EQ(tracker.health().state, State::Draining);
  HealthTracker rejecting({{}, 3, 3, 0ms, 3000ms});
  rejecting.observe(synced(), now);
  Sample donor = transfer_donor();
  donor.wsrep_sst_donor_rejects_queries = true;
  rejecting.observe(donor, now += 250ms);
  EXPECT_EQ(rejecting.health().state, State::Draining);
}

TEST(TrackerSuspect, ToleratedFailuresDoNotMakeANodeSuspect) {
  HealthTracker tracker({{}, 3, 2, 5000ms});
  common::SteadyTime now{};
  tracker.observe(synced(), now);
  tracker.observe(desynced(), now += 250ms);
  tracker.observe(failed(), now += 250ms);  // one failure while draining: tolerated
  tracker.observe(synced(), now += 250ms);
  tracker.observe(synced(), now += 250ms);
  EXPECT_EQ(tracker.health().state, State::Writable);
}

}  // namespace
}  // namespace sqlproxy::health
