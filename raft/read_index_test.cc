// ReadIndex: linearizable reads confirmed by a quorum heartbeat round, from the leader and from
// followers; never from a leader that lost its quorum.
#include <gtest/gtest.h>

#include "raft/test_cluster.h"

namespace raft {
namespace {

Network elected(uint64_t size, Config config = {}) {
  Network net(size, config);
  EXPECT_TRUE(net.node(1).campaign());
  net.stabilize();
  EXPECT_EQ(net.leader(), 1u);
  return net;
}

TEST(ReadIndex, TheLeaderAnswersAtItsCommitIndexAfterAQuorumRound) {
  Network net = elected(3);
  ASSERT_TRUE(net.node(1).propose("x"));
  net.stabilize();
  net.delivered().clear();
  ASSERT_TRUE(net.node(1).read_index("r1"));
  net.stabilize();
  ASSERT_EQ(net.read_states(1).size(), 1u);
  EXPECT_EQ(net.read_states(1)[0].context, "r1");
  EXPECT_EQ(net.read_states(1)[0].index, net.node(1).log().committed());
  size_t confirmations = 0;
  for (const pb::Message& m : net.delivered()) {
    confirmations += m.type() == pb::MsgHeartbeatResp && m.context() == "r1";
  }
  EXPECT_GE(confirmations, 1u);
}

TEST(ReadIndex, AFollowerGetsTheReadIndexFromTheLeader) {
  Network net = elected(3);
  ASSERT_TRUE(net.node(1).propose("x"));
  net.stabilize();
  ASSERT_TRUE(net.node(2).read_index("f"));
  net.stabilize();
  ASSERT_EQ(net.read_states(2).size(), 1u);
  EXPECT_EQ(net.read_states(2)[0].index, net.node(1).log().committed());
  EXPECT_TRUE(net.read_states(1).empty());
}

// Without check-quorum the cut-off leader believes it leads: only the quorum round stops it from
// answering a read that would miss the new leader's writes.
TEST(ReadIndex, APartitionedOldLeaderNeverAnswers) {
  for (bool check_quorum : {false, true}) {
    Config config;
    config.check_quorum = check_quorum;
    Network net = elected(3, config);
    net.isolate(1);
    ASSERT_TRUE(net.node(1).read_index("stale"));
    uint64_t leader = kNone;
    for (int i = 0; i < 100 && (leader == kNone || leader == 1); ++i) {
      net.tick(1);
      for (uint64_t id : {2u, 3u}) {
        if (net.node(id).role() == Role::Leader) leader = id;
      }
    }
    ASSERT_TRUE(leader == 2 || leader == 3);
    ASSERT_TRUE(net.node(leader).propose("new"));
    net.tick(20);
    EXPECT_TRUE(net.read_states(1).empty()) << check_quorum;
    net.heal();
    net.tick(20);
    EXPECT_TRUE(net.read_states(1).empty()) << check_quorum;
    // A read after the heal goes to the new leader and sees its write.
    ASSERT_TRUE(net.node(1).read_index("fresh"));
    net.stabilize();
    ASSERT_EQ(net.read_states(1).size(), 1u);
    EXPECT_GE(net.read_states(1)[0].index, net.node(leader).log().committed());
  }
}

TEST(ReadIndex, ANewLeaderWaitsForItsFirstCommit) {
  Network net(3);
  net.set_drop([](const pb::Message& m) { return m.type() == pb::MsgAppResp; });
  ASSERT_TRUE(net.node(1).campaign());
  net.stabilize();
  ASSERT_EQ(net.leader(), 1u);
  ASSERT_EQ(net.node(1).log().committed(), 0u);
  ASSERT_TRUE(net.node(1).read_index("r"));
  net.stabilize();
  EXPECT_TRUE(net.read_states(1).empty());
  net.set_drop(nullptr);
  net.tick(1);
  ASSERT_EQ(net.read_states(1).size(), 1u);
  EXPECT_EQ(net.read_states(1)[0].index, 1u);  // the no-op of its term
}

TEST(ReadIndex, ASingleMemberAnswersAtOnce) {
  Network net = elected(1);
  ASSERT_TRUE(net.node(1).read_index("solo"));
  net.stabilize();
  ASSERT_EQ(net.read_states(1).size(), 1u);
  EXPECT_EQ(net.read_states(1)[0].index, 1u);
}

TEST(ReadIndex, ALostAcknowledgementIsMadeGoodByTheNextHeartbeat) {
  Network net = elected(3);
  net.set_drop([](const pb::Message& m) { return m.type() == pb::MsgHeartbeatResp; });
  ASSERT_TRUE(net.node(1).read_index("r"));
  net.stabilize();
  EXPECT_TRUE(net.read_states(1).empty());
  net.set_drop(nullptr);
  net.tick(1);
  EXPECT_EQ(net.read_states(1).size(), 1u);
}

TEST(ReadIndex, PendingReadsAreBounded) {
  Config config;
  config.max_pending_reads = 2;
  Network net = elected(3, config);
  net.isolate(1);
  EXPECT_TRUE(net.node(1).read_index("a"));
  EXPECT_TRUE(net.node(1).read_index("b"));
  EXPECT_EQ(net.node(1).read_index("c").error(), Error::ReadIndexQueueFull);
  EXPECT_EQ(Network(3).node(1).read_index("x").error(), Error::ProposalDropped);  // no leader
}

}  // namespace
}  // namespace raft
