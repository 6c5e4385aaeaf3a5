// Seeded chaos over every feature at once: partitions, message loss, restarts, compaction and
// snapshots, membership changes, leadership transfers and reads. The Network checks safety after
// every Ready; this test adds that every read is linearizable and that a healed cluster
// converges. Deterministic: each seed replays exactly.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <random>

#include "raft/test_cluster.h"

namespace raft {
namespace {

class Chaos {
 public:
  Chaos(uint64_t size, uint64_t seed, const Config& config)
      : net_(size, config), rng_(seed), next_id_(size + 1) {
    net_.set_drop(
        [this](const pb::Message&) { return drop_percent_ > 0 && pick(100) < drop_percent_; });
    for (uint64_t id = 1; id <= size; ++id) ids_.push_back(id);
  }

  void run(int rounds) {
    for (int round = 0; round < rounds; ++round) {
      switch (pick(16)) {
        case 0:
          partition();
          break;
        case 1:
          net_.heal();
          break;
        case 2:
          drop_percent_ = pick(2) == 0 ? 0 : pick(30);
          net_.set_shuffle(pick(2) == 0 ? nullptr : &rng_);
          net_.set_defer_leader_writes(pick(2) == 0);
          break;
        case 3:
          if (pick(2) == 0) {
            net_.restart(any());
          } else if (net_.leader() != kNone) {
            net_.crash_after_send(net_.leader());
          }
          break;
        case 4:
          if (net_.applied_index(any()) > 0) compact();
          break;
        case 5:
          change_membership();
          break;
        case 6:
          (void)net_.node(any()).transfer_leadership(any());
          break;
        default:
          client();
          break;
      }
      net_.tick(static_cast<int>(pick(3)));
      net_.delivered().clear();
      check_reads();
      if (testing::Test::HasFatalFailure()) return;
    }
  }

  // Heals everything and requires every member of the configuration to converge.
  void converge() {
    net_.heal();
    drop_percent_ = 0;
    net_.set_shuffle(nullptr);
    const uint64_t leader = net_.tick_until_leader(500);
    ASSERT_NE(leader, kNone);
    bool proposed = false;
    for (int i = 0; i < 50 && !proposed; ++i) {
      proposed = net_.node(net_.leader()).propose("final").has_value();
      net_.tick(1);
    }
    ASSERT_TRUE(proposed);
    net_.tick(40);
    const uint64_t now = net_.leader();
    ASSERT_NE(now, kNone);
    const pb::ConfState conf = net_.node(now).conf_state();
    for (uint64_t id : conf.voters()) {
      EXPECT_EQ(net_.applied(id), net_.applied(now)) << id;
      EXPECT_EQ(last(net_.applied(id)), "final") << id;
    }
    check_reads();
    EXPECT_GT(reads_served_, 0u);
  }

 private:
  uint64_t pick(uint64_t n) { return rng_() % n; }
  uint64_t any() { return ids_[pick(ids_.size())]; }

  void partition() {
    std::vector<std::set<uint64_t>> groups(2);
    for (uint64_t id : ids_) groups[pick(2)].insert(id);
    net_.partition(groups);
  }

  void compact() {
    const uint64_t id = any();
    if (net_.applied_index(id) > net_.storage(id).first_index()) net_.compact(id);
  }

  void client() {
    const uint64_t id = any();
    if (pick(3) == 0) {
      // A read must see every write committed anywhere before it was asked for.
      const std::string context = "read" + std::to_string(reads_.size());
      if (!net_.node(id).read_index(context)) return;
      uint64_t committed = 0;
      for (uint64_t other : ids_)
        committed = std::max(committed, net_.node(other).log().committed());
      reads_.emplace(context, committed);
      return;
    }
    (void)net_.node(id).propose("p" + std::to_string(proposals_++));
  }

  void check_reads() {
    for (uint64_t id : ids_) {
      for (const ReadState& rs : net_.read_states(id)) {
        auto it = reads_.find(rs.context);
        ASSERT_NE(it, reads_.end()) << rs.context;
        EXPECT_GE(rs.index, it->second) << "read " << rs.context << " on " << id << " is stale";
        ++reads_served_;
      }
      net_.read_states(id).clear();
    }
  }

  // Adds a new member (as AddNode: learner, then promoted) or removes a voter, through whoever
  // is leader now; the leader refuses while a change is pending.
  void change_membership() {
    const uint64_t leader = net_.leader();
    if (leader == kNone) return;
    const pb::ConfState conf = net_.node(leader).conf_state();
    pb::ConfChange cc;
    if (conf.voters_size() > 3 && pick(2) == 0) {
      cc.set_type(pb::ConfChangeRemoveNode);
      cc.set_node_id(
          conf.voters(static_cast<int>(pick(static_cast<uint64_t>(conf.voters_size())))));
      (void)net_.node(leader).propose_conf_change(cc);
      return;
    }
    if (conf.voters_size() + conf.learners_size() >= 6) return;
    cc.set_type(pb::ConfChangeAddNode);
    cc.set_node_id(next_id_);
    if (!net_.node(leader).propose_conf_change(cc)) return;
    std::vector<uint64_t> learners(conf.learners().begin(), conf.learners().end());
    learners.push_back(next_id_);
    net_.add(next_id_, {conf.voters().begin(), conf.voters().end()}, learners);
    ids_.push_back(next_id_++);
  }

  Network net_;
  std::mt19937_64 rng_;
  uint64_t next_id_;
  std::vector<uint64_t> ids_;
  uint64_t drop_percent_ = 0;
  int proposals_ = 0;
  std::map<std::string, uint64_t> reads_;  // context -> commit index known when asked
  size_t reads_served_ = 0;
};

// Small limits make batching, flow control and snapshot chunking matter; the variants switch off
// pre-vote and check-quorum, which change the election paths.
std::vector<Config> variants() {
  Config small;
  small.max_size_per_msg = 8;
  small.max_inflight_msgs = 2;
  small.max_snapshot_chunk_bytes = 5;
  small.max_committed_bytes_per_ready = 16;
  Config no_pre_vote;
  no_pre_vote.pre_vote = false;
  Config no_check_quorum;
  no_check_quorum.check_quorum = false;
  return {Config{}, small, no_pre_vote, no_check_quorum};
}

uint64_t seeds() {
  const char* env = std::getenv("RAFT_CHAOS_SEEDS");  // more seeds for a local hunt
  return env != nullptr ? std::strtoull(env, nullptr, 10) : 8;
}

TEST(Chaos, EveryFeatureUnderFaultsKeepsSafetyAndConverges) {
  const std::vector<Config> configs = variants();
  for (size_t variant = 0; variant < configs.size(); ++variant) {
    for (uint64_t size : {3u, 5u}) {
      for (uint64_t seed = 1; seed <= seeds(); ++seed) {
        SCOPED_TRACE("variant " + std::to_string(variant) + " size " + std::to_string(size) +
                     " seed " + std::to_string(seed));
        Chaos chaos(size, seed * 1000 + size, configs[variant]);
        chaos.run(600);
        ASSERT_FALSE(testing::Test::HasFatalFailure());
        chaos.converge();
        ASSERT_FALSE(testing::Test::HasFailure());
      }
    }
  }
}

}  // namespace
}  // namespace raft
