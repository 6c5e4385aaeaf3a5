#pragma once
// The Simulation class behind run_simulation() (simulation.h); private to test/sim. simulation.cc
// holds the run, the faults and the client workload; simulation_member.cc what a member does: the
// Ready contract, applying, snapshots, crashes and restarts, and serving reads.

#include <fmt/format.h>

#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "raft/node.h"
#include "test/sim/checker.h"
#include "test/sim/kv_state_machine.h"
#include "test/sim/sim_network.h"
#include "test/sim/sim_storage.h"
#include "test/sim/simulation.h"

namespace raft::sim {

struct SimMember {
  uint64_t id = 0;
  std::unique_ptr<SimStorage> storage;
  std::unique_ptr<Node> node;  // null while crashed, and for good once removed
  bool removed = false;        // its removal was applied: the operator shut it down
  KvStateMachine sm;
  pb::ConfState conf;  // the configuration as of sm.applied()
  // The application state that survives a crash (written atomically with its applied index, as
  // discovery does with RocksDB), besides the snapshot in storage.
  KvStateMachine saved_sm;
  pb::ConfState saved_conf;
  uint64_t incarnation = 0;
  uint64_t seen_commit = 0;      // the highest commit index observed in this life
  uint64_t durable_commit = 0;   // the highest commit index synced to storage
  std::vector<ReadState> reads;  // answered read points waiting for applied >= index
  // A leader's Ready whose messages went out before its disk write finished: written, not yet
  // synced, applied or advanced. The member keeps stepping messages meanwhile; a crash loses it.
  std::optional<Ready> pending;
};

// The per-seed shape of a run: the same seed always draws the same configuration and rates.
struct RunShape {
  Config base;
  NetworkFaults faults;
  double lost_sync = 0;         // per Ready: a crash between the write and the sync
  double crash = 0;             // per tick
  double restart = 0;           // per tick and crashed member
  double fault_change = 0;      // per tick: a partition, isolation, one-way cut or heal
  double fault_mid_tick = 0;    // per delivery: a fault strikes between two messages
  double send_early = 0;        // a leader sends before persisting when the Ready allows it
  double defer_sync = 0;        // ... and its disk write then completes some steps later
  double save_applied = 0;      // per Ready: the application persists its applied state
  uint64_t snapshot_every = 0;  // entries applied between snapshots (0: never)
  uint64_t keep_entries = 0;    // entries kept behind a snapshot when compacting
  double conf_change = 0;       // per tick
  double transfer = 0;          // per tick
  double read = 0;              // per tick
};

class Simulation {
 public:
  explicit Simulation(const SimOptions& options);
  SimResult run();

 private:
  struct Read {
    std::string key;
    uint64_t min_index;  // the highest commit anyone had when the read was issued
  };

  RunShape draw_shape();
  Config config_for(const SimMember& m);
  SimMember& add_member(uint64_t id, const pb::ConfState& conf);

  // simulation.cc: phases, faults, workload.
  void chaos_tick();
  void heal_and_require_progress();
  void change_faults();
  void change_links();
  void tick_all();
  void deliver_all_due();
  void tick(SimMember& m);
  void deliver(const pb::Message& message);
  void propose(SimMember& m, std::string data);
  void issue_read(SimMember& m);
  void change_membership();
  void transfer_leadership();

  // simulation_member.cc: one member's side.
  void crash(SimMember& m);
  void restart(SimMember& m);
  void decommission(uint64_t id);
  void decommission_removed();
  void process(SimMember& m);
  bool handle_ready(SimMember& m, const Ready& rd);
  bool finish_ready(SimMember& m, const Ready& rd, bool sent);
  void complete_pending(SimMember& m);
  SimMember* random_pending();
  void persist(SimMember& m, const Ready& rd);
  void send(const std::vector<pb::Message>& messages);
  void install(SimMember& m, const pb::Snapshot& snapshot);
  void apply(SimMember& m, const pb::Entry& entry);
  void record_history(const pb::Entry& entry);
  void serve_reads(SimMember& m);
  void maybe_snapshot(SimMember& m);

  template <class Describe>
  void after_step(Describe&& describe_step) {
    ++step_;
    if (options_.trace) fmt::print(stderr, "[{} t={}] {}\n", step_, now_, describe_step());
    check_all();
  }
  void check_all();
  void fail(const std::string& what) {
    checker_.fail(what);
    check_all();
  }

  bool chance(double p) { return p > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  SimMember* random_live();
  SimMember* live_leader();
  std::vector<uint64_t> current_ids() const;  // members not removed
  bool joinable() const;
  size_t crashed_count() const;
  std::string next_put();
  static bool marker_applied(const SimMember& m) { return m.sm.get("marker").has_value(); }
  std::optional<std::string> value_at(const std::string& key, uint64_t index) const;

  SimOptions options_;
  std::mt19937_64 rng_;
  RunShape shape_;
  SimNetwork network_;
  Checker checker_;
  std::map<uint64_t, SimMember> members_;
  uint64_t next_id_ = 1;
  uint64_t now_ = 0;
  uint64_t step_ = 0;
  uint64_t next_op_ = 1;
  uint64_t next_read_ = 1;
  std::map<std::string, Read> reads_;  // by context
  // Applied removals whose member still runs: the operator shuts it down once every voter of the
  // new configuration has applied the removal (sooner, a two-voter cluster could be left unable to
  // learn that the removal committed, with the removed member gone).
  struct Removal {
    uint64_t id;
    uint64_t index;
    pb::ConfState conf;
  };
  std::vector<Removal> removals_;
  // Committed puts by key: index -> value (the reference the reads are checked against), and the
  // last index recorded.
  std::map<std::string, std::map<uint64_t, std::string>> history_;
  uint64_t history_index_ = 0;
  SimResult result_;
};

}  // namespace raft::sim
