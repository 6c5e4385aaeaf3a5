// member_healthy on a real Member: healthy as a lone leader; unhealthy with no leader; unhealthy
// when a leader is known but the quorum read gets no answer within the deadline.

#include "discovery/server/health_check.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <optional>

#include "discovery/server/member_id.h"

namespace discovery::server {
namespace {

namespace asio = boost::asio;

constexpr std::uint64_t kSelf = 0x8e9e05c52164694d;
constexpr std::uint64_t kPeer = 0x2a;

store::pb::ClusterRecord record(const std::string& key, const std::string& value) {
  store::pb::ClusterRecord made;
  made.set_key(key);
  made.set_value(value);
  return made;
}

MemberSetup setup_with(const std::vector<std::uint64_t>& ids) {
  MemberSetup setup;
  setup.self_id = kSelf;
  for (std::uint64_t id : ids) {
    setup.initial_members.emplace_back(
        id, record("/members/" + format_id(id) + "/raftAttributes", R"({"peerURLs":[]})"));
  }
  setup.attributes = record("/members/" + format_id(kSelf) + "/attributes", R"({"name":"m1"})");
  setup.version = record("/version", "3.4.0");
  return setup;
}

class HealthCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("cluster-health-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<Member> start(const MemberSetup& setup) {
    auto storage = RocksdbStorage::open(dir_);
    EXPECT_TRUE(storage.has_value());
    auto member = std::make_unique<Member>(io_, std::move(*storage), clock_, setup);
    EXPECT_TRUE(member->start().has_value());
    return member;
  }

  // Runs the io loop until `done` holds (bounded); returns whether it did.
  template <class Done>
  bool run_until(Done done) {
    for (int i = 0; i < 500 && !done(); ++i) io_.run_for(std::chrono::milliseconds{10});
    return done();
  }

  std::optional<bool> healthy(Member& member, std::chrono::milliseconds deadline) {
    std::optional<bool> result;
    asio::co_spawn(io_, member_healthy(member, deadline),
                   [&](const std::exception_ptr&, bool ok) { result = ok; });
    run_until([&] { return result.has_value(); });
    return result;
  }

  asio::io_context io_;
  common::RealClock clock_;
  std::filesystem::path dir_;
};

TEST_F(HealthCheckTest, ALoneLeaderIsHealthy) {
  auto member = start(setup_with({kSelf}));
  ASSERT_TRUE(run_until([&] { return member->node().role() == raft::Role::Leader; }));
  EXPECT_EQ(healthy(*member, kHealthReadDeadline), std::optional<bool>(true));
  member->stop();
}

TEST_F(HealthCheckTest, NoLeaderIsUnhealthy) {
  // Two voters, the other never answers: no leader is ever elected.
  auto member = start(setup_with({kSelf, kPeer}));
  EXPECT_EQ(member->node().leader(), 0u);
  EXPECT_EQ(healthy(*member, kHealthReadDeadline), std::optional<bool>(false));
  member->stop();
}

TEST_F(HealthCheckTest, AKnownLeaderThatNeverConfirmsTheReadIsUnhealthy) {
  // The peer's heartbeat makes it the leader this member follows; the read index request then
  // goes nowhere (no sender), as to a leader that died since.
  auto member = start(setup_with({kSelf, kPeer}));
  raft::pb::Message heartbeat;
  heartbeat.set_type(raft::pb::MsgHeartbeat);
  heartbeat.set_from(kPeer);
  heartbeat.set_to(kSelf);
  heartbeat.set_term(2);
  member->step(heartbeat);
  ASSERT_EQ(member->node().leader(), kPeer);
  EXPECT_EQ(healthy(*member, std::chrono::milliseconds{200}), std::optional<bool>(false));
  member->stop();
}

TEST_F(HealthCheckTest, WaitForLeaderCompletesAtOnceWithALeaderAndWhenOneIsLearned) {
  auto member = start(setup_with({kSelf, kPeer}));
  std::optional<bool> known;
  asio::co_spawn(io_, wait_for_leader(*member, std::chrono::milliseconds{5000}),
                 [&](const std::exception_ptr&, bool ok) { known = ok; });
  io_.run_for(std::chrono::milliseconds{100});
  EXPECT_FALSE(known.has_value());  // still waiting: no leader yet
  raft::pb::Message heartbeat;
  heartbeat.set_type(raft::pb::MsgHeartbeat);
  heartbeat.set_from(kPeer);
  heartbeat.set_to(kSelf);
  heartbeat.set_term(2);
  member->step(heartbeat);
  ASSERT_TRUE(run_until([&] { return known.has_value(); }));
  EXPECT_EQ(known, std::optional<bool>(true));
  known.reset();
  asio::co_spawn(io_, wait_for_leader(*member, std::chrono::milliseconds{0}),
                 [&](const std::exception_ptr&, bool ok) { known = ok; });
  ASSERT_TRUE(run_until([&] { return known.has_value(); }));
  EXPECT_EQ(known, std::optional<bool>(true));
  member->stop();
}

TEST_F(HealthCheckTest, WaitForLeaderGivesUpAtTheDeadline) {
  auto member = start(setup_with({kSelf, kPeer}));
  std::optional<bool> known;
  asio::co_spawn(io_, wait_for_leader(*member, std::chrono::milliseconds{100}),
                 [&](const std::exception_ptr&, bool ok) { known = ok; });
  ASSERT_TRUE(run_until([&] { return known.has_value(); }));
  EXPECT_EQ(known, std::optional<bool>(false));
  member->stop();
}

}  // namespace
}  // namespace discovery::server
