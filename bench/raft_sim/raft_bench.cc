// raft_bench: throughput of the raft library alone, a 3-member cluster in one thread with
// in-memory storage and an in-memory network (messages handed over as objects, or serialized and
// parsed again with the wire variant). The leader takes `batch` 100-byte proposals at a time, then
// the cluster runs Readies and deliveries until the leader has committed them all; entries/s is
// the count of committed entries over the wall time. Storage is compacted behind a snapshot every
// 64k entries so memory stays flat. Run: build/bin/raft_bench (bench/raft-sim --throughput).

#include <benchmark/benchmark.h>

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "raft/memory_storage.h"
#include "raft/node.h"

namespace {

namespace pb = raft::pb;

class Cluster {
 public:
  explicit Cluster(bool wire) : wire_(wire) {
    pb::ConfState conf;
    for (uint64_t id = 1; id <= 3; ++id) conf.add_voters(id);
    for (uint64_t id = 1; id <= 3; ++id) {
      raft::Config config;
      config.id = id;
      config.seed = id;
      config.max_size_per_msg = 1 << 20;
      config.max_inflight_msgs = 256;
      storages_.push_back(std::make_unique<raft::MemoryStorage>(conf));
      nodes_.push_back(std::make_unique<raft::Node>(config, *storages_.back()));
    }
    (void)nodes_[0]->campaign();
    settle();
  }

  raft::Node& leader() { return *nodes_[0]; }

  // Runs Readies and delivers messages until nothing moves.
  void settle() {
    bool moved = true;
    while (moved) {
      moved = false;
      for (size_t i = 0; i < nodes_.size(); ++i) moved |= process(i);
      while (!queue_.empty()) {
        moved = true;
        pb::Message m = std::move(queue_.front());
        queue_.pop_front();
        if (wire_) {
          const std::string bytes = m.SerializeAsString();
          m.Clear();
          m.ParseFromString(bytes);
        }
        (void)nodes_[m.to() - 1]->step(m);
      }
    }
  }

 private:
  bool process(size_t i) {
    raft::Node& node = *nodes_[i];
    raft::MemoryStorage& storage = *storages_[i];
    bool moved = false;
    while (node.has_ready()) {
      moved = true;
      raft::Ready rd = node.ready();
      if (rd.hard_state) storage.set_hard_state(*rd.hard_state);
      storage.append(rd.entries);
      for (pb::Message& m : rd.messages) queue_.push_back(std::move(m));
      if (!rd.committed_entries.empty()) {
        const uint64_t applied = rd.committed_entries.back().index();
        if (applied >= storage.first_index() + kCompactEvery) {
          (void)storage.create_snapshot(applied, node.conf_state(), "");
          (void)storage.compact(applied);
        }
      }
      node.advance(rd);
    }
    return moved;
  }

  static constexpr uint64_t kCompactEvery = 1 << 16;
  const bool wire_;
  std::vector<std::unique_ptr<raft::MemoryStorage>> storages_;
  std::vector<std::unique_ptr<raft::Node>> nodes_;
  std::deque<pb::Message> queue_;
};

// One MsgProp carrying `batch` entries: how a raft loop hands over the proposals that queued up
// while it was busy (one append and one MsgApp per follower for the lot). With `one_by_one`,
// propose() per entry instead: an append and a broadcast each.
void commit_batches(benchmark::State& state, bool wire, bool one_by_one) {
  const int64_t batch = state.range(0);
  Cluster cluster(wire);
  const std::string data(100, 'x');
  pb::Message proposal;
  proposal.set_type(pb::MsgProp);
  proposal.set_from(1);
  for (int64_t i = 0; i < batch; ++i) proposal.add_entries()->set_data(data);
  uint64_t committed = 0;
  const uint64_t start = cluster.leader().log().committed();
  for (auto _ : state) {
    if (one_by_one) {
      for (int64_t i = 0; i < batch; ++i) {
        if (!cluster.leader().propose(data)) state.SkipWithError("proposal refused");
      }
    } else if (!cluster.leader().step(proposal)) {
      state.SkipWithError("proposal refused");
    }
    cluster.settle();
  }
  committed = cluster.leader().log().committed() - start;
  state.SetItemsProcessed(static_cast<int64_t>(committed));
  state.counters["entries/s"] =
      benchmark::Counter(static_cast<double>(committed), benchmark::Counter::kIsRate);
}

void BM_Commit3Members(benchmark::State& state) { commit_batches(state, false, false); }
void BM_Commit3MembersWire(benchmark::State& state) { commit_batches(state, true, false); }
void BM_Commit3MembersProposeEach(benchmark::State& state) { commit_batches(state, false, true); }

BENCHMARK(BM_Commit3Members)->Arg(1)->Arg(16)->Arg(256)->Arg(1024)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Commit3MembersWire)->Arg(256)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Commit3MembersProposeEach)->Arg(256)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
