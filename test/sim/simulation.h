#pragma once
// The deterministic Raft simulation (test/sim): N members, each a raft::Node over a SimStorage,
// joined by a SimNetwork, driven by one seeded PRNG through a chaos phase (message loss,
// duplication, delay and reordering, partitions, crashes that lose unsynced writes, restarts,
// client proposals) and then a healed phase that must make progress within a bound. The Checker
// runs after every step. The same SimOptions give the same run, step for step: a failure prints
// `SIM_SEED=<n> SIM_MEMBERS=<m>`, and setting those in the environment replays it.
//
// run_simulation() is a pure function of its options (no globals, no clock), so the gtest binary
// and bench/raft-sim run seeds side by side, one per thread if they like.

#include <cstdint>
#include <string>

namespace raft::sim {

struct SimOptions {
  uint64_t seed = 1;
  int members = 3;         // 3 or 5 (any count from 1 works)
  int chaos_ticks = 1000;  // ticks with faults
  int heal_ticks = 200;    // after healing, a new proposal must apply everywhere within these
  bool trace = false;      // print every step to stderr
};

struct SimResult {
  bool ok = true;
  std::string failure;  // the first property violated
  uint64_t step = 0;    // the step it was detected after
  // What the run did, so a test can tell a run that exercised nothing.
  uint64_t steps = 0;
  uint64_t committed = 0;
  uint64_t leaders = 0;  // terms that had a leader
  uint64_t crashes = 0;
  uint64_t lost_writes = 0;          // crashes that lost written but unsynced data
  uint64_t snapshots_installed = 0;  // from the leader
  uint64_t members_added = 0;        // AddNode changes applied (by the first member to apply)
  uint64_t members_removed = 0;
  uint64_t reads_served = 0;  // ReadIndex reads checked
  uint64_t transfers = 0;     // leadership transfers asked for

  // "SIM_SEED=<n> SIM_MEMBERS=<m>": the environment that replays this run.
  std::string replay;
};

SimResult run_simulation(const SimOptions& options);

// Options from the environment over `defaults`: SIM_SEED, SIM_MEMBERS, SIM_CHAOS_TICKS,
// SIM_TRACE=1. Returns whether SIM_SEED was set (a replay).
bool options_from_env(SimOptions& options);

}  // namespace raft::sim
