// Leadership transfer (Raft thesis §3.10): the leader brings the target up to date and sends
// MsgTimeoutNow; the target campaigns at once, past pre-vote and the followers' leases.
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

TEST(Transfer, TheTargetTakesOverAtOnceDespitePreVoteAndLeases) {
  Network net = elected(3);  // pre-vote and check-quorum are on
  const uint64_t term = net.node(1).term();
  ASSERT_TRUE(net.node(1).transfer_leadership(2));
  net.stabilize();
  EXPECT_EQ(net.leader(), 2u);
  EXPECT_EQ(net.node(2).term(), term + 1);
  EXPECT_EQ(net.node(3).leader(), 2u);
  ASSERT_TRUE(net.node(2).propose("x"));
  net.stabilize();
  EXPECT_EQ(last(net.applied(1)), "x");
}

TEST(Transfer, ALaggingTargetIsBroughtUpToDateFirst) {
  Network net = elected(3);
  net.isolate(3);
  for (const std::string& s : strings("a", 20)) ASSERT_TRUE(net.node(1).propose(s));
  net.stabilize();
  ASSERT_LT(net.node(3).log().last_index(), net.node(1).log().last_index());
  net.heal();
  ASSERT_TRUE(net.node(1).transfer_leadership(3));
  net.tick(2);
  EXPECT_EQ(net.leader(), 3u);
  EXPECT_EQ(net.applied(3), net.applied(1));
}

TEST(Transfer, ProposalsAreDroppedDuringTheTransferWhichAbortsAfterAnElectionTimeout) {
  Config config;
  Network net = elected(3, config);
  net.isolate(3);
  ASSERT_TRUE(net.node(1).propose("before"));
  net.stabilize();
  ASSERT_TRUE(net.node(1).transfer_leadership(3));
  net.stabilize();
  EXPECT_EQ(net.node(1).status().lead_transferee, 3u);
  EXPECT_EQ(net.node(1).propose("during").error(), Error::ProposalDropped);
  net.tick(config.election_tick);
  EXPECT_EQ(net.node(1).status().lead_transferee, kNone);
  EXPECT_EQ(net.leader(), 1u);
  EXPECT_TRUE(net.node(1).propose("after"));
  net.stabilize();
  EXPECT_EQ(net.applied(2), (std::vector<std::string>{"before", "after"}));
}

TEST(Transfer, AFollowerForwardsTheRequest) {
  Network net = elected(3);
  ASSERT_TRUE(net.node(2).transfer_leadership(3));
  net.stabilize();
  EXPECT_EQ(net.leader(), 3u);
}

TEST(Transfer, OnlyAVoterCanBeTheTarget) {
  Network net = elected(3);
  EXPECT_EQ(net.node(1).transfer_leadership(7).error(), Error::TransferTargetInvalid);
  net.add(4, {1, 2, 3}, {4});
  pb::ConfChange cc;
  cc.set_type(pb::ConfChangeAddLearnerNode);
  cc.set_node_id(4);
  ASSERT_TRUE(net.node(1).propose_conf_change(cc));
  net.stabilize();
  EXPECT_EQ(net.node(1).transfer_leadership(4).error(), Error::TransferTargetInvalid);
  EXPECT_TRUE(net.node(1).transfer_leadership(1));  // already the leader: nothing to do
  EXPECT_EQ(net.leader(), 1u);
}

}  // namespace
}  // namespace raft
