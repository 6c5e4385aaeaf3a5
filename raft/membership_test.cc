// Membership changes: one at a time, new members as learners until caught up, removal of
// followers and of the leader.
#include <gtest/gtest.h>

#include <algorithm>

#include "raft/test_cluster.h"

namespace raft {
namespace {

pb::ConfChange change(pb::ConfChangeType type, uint64_t id) {
  pb::ConfChange cc;
  cc.set_type(type);
  cc.set_node_id(id);
  return cc;
}

bool has(const google::protobuf::RepeatedField<uint64_t>& ids, uint64_t id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

Network elected(uint64_t size, Config config = {}) {
  Network net(size, config);
  EXPECT_TRUE(net.node(1).campaign());
  net.stabilize();
  EXPECT_EQ(net.leader(), 1u);
  return net;
}

TEST(Membership, AnAddedMemberIsALearnerUntilCaughtUpThenTheLeaderPromotesIt) {
  Network net = elected(3);
  for (const std::string& s : strings("a", 30)) ASSERT_TRUE(net.node(1).propose(s));
  net.stabilize();
  net.add(4, {1, 2, 3}, {4});
  net.isolate(4);  // it cannot catch up yet
  ASSERT_TRUE(net.node(1).propose_conf_change(change(pb::ConfChangeAddNode, 4)));
  net.tick(3);
  for (uint64_t id = 1; id <= 3; ++id) {
    const pb::ConfState conf = net.node(id).conf_state();
    EXPECT_TRUE(has(conf.learners(), 4)) << id;
    EXPECT_FALSE(has(conf.voters(), 4)) << id;
  }
  net.heal();
  net.tick(3);
  for (uint64_t id = 1; id <= 4; ++id) {
    const pb::ConfState conf = net.node(id).conf_state();
    EXPECT_TRUE(has(conf.voters(), 4)) << id;
    EXPECT_EQ(conf.learners_size(), 0) << id;
  }
  EXPECT_EQ(net.applied(4), net.applied(1));
  // Four voters: quorum is three, so 1 and 4 alone cannot commit.
  net.partition({{1, 4}, {2, 3}});
  ASSERT_TRUE(net.node(1).propose("x"));
  net.stabilize();
  EXPECT_EQ(last(net.applied(4)), "a29");
}

TEST(Membership, ASilentNewMemberIsNotPromotedEvenWithAShortLog) {
  Config config;
  config.promotion_max_lag = 100;  // far more than the log holds
  Network net = elected(3, config);
  net.add(4, {1, 2, 3}, {4});
  net.isolate(4);
  ASSERT_TRUE(net.node(1).propose_conf_change(change(pb::ConfChangeAddNode, 4)));
  net.tick(5);
  EXPECT_TRUE(has(net.node(1).conf_state().learners(), 4));
  net.heal();
  net.tick(3);
  EXPECT_TRUE(has(net.node(1).conf_state().voters(), 4));
}

TEST(Membership, ARepeatedAddDoesNotPromoteALaggingLearner) {
  Network net = elected(3);
  for (const std::string& s : strings("a", 30)) ASSERT_TRUE(net.node(1).propose(s));
  net.stabilize();
  net.add(4, {1, 2, 3}, {4});
  net.isolate(4);
  ASSERT_TRUE(net.node(1).propose_conf_change(change(pb::ConfChangeAddNode, 4)));
  net.stabilize();
  ASSERT_TRUE(net.node(1).propose_conf_change(change(pb::ConfChangeAddNode, 4)));  // a retry
  net.stabilize();
  EXPECT_TRUE(has(net.node(1).conf_state().learners(), 4));
  EXPECT_EQ(net.node(1).propose_conf_change(change(pb::ConfChangePromoteNode, 4)).error(),
            Error::ConfChangeInvalid);
}

TEST(Membership, ALearnerNeverCampaignsNorCountsTowardQuorum) {
  Network net = elected(3);
  net.add(4, {1, 2, 3}, {4});
  ASSERT_TRUE(net.node(1).propose_conf_change(change(pb::ConfChangeAddLearnerNode, 4)));
  net.tick(5);
  EXPECT_TRUE(has(net.node(1).conf_state().learners(), 4));  // never promoted
  const uint64_t term = net.node(1).term();
  net.isolate(4);
  net.tick(100);
  EXPECT_EQ(net.node(4).term(), term);
  EXPECT_EQ(net.node(4).role(), Role::Follower);
  net.partition({{1, 4}, {2, 3}});
  ASSERT_TRUE(net.node(1).propose("x"));
  net.stabilize();
  EXPECT_TRUE(net.applied(1).empty());  // 1 and the learner are not a quorum of {1, 2, 3}
}

TEST(Membership, OnlyOneChangeIsPendingAtATime) {
  Network net = elected(3);
  net.add(4, {1, 2, 3}, {4});
  net.add(5, {1, 2, 3}, {5});
  ASSERT_TRUE(net.node(1).propose_conf_change(change(pb::ConfChangeAddLearnerNode, 4)));
  EXPECT_EQ(net.node(1).propose_conf_change(change(pb::ConfChangeAddLearnerNode, 5)).error(),
            Error::ConfChangePending);
  net.stabilize();  // committed and applied
  EXPECT_TRUE(net.node(1).propose_conf_change(change(pb::ConfChangeAddLearnerNode, 5)));
  net.stabilize();
  EXPECT_EQ(net.node(1).conf_state().learners_size(), 2);
}

TEST(Membership, AChangeIsPendingUntilCommittedAndApplied) {
  Network net = elected(3);
  net.partition({{1}, {2, 3}});
  ASSERT_TRUE(net.node(1).propose_conf_change(change(pb::ConfChangeRemoveNode, 3)));
  net.stabilize();
  EXPECT_EQ(net.node(1).propose_conf_change(change(pb::ConfChangeRemoveNode, 2)).error(),
            Error::ConfChangePending);
  EXPECT_EQ(net.node(1).conf_state().voters_size(), 3);  // not applied anywhere yet
  net.heal();
  net.tick(2);
  EXPECT_EQ(net.node(1).conf_state().voters_size(), 2);
}

TEST(Membership, ARemovedFollowerStopsCampaigningAndTheRestCommit) {
  Network net = elected(3);
  ASSERT_TRUE(net.node(1).propose_conf_change(change(pb::ConfChangeRemoveNode, 3)));
  net.stabilize();
  for (uint64_t id = 1; id <= 3; ++id) EXPECT_EQ(net.node(id).conf_state().voters_size(), 2);
  const uint64_t term = net.node(3).term();
  net.isolate(3);
  net.tick(100);
  EXPECT_EQ(net.node(3).term(), term);
  ASSERT_TRUE(net.node(1).propose("x"));
  net.stabilize();
  EXPECT_EQ(last(net.applied(2)), "x");
}

TEST(Membership, ARemovedLeaderStepsDownAndTheOthersElectANewOne) {
  Network net = elected(3);
  ASSERT_TRUE(net.node(1).propose_conf_change(change(pb::ConfChangeRemoveNode, 1)));
  net.stabilize();
  EXPECT_NE(net.node(1).role(), Role::Leader);
  EXPECT_EQ(net.node(2).conf_state().voters_size(), 2);
  const uint64_t leader = net.tick_until_leader();
  ASSERT_TRUE(leader == 2 || leader == 3) << leader;
  ASSERT_TRUE(net.node(leader).propose("after"));
  net.stabilize();
  EXPECT_EQ(last(net.applied(2)), "after");
  EXPECT_EQ(last(net.applied(3)), "after");
  net.tick(50);
  EXPECT_NE(net.node(1).role(), Role::Leader);
}

TEST(Membership, ANewMemberWithoutConfigurationLearnsItFromTheSnapshot) {
  Network net = elected(3);
  for (const std::string& s : strings("a", 10)) ASSERT_TRUE(net.node(1).propose(s));
  net.stabilize();
  net.add(4, {}, {});
  ASSERT_TRUE(net.node(1).propose_conf_change(change(pb::ConfChangeAddNode, 4)));
  net.tick(5);
  // The leader's log still starts at index 1: replaying it would give member 4 a configuration
  // without the bootstrap voters, so it waits.
  EXPECT_EQ(net.node(4).log().last_index(), 0u);
  EXPECT_EQ(net.node(4).conf_state().voters_size(), 0);
  EXPECT_TRUE(has(net.node(1).conf_state().learners(), 4));  // not promoted
  net.compact(1);
  net.tick(5);
  EXPECT_EQ(net.node(4).conf_state().voters_size(), 4);
  EXPECT_EQ(net.applied(4), net.applied(1));
}

TEST(Membership, InvalidChangesAreRefused) {
  Network net = elected(1);
  EXPECT_EQ(net.node(1).propose_conf_change(change(pb::ConfChangeAddNode, 0)).error(),
            Error::ConfChangeInvalid);
  ASSERT_TRUE(net.node(1).propose_conf_change(change(pb::ConfChangeRemoveNode, 1)));
  net.stabilize();
  EXPECT_EQ(net.node(1).conf_state().voters_size(), 1);  // never leaves no voter
}

}  // namespace
}  // namespace raft
