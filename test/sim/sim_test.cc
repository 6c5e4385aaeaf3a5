#include <gtest/gtest.h>

#include <tuple>

#include "test/sim/simulation.h"

namespace raft::sim {
namespace {

// The fixed seed set CI runs: every seed for 3 and for 5 members. bench/raft-sim runs thousands.
constexpr uint64_t kSeeds = 150;

bool replaying() {
  SimOptions options;
  return options_from_env(options);
}

void expect_safe_and_live(const SimOptions& options) {
  const SimResult result = run_simulation(options);
  if (options.trace) {
    std::fprintf(stderr, "%s: %llu steps, commit %llu, %llu crashes (%llu lost writes)\n",
                 result.replay.c_str(), static_cast<unsigned long long>(result.steps),
                 static_cast<unsigned long long>(result.committed),
                 static_cast<unsigned long long>(result.crashes),
                 static_cast<unsigned long long>(result.lost_writes));
  }
  EXPECT_TRUE(result.ok) << result.replay << " failed at step " << result.step << ": "
                         << result.failure;
  // A run that elects nobody and commits nothing checks nothing.
  EXPECT_GT(result.committed, 0u) << result.replay;
}

class Seeds : public testing::TestWithParam<std::tuple<int, uint64_t>> {};

TEST_P(Seeds, SafeUnderFaultsAndLiveAfterHealing) {
  if (replaying()) GTEST_SKIP() << "SIM_SEED is set: only the Replay test runs";
  SimOptions options;
  options.members = std::get<0>(GetParam());
  options.seed = std::get<1>(GetParam());
  expect_safe_and_live(options);
}

INSTANTIATE_TEST_SUITE_P(Sim, Seeds,
                         testing::Combine(testing::Values(3, 5),
                                          testing::Range<uint64_t>(1, kSeeds + 1)));

TEST(Replay, TheRunNamedBySimSeed) {
  SimOptions options;
  if (!options_from_env(options)) GTEST_SKIP() << "set SIM_SEED (and SIM_MEMBERS) to replay a run";
  expect_safe_and_live(options);
}

TEST(Determinism, TheSameSeedGivesTheSameRun) {
  SimOptions options;
  options.seed = 7;
  options.members = 5;
  const SimResult a = run_simulation(options);
  const SimResult b = run_simulation(options);
  EXPECT_EQ(a.steps, b.steps);
  EXPECT_EQ(a.committed, b.committed);
  EXPECT_EQ(a.crashes, b.crashes);
  options.seed = 8;
  const SimResult c = run_simulation(options);
  EXPECT_NE(a.steps, c.steps);
}

}  // namespace
}  // namespace raft::sim
