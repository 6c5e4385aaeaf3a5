#include "raft/node.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <tuple>

#include "raft/memory_storage.h"
#include "raft/test_cluster.h"

namespace raft {
namespace {

class Election : public testing::TestWithParam<uint64_t> {};

TEST_P(Election, OneLeaderIsElectedAndAllFollowIt) {
  Network net(GetParam());
  const uint64_t leader = net.tick_until_leader();
  ASSERT_NE(leader, kNone);
  net.tick(5);
  EXPECT_EQ(net.leader(), leader);
  for (uint64_t id = 1; id <= GetParam(); ++id) {
    EXPECT_EQ(net.node(id).leader(), leader) << id;
    EXPECT_EQ(net.node(id).term(), net.node(leader).term()) << id;
  }
}

TEST_P(Election, NewLeaderAfterTheLeaderIsIsolatedAndOneLeaderPerTerm) {
  Network net(GetParam());
  uint64_t leader = net.tick_until_leader();
  ASSERT_NE(leader, kNone);
  // The network checks one leader per term after every Ready; isolate leaders repeatedly.
  for (int round = 0; round < 6; ++round) {
    net.isolate(leader);
    uint64_t next = kNone;
    for (int i = 0; i < 200 && (next == kNone || next == leader); ++i) {
      net.tick(1);
      for (uint64_t id = 1; id <= GetParam(); ++id) {
        if (id != leader && net.node(id).role() == Role::Leader) next = id;
      }
    }
    ASSERT_NE(next, kNone) << "round " << round;
    EXPECT_GT(net.node(next).term(), net.node(leader).term());
    net.heal();
    net.tick(30);
    leader = net.leader();
    ASSERT_NE(leader, kNone);
  }
}

INSTANTIATE_TEST_SUITE_P(Sizes, Election, testing::Values(3u, 5u));

TEST(PreVote, AnIsolatedMemberDoesNotRaiseTheTermOrDisruptOnRejoin) {
  Network net(3);
  ASSERT_TRUE(net.node(1).campaign());
  net.stabilize();
  ASSERT_EQ(net.leader(), 1u);
  const uint64_t term = net.node(1).term();
  net.isolate(3);
  net.tick(100);  // member 3 times out again and again
  EXPECT_EQ(net.node(3).term(), term);
  net.heal();
  net.tick(30);
  EXPECT_EQ(net.leader(), 1u);
  EXPECT_EQ(net.node(1).term(), term);
  EXPECT_EQ(net.node(3).leader(), 1u);
}

TEST(PreVote, WithoutItTheIsolatedMemberDisruptsTheCluster) {
  // The counterpart that shows the test above can fail: the same run without pre-vote.
  Config config;
  config.pre_vote = false;
  Network net(3, config);
  ASSERT_TRUE(net.node(1).campaign());
  net.stabilize();
  const uint64_t term = net.node(1).term();
  net.isolate(3);
  net.tick(100);
  EXPECT_GT(net.node(3).term(), term);
  net.heal();
  net.tick(30);
  EXPECT_GT(net.node(1).term(), term);
}

TEST(CheckQuorum, AnIsolatedLeaderStepsDown) {
  Network net(3);
  ASSERT_TRUE(net.node(1).campaign());
  net.stabilize();
  ASSERT_EQ(net.leader(), 1u);
  net.isolate(1);
  net.tick(25);  // more than two election timeouts
  EXPECT_NE(net.node(1).role(), Role::Leader);
  EXPECT_EQ(net.node(1).propose("x").error(), Error::ProposalDropped);
}

TEST(CheckQuorum, WithoutItAnIsolatedLeaderStays) {
  Config config;
  config.check_quorum = false;
  Network net(3, config);
  ASSERT_TRUE(net.node(1).campaign());
  net.stabilize();
  net.isolate(1);
  net.tick(25);
  EXPECT_EQ(net.node(1).role(), Role::Leader);
}

TEST(CheckQuorum, FollowersInALeaseIgnoreVoteRequests) {
  Config config;
  config.pre_vote = false;
  Network net(3, config);
  ASSERT_TRUE(net.node(1).campaign());
  net.stabilize();
  const uint64_t term = net.node(1).term();
  pb::Message vote;
  vote.set_type(pb::MsgVote);
  vote.set_from(3);
  vote.set_to(2);
  vote.set_term(term + 5);
  vote.set_index(100);
  vote.set_log_term(term + 4);
  ASSERT_TRUE(net.node(2).step(vote));
  EXPECT_EQ(net.node(2).term(), term);
  EXPECT_EQ(net.node(2).leader(), 1u);
}

class Replication : public testing::TestWithParam<uint64_t> {};

TEST_P(Replication, ProposalsCommitAndApplyInOrderOnAll) {
  Network net(GetParam());
  const uint64_t leader = net.tick_until_leader();
  ASSERT_NE(leader, kNone);
  const uint64_t follower = leader == 1 ? 2 : 1;
  std::map<uint64_t, std::vector<std::string>> proposed;  // proposer -> its proposals in order
  for (int i = 0; i < 20; ++i) {
    // Alternate the leader and a follower (which forwards) as the proposer.
    const uint64_t proposer = i % 2 == 0 ? leader : follower;
    const std::string data = "v" + std::to_string(i);
    ASSERT_TRUE(net.node(proposer).propose(data));
    proposed[proposer].push_back(data);
    if (i % 3 == 0) net.stabilize();  // some proposals batched, some one by one
  }
  net.stabilize();
  const std::vector<std::string>& order = net.applied(leader);
  ASSERT_EQ(order.size(), 20u);
  for (uint64_t id = 1; id <= GetParam(); ++id) EXPECT_EQ(net.applied(id), order) << id;
  // Each proposer's entries are applied in the order it proposed them.
  for (const auto& [proposer, values] : proposed) {
    std::vector<std::string> seen;
    for (const std::string& v : order) {
      if (std::find(values.begin(), values.end(), v) != values.end()) seen.push_back(v);
    }
    EXPECT_EQ(seen, values) << proposer;
  }
}

TEST_P(Replication, CommitsOnAMajorityOnly) {
  Network net(GetParam());
  ASSERT_TRUE(net.node(1).campaign());
  net.stabilize();
  ASSERT_EQ(net.leader(), 1u);
  const uint64_t majority = GetParam() / 2 + 1;
  std::set<uint64_t> with_leader;
  for (uint64_t id = 1; id < majority; ++id) with_leader.insert(id);  // one short of a majority
  std::set<uint64_t> rest;
  for (uint64_t id = majority; id <= GetParam(); ++id) rest.insert(id);
  net.partition({with_leader, rest});
  ASSERT_TRUE(net.node(1).propose("a"));
  net.stabilize();
  EXPECT_TRUE(net.applied(1).empty());
  with_leader.insert(majority);  // now a majority
  rest.erase(majority);
  net.partition({with_leader, rest});
  net.tick(2);  // a heartbeat response makes the leader resend
  EXPECT_EQ(net.applied(1), std::vector<std::string>{"a"});
  EXPECT_EQ(net.applied(majority), std::vector<std::string>{"a"});
  if (!rest.empty()) {
    EXPECT_TRUE(net.applied(*rest.begin()).empty());
  }
}

INSTANTIATE_TEST_SUITE_P(Sizes, Replication, testing::Values(3u, 5u));

TEST(Replication, DivergentUncommittedEntriesAreReplacedByTheNewLeaders) {
  Network net(5);
  ASSERT_TRUE(net.node(1).campaign());
  net.stabilize();
  ASSERT_TRUE(net.node(1).propose("common"));
  net.stabilize();
  // The old leader with member 2 accepts proposals that can never commit...
  net.partition({{1, 2}, {3, 4, 5}});
  for (const std::string& data : strings("lost", 40)) ASSERT_TRUE(net.node(1).propose(data));
  net.stabilize();
  // ...while the majority elects a new leader and commits its own.
  uint64_t leader = kNone;
  for (int i = 0; i < 200 && leader == kNone; ++i) {
    net.tick(1);
    for (uint64_t id : {3, 4, 5}) {
      if (net.node(id).role() == Role::Leader) leader = id;
    }
  }
  ASSERT_NE(leader, kNone);
  const std::vector<std::string> kept = strings("kept", 30);
  for (const std::string& data : kept) ASSERT_TRUE(net.node(leader).propose(data));
  net.stabilize();
  net.heal();
  net.tick(30);
  std::vector<std::string> expected{"common"};
  expected.insert(expected.end(), kept.begin(), kept.end());
  for (uint64_t id = 1; id <= 5; ++id) {
    EXPECT_EQ(net.applied(id), expected) << id;
    EXPECT_EQ(net.node(id).log().last_index(), net.node(leader).log().last_index()) << id;
  }
}

TEST(Replication, ALaggingFollowerCatchesUpAfterThePartitionHeals) {
  Network net(3);
  ASSERT_TRUE(net.node(1).campaign());
  net.stabilize();
  net.isolate(3);
  const std::vector<std::string> data = strings("x", 50);
  for (const std::string& d : data) ASSERT_TRUE(net.node(1).propose(d));
  net.stabilize();
  EXPECT_TRUE(net.applied(3).empty());
  net.heal();
  net.tick(5);
  EXPECT_EQ(net.applied(3), data);
}

TEST(Replication, MessagesRespectTheSizeLimit) {
  Config config;
  config.max_size_per_msg = 300;
  Network net(3, config);
  ASSERT_TRUE(net.node(1).campaign());
  net.stabilize();
  net.isolate(3);
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(net.node(1).propose(std::string(50, 'a')));
  net.stabilize();
  net.delivered().clear();
  net.heal();
  net.tick(5);
  EXPECT_EQ(net.applied(3).size(), 30u);
  size_t appends = 0;
  for (const pb::Message& m : net.delivered()) {
    if (m.type() != pb::MsgApp || m.entries_size() <= 1) continue;
    ++appends;
    uint64_t bytes = 0;
    for (const pb::Entry& e : m.entries()) bytes += e.ByteSizeLong();
    EXPECT_LE(bytes, config.max_size_per_msg);
  }
  EXPECT_GT(appends, 3u);  // the catch-up was split into several messages
}

TEST(Replication, UncommittedLogIsBounded) {
  Config config;
  config.max_uncommitted_bytes = 100;
  Network net(3, config);
  ASSERT_TRUE(net.node(1).campaign());
  net.stabilize();
  net.partition({{1}, {2, 3}});
  EXPECT_TRUE(net.node(1).propose(std::string(60, 'a')));
  EXPECT_EQ(net.node(1).propose(std::string(60, 'b')).error(), Error::UncommittedTooLarge);
  net.heal();
  net.tick(2);
  EXPECT_EQ(net.applied(2).size(), 1u);
  EXPECT_TRUE(net.node(1).propose(std::string(60, 'c')));  // committed bytes no longer count
}

TEST(Commit, OnlyEntriesOfTheCurrentTermCommitByCounting) {
  MemoryStorage storage;
  pb::Entry old_entry;
  old_entry.set_index(1);
  old_entry.set_term(1);
  storage.append({old_entry});
  pb::HardState hs;
  hs.set_term(1);
  storage.set_hard_state(hs);
  Config config;
  config.id = 1;
  config.voters = {1, 2, 3};
  config.pre_vote = false;
  Node node(config, storage);
  ASSERT_TRUE(node.campaign());
  ASSERT_TRUE(node.step(response(pb::MsgVoteResp, 2, 2)));
  ASSERT_EQ(node.role(), Role::Leader);
  persist(node, storage);
  ASSERT_EQ(node.log().last_index(), 2u);  // the no-op of term 2
  // Member 2 holds the old entry: a majority has index 1, but it is of term 1.
  ASSERT_TRUE(node.step(response(pb::MsgAppResp, 2, 2, 1)));
  EXPECT_EQ(node.log().committed(), 0u);
  ASSERT_TRUE(node.step(response(pb::MsgAppResp, 2, 2, 2)));
  EXPECT_EQ(node.log().committed(), 2u);
}

TEST(FastBackOff, TheLeaderSkipsTheFollowersWholeDivergentTerm) {
  MemoryStorage storage;
  std::vector<uint64_t> terms{1, 1};
  terms.resize(50, 3);  // indexes 3..50 of term 3
  fill(storage, terms, 3);
  Node node(manual_config(1), storage);
  ASSERT_TRUE(node.campaign());
  ASSERT_TRUE(node.step(response(pb::MsgVoteResp, 2, 4)));
  ASSERT_EQ(node.role(), Role::Leader);
  persist(node, storage);
  // Member 2 holds term-2 entries after index 2: it rejects the probe at 50 and says so.
  pb::Message reject = response(pb::MsgAppResp, 2, 4, 50);
  reject.set_reject(true);
  reject.set_reject_hint(50);
  reject.set_log_term(2);
  ASSERT_TRUE(node.step(reject));
  std::vector<pb::Message> sent;
  persist(node, storage, &sent);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].type(), pb::MsgApp);
  EXPECT_EQ(sent[0].index(), 2u);  // straight to the last entry of a term both may share
}

TEST(FastBackOff, TheFollowerHintsPastItsHigherTermEntries) {
  MemoryStorage storage;
  std::vector<uint64_t> terms{1, 1};
  terms.resize(60, 5);  // indexes 3..60 of term 5, from a leader that never committed them
  fill(storage, terms, 5);
  Node node(manual_config(2), storage);
  pb::Message append = response(pb::MsgApp, 1, 6, 60);
  append.set_to(2);
  append.set_log_term(3);
  ASSERT_TRUE(node.step(append));
  std::vector<pb::Message> sent;
  persist(node, storage, &sent);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_TRUE(sent[0].reject());
  EXPECT_EQ(sent[0].reject_hint(), 2u);
  EXPECT_EQ(sent[0].log_term(), 1u);
}

TEST(Election, AVoteGoesOnlyToACandidateWithAnUpToDateLog) {
  MemoryStorage storage;
  fill(storage, {1, 2}, 2);
  Node node(manual_config(2), storage);
  uint64_t term = 2;  // each request in a new term, so that an earlier vote does not count
  for (auto [index, log_term, granted] :
       {std::tuple<uint64_t, uint64_t, bool>{1, 2, false}, {5, 1, false}, {2, 2, true}}) {
    pb::Message vote = response(pb::MsgVote, 3, ++term, index);
    vote.set_to(2);
    vote.set_log_term(log_term);
    ASSERT_TRUE(node.step(vote));
    std::vector<pb::Message> sent;
    persist(node, storage, &sent);
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0].reject(), !granted) << index << "/" << log_term;
  }
}

TEST(ReadyContract, AVoteIsInTheHardStateOfTheReadyThatSendsIt) {
  MemoryStorage storage;
  Config config;
  config.id = 2;
  config.voters = {1, 2, 3};
  Node node(config, storage);
  persist(node, storage);
  pb::Message vote = response(pb::MsgVote, 1, 1);
  vote.set_to(2);
  ASSERT_TRUE(node.step(vote));
  ASSERT_TRUE(node.has_ready());
  Ready rd = node.ready();
  ASSERT_TRUE(rd.hard_state);
  EXPECT_EQ(rd.hard_state->vote(), 1u);
  EXPECT_EQ(rd.hard_state->term(), 1u);
  ASSERT_EQ(rd.messages.size(), 1u);
  EXPECT_EQ(rd.messages[0].type(), pb::MsgVoteResp);
  EXPECT_FALSE(rd.messages[0].reject());
  node.advance(rd);
  EXPECT_FALSE(node.has_ready());
  // A second candidate of the same term is refused: one vote per term.
  pb::Message other = response(pb::MsgVote, 3, 1);
  other.set_to(2);
  ASSERT_TRUE(node.step(other));
  rd = node.ready();
  ASSERT_EQ(rd.messages.size(), 1u);
  EXPECT_TRUE(rd.messages[0].reject());
}

TEST(Restart, ANodeResumesFromItsStorage) {
  Network net(3);
  ASSERT_TRUE(net.node(1).campaign());
  net.stabilize();
  ASSERT_TRUE(net.node(1).propose("a"));
  net.stabilize();
  Config config;
  config.id = 2;
  config.voters = {1, 2, 3};
  Node restarted(config, net.storage(2));
  EXPECT_EQ(restarted.term(), net.node(2).term());
  EXPECT_EQ(restarted.log().last_index(), net.node(2).log().last_index());
  EXPECT_EQ(restarted.log().committed(), net.storage(2).hard_state().commit());
}

TEST(Chaos, RandomPartitionsAndProposalsKeepSafetyAndHealedProgress) {
  // Seeded and deterministic: the network checks safety after every Ready.
  for (uint64_t size : {3u, 5u}) {
    Network net(size);
    std::mt19937_64 rng(size * 1000 + 7);
    int proposals = 0;
    for (int round = 0; round < 40; ++round) {
      std::vector<std::set<uint64_t>> groups(2);
      for (uint64_t id = 1; id <= size; ++id) groups[rng() % 2].insert(id);
      net.partition(groups);
      for (int i = 0; i < 10; ++i) {
        const uint64_t proposer = rng() % size + 1;
        if (net.node(proposer).propose("p" + std::to_string(proposals))) ++proposals;
        net.tick(static_cast<int>(rng() % 3));
        if (HasFatalFailure()) return;
      }
    }
    net.heal();
    const uint64_t leader = net.tick_until_leader();
    ASSERT_NE(leader, kNone);
    ASSERT_TRUE(net.node(leader).propose("final"));
    net.tick(20);
    for (uint64_t id = 1; id <= size; ++id) {
      EXPECT_EQ(net.applied(id), net.applied(leader)) << id;
      ASSERT_FALSE(net.applied(id).empty());
      EXPECT_EQ(last(net.applied(id)), "final");
    }
  }
}

// The leader's own disk write in parallel with replication: its MsgApp may go out before it
// persists, but it counts itself toward commit only once advance() reports its entries persisted.
TEST(ReadyContract, TheLeaderSendsBeforePersistingAndCountsItselfOnlyAfter) {
  MemoryStorage storage;
  Node node(manual_config(1), storage);
  ASSERT_TRUE(node.campaign());
  ASSERT_TRUE(node.step(response(pb::MsgVoteResp, 2, 1)));
  ASSERT_EQ(node.role(), Role::Leader);
  Ready first = node.ready();
  EXPECT_FALSE(first.may_send_before_persisting);  // the term and vote changed with it
  storage.set_hard_state(*first.hard_state);
  storage.append(first.entries);
  node.advance(first);
  // Follower 2 acknowledges the no-op; the leader persisted it too: committed.
  ASSERT_TRUE(node.step(response(pb::MsgAppResp, 2, 1, 1)));
  ASSERT_EQ(node.log().committed(), 1u);
  persist(node, storage);

  ASSERT_TRUE(node.propose("x"));
  Ready rd = node.ready();
  EXPECT_TRUE(rd.may_send_before_persisting);
  ASSERT_EQ(rd.entries.size(), 1u);
  size_t appends = 0;
  for (const pb::Message& m : rd.messages) appends += m.type() == pb::MsgApp;
  EXPECT_GE(appends, 1u);
  // One follower acknowledges before the leader's write is done: 1 of 3 is no quorum.
  ASSERT_TRUE(node.step(response(pb::MsgAppResp, 2, 1, 2)));
  EXPECT_EQ(node.log().committed(), 1u);
  storage.append(rd.entries);
  node.advance(rd);  // the local append acknowledgement
  EXPECT_EQ(node.log().committed(), 2u);
}

TEST(ReadyContract, AReadyWithAVoteMustBePersistedBeforeSending) {
  MemoryStorage storage;
  Node node(manual_config(2), storage);
  pb::Message vote = response(pb::MsgVote, 1, 1);
  vote.set_to(2);
  ASSERT_TRUE(node.step(vote));
  EXPECT_FALSE(node.ready().may_send_before_persisting);
}

TEST(ReadyContractDeathTest, ASecondReadyBeforeAdvanceIsABrokenContract) {
  MemoryStorage storage;
  Node node(manual_config(1), storage);
  ASSERT_TRUE(node.campaign());
  Ready rd = node.ready();
  EXPECT_DEATH((void)node.ready(), "before advance");
  node.advance(rd);
}

TEST(ReadyContract, CommittedEntriesPerReadyAreBounded) {
  Config config;
  config.max_committed_bytes_per_ready = 64;
  Network net(1, config);
  ASSERT_TRUE(net.node(1).campaign());
  net.stabilize();
  for (const std::string& s : strings(std::string(20, 'x'), 10)) {
    ASSERT_TRUE(net.node(1).propose(s));
  }
  size_t readies = 0;
  size_t applied = 0;
  Node& node = net.node(1);
  while (node.has_ready()) {
    Ready rd = node.ready();
    net.storage(1).append(rd.entries);
    if (rd.hard_state) net.storage(1).set_hard_state(*rd.hard_state);
    uint64_t bytes = 0;
    for (const pb::Entry& e : rd.committed_entries) bytes += e.ByteSizeLong();
    if (rd.committed_entries.size() > 1) {
      EXPECT_LE(bytes, 64u);
    }
    applied += rd.committed_entries.size();
    readies += !rd.committed_entries.empty();
    node.advance(rd);
  }
  EXPECT_EQ(applied, 10u);
  EXPECT_GE(readies, 4u);
}

TEST(Replication, AnUnreachableFollowerIsProbedInsteadOfStreamedTo) {
  Network net(3);
  ASSERT_TRUE(net.node(1).campaign());
  net.stabilize();
  ASSERT_EQ(net.node(1).status().progress.at(2).state, Progress::State::Replicate);
  net.node(1).report_unreachable(2);
  EXPECT_EQ(net.node(1).status().progress.at(2).state, Progress::State::Probe);
  net.isolate(2);
  for (const std::string& s : strings("a", 5)) ASSERT_TRUE(net.node(1).propose(s));
  net.stabilize();
  // One probe is outstanding and unanswered: no window of MsgApps was streamed into the void.
  EXPECT_EQ(net.node(1).status().progress.at(2).state, Progress::State::Probe);
  net.heal();
  net.tick(2);
  EXPECT_EQ(net.applied(2).size(), 5u);
}

TEST(Status, ReportsTheMembersView) {
  Network net(3);
  ASSERT_TRUE(net.node(1).campaign());
  net.stabilize();
  ASSERT_TRUE(net.node(1).propose("x"));
  net.stabilize();
  const Status leader = net.node(1).status();
  EXPECT_EQ(leader.id, 1u);
  EXPECT_EQ(leader.role, Role::Leader);
  EXPECT_EQ(leader.leader, 1u);
  EXPECT_EQ(leader.vote, 1u);
  EXPECT_EQ(leader.commit, 2u);
  EXPECT_EQ(leader.applied, 2u);
  EXPECT_EQ(leader.conf_state.voters_size(), 3);
  ASSERT_EQ(leader.progress.size(), 3u);
  for (const auto& [id, member] : leader.progress) {
    EXPECT_EQ(member.match, 2u) << id;
    EXPECT_EQ(member.next, 3u) << id;
    if (id != 1) {
      EXPECT_EQ(member.state, Progress::State::Replicate) << id;
    }
  }
  const Status follower = net.node(2).status();
  EXPECT_EQ(follower.role, Role::Follower);
  EXPECT_EQ(follower.leader, 1u);
  EXPECT_EQ(follower.commit, 2u);
  EXPECT_TRUE(follower.progress.empty());
}

}  // namespace
}  // namespace raft
