// PeerStats: the /v2/stats counters, rates and follower latencies, on a ManualClock.

#include "discovery/server/peer_stats.h"

#include <gtest/gtest.h>

namespace discovery::server {
namespace {

using std::chrono::milliseconds;

raft::pb::Message message(raft::pb::MessageType type, std::uint64_t to) {
  raft::pb::Message made;
  made.set_type(type);
  made.set_to(to);
  made.set_from(1);
  made.set_term(2);
  return made;
}

TEST(PeerStatsTest, ReceivedAppendsAreCountedWithRatesOverTheLastSecond) {
  common::ManualClock clock;
  PeerStats stats(clock);
  stats.on_receive(message(raft::pb::MsgHeartbeat, 7));  // not an append
  const raft::pb::Message append = message(raft::pb::MsgApp, 7);
  for (int i = 0; i < 5; ++i) {
    stats.on_receive(append);
    clock.advance(milliseconds{100});
  }
  api::SelfStats self;
  stats.fill_self(self);
  EXPECT_EQ(self.recv_append_request_cnt, 5u);
  EXPECT_EQ(self.send_append_request_cnt, 0u);
  // Five samples 400 ms apart from first to last.
  EXPECT_DOUBLE_EQ(self.recv_pkg_rate, 5 / 0.4);
  EXPECT_DOUBLE_EQ(self.recv_bandwidth_rate,
                   5.0 * static_cast<double>(append.ByteSizeLong()) / 0.4);
  EXPECT_EQ(self.send_pkg_rate, 0);
  clock.advance(milliseconds{1001});  // the newest sample is over a second old: no rate
  stats.fill_self(self);
  EXPECT_EQ(self.recv_append_request_cnt, 5u);
  EXPECT_EQ(self.recv_pkg_rate, 0);
  EXPECT_EQ(self.recv_bandwidth_rate, 0);
}

TEST(PeerStatsTest, ASingleSampleHasNoRate) {
  common::ManualClock clock;
  PeerStats stats(clock);
  stats.on_send_append(PeerStats::append_of(message(raft::pb::MsgApp, 7)), milliseconds{1});
  api::SelfStats self;
  stats.fill_self(self);
  EXPECT_EQ(self.send_append_request_cnt, 1u);
  EXPECT_EQ(self.send_pkg_rate, 0);
}

TEST(PeerStatsTest, RatesUseOnlyTheLastTwoHundredSamples) {
  common::ManualClock clock;
  PeerStats stats(clock);
  for (int i = 0; i < 300; ++i) {
    stats.on_send_append(PeerStats::Append{.to = 7, .bytes = 10}, milliseconds{0});
    clock.advance(milliseconds{1});
  }
  api::SelfStats self;
  stats.fill_self(self);
  EXPECT_EQ(self.send_append_request_cnt, 300u);
  EXPECT_DOUBLE_EQ(self.send_pkg_rate, 200 / 0.199);
  EXPECT_DOUBLE_EQ(self.send_bandwidth_rate, 2000 / 0.199);
}

TEST(PeerStatsTest, FollowerLatenciesAndCounts) {
  common::ManualClock clock;
  PeerStats stats(clock);
  stats.on_send_append(PeerStats::Append{.to = 7, .bytes = 1}, milliseconds{1});
  stats.on_send_append(PeerStats::Append{.to = 7, .bytes = 1}, milliseconds{3});
  stats.on_unreachable(7);
  stats.on_unreachable(9);
  const std::vector<api::FollowerStats> followers = stats.followers({7, 8, 9});
  ASSERT_EQ(followers.size(), 3u);
  EXPECT_EQ(followers[0].id, 7u);
  EXPECT_DOUBLE_EQ(followers[0].latency_current, 3);
  EXPECT_DOUBLE_EQ(followers[0].latency_average, 2);
  EXPECT_DOUBLE_EQ(followers[0].latency_standard_deviation, 1);
  EXPECT_DOUBLE_EQ(followers[0].latency_minimum, 1);
  EXPECT_DOUBLE_EQ(followers[0].latency_maximum, 3);
  EXPECT_EQ(followers[0].success, 2u);
  EXPECT_EQ(followers[0].fail, 1u);
  EXPECT_EQ(followers[1].id, 8u);  // never sent to: zero figures
  EXPECT_EQ(followers[1].success, 0u);
  EXPECT_EQ(followers[1].latency_maximum, 0);
  EXPECT_EQ(followers[2].fail, 1u);
  EXPECT_EQ(followers[2].success, 0u);
}

}  // namespace
}  // namespace discovery::server
