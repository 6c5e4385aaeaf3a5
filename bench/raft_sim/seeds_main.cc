// raft_sim_seeds: runs many seeds of the Raft simulation (test/sim) and prints how many ran and
// which failed, each with the SIM_SEED line that replays it in build/tests/raft_sim_test.
//   raft_sim_seeds --seeds 10000 --start 1 --members 3 --jobs 2 [--chaos-ticks 1000]
// Seeds are independent runs, so they are spread over --jobs threads; the output is the same for
// any job count.

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "test/sim/simulation.h"

namespace {

struct Args {
  uint64_t seeds = 1000;
  uint64_t start = 1;
  int members = 3;
  int jobs = 2;
  int chaos_ticks = raft::sim::SimOptions().chaos_ticks;
};

bool parse(int argc, char** argv, Args& args) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const uint64_t value = std::strtoull(argv[i + 1], nullptr, 10);
    if (flag == "--seeds") {
      args.seeds = value;
    } else if (flag == "--start") {
      args.start = value;
    } else if (flag == "--members") {
      args.members = static_cast<int>(value);
    } else if (flag == "--jobs") {
      args.jobs = std::max(1, static_cast<int>(value));
    } else if (flag == "--chaos-ticks") {
      args.chaos_ticks = static_cast<int>(value);
    } else {
      return false;
    }
  }
  return argc % 2 == 1;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!parse(argc, argv, args)) {
    fmt::print(stderr,
               "usage: {} [--seeds N] [--start S] [--members 3|5] [--jobs J] [--chaos-ticks T]\n",
               argv[0]);
    return 2;
  }
  std::atomic<uint64_t> next{0};
  std::mutex mu;
  std::vector<std::pair<uint64_t, std::string>> failures;
  raft::sim::SimResult total;
  const auto began = std::chrono::steady_clock::now();
  std::vector<std::thread> workers;
  workers.reserve(static_cast<size_t>(args.jobs));
  for (int j = 0; j < args.jobs; ++j) {
    workers.emplace_back([&] {
      for (uint64_t i = next++; i < args.seeds; i = next++) {
        raft::sim::SimOptions options;
        options.seed = args.start + i;
        options.members = args.members;
        options.chaos_ticks = args.chaos_ticks;
        const raft::sim::SimResult r = raft::sim::run_simulation(options);
        std::lock_guard lock(mu);
        total.steps += r.steps;
        total.committed += r.committed;
        total.crashes += r.crashes;
        total.lost_writes += r.lost_writes;
        total.snapshots_installed += r.snapshots_installed;
        total.members_added += r.members_added;
        total.members_removed += r.members_removed;
        total.reads_served += r.reads_served;
        total.transfers += r.transfers;
        if (!r.ok) {
          failures.emplace_back(
              options.seed, fmt::format("{} failed at step {}: {}", r.replay, r.step, r.failure));
        }
      }
    });
  }
  for (std::thread& t : workers) t.join();
  std::sort(failures.begin(), failures.end());
  for (const auto& [seed, line] : failures) fmt::print("{}\n", line);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  fmt::print(
      "exercised: {} steps, {} entries committed, {} crashes ({} lost unsynced writes), {} "
      "snapshots installed, {} members added, {} removed, {} ReadIndex reads checked, {} "
      "leadership transfers asked\n",
      total.steps, total.committed, total.crashes, total.lost_writes, total.snapshots_installed,
      total.members_added, total.members_removed, total.reads_served, total.transfers);
  fmt::print("ran {} seeds ({}..{}, {} members) in {:.1f} s on {} jobs: {} failed\n", args.seeds,
             args.start, args.start + args.seeds - 1, args.members, seconds, args.jobs,
             failures.size());
  return failures.empty() ? 0 : 1;
}
