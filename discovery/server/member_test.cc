// The raft loop of a lone member on a real RocksDB: bootstrap, writes, ReadIndex, restart
// recovery (the store reloaded at its applied index, the rest replayed from the log).

#include "discovery/server/member.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <vector>

#include "discovery/server/member_id.h"

namespace discovery::server {
namespace {

namespace asio = boost::asio;

constexpr std::uint64_t kSelf = 0x8e9e05c52164694d;

store::pb::ClusterRecord record(const std::string& key, const std::string& value) {
  store::pb::ClusterRecord made;
  made.set_key(key);
  made.set_value(value);
  return made;
}

MemberSetup lone_setup() {
  MemberSetup setup;
  setup.self_id = kSelf;
  setup.initial_members = {
      {kSelf, record("/members/" + format_id(kSelf) + "/raftAttributes", R"({"peerURLs":[]})")}};
  setup.attributes = record("/members/" + format_id(kSelf) + "/attributes", R"({"name":"m1"})");
  setup.version = record("/version", "3.4.0");
  return setup;
}

store::pb::Command set_command(const std::string& key, const std::string& value) {
  store::pb::Command command;
  command.set_time_unix_ns(1);
  store::pb::Write& write = *command.mutable_write();
  write.set_method(store::pb::Write::PUT);
  write.set_key(key);
  write.set_value(value);
  return command;
}

class MemberTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("cluster-member-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Starts a member on dir_ and runs the io loop until it is ready (bounded).
  std::unique_ptr<Member> start(asio::io_context& io) {
    auto storage = RocksdbStorage::open(dir_);
    EXPECT_TRUE(storage.has_value());
    auto member = std::make_unique<Member>(io, std::move(*storage), clock_, lone_setup());
    bool ready = false;
    member->when_ready([&ready] { ready = true; });
    EXPECT_TRUE(member->start().has_value());
    for (int i = 0; i < 500 && !ready; ++i) io.run_for(std::chrono::milliseconds{10});
    EXPECT_TRUE(ready);
    return member;
  }

  // Runs one write to completion and returns its modified index (0 on error).
  std::uint64_t write(asio::io_context& io, Member& member, const std::string& key,
                      const std::string& value) {
    std::optional<std::uint64_t> index;
    asio::co_spawn(
        io, member.write(set_command(key, value)),
        [&](const std::exception_ptr&, auto result) { index = result ? result->index() : 0; });
    for (int i = 0; i < 500 && !index; ++i) io.run_for(std::chrono::milliseconds{10});
    return index.value_or(0);
  }

  common::RealClock clock_;
  std::filesystem::path dir_;
};

TEST_F(MemberTest, FirstClientWriteLandsAtIndexFourAndSurvivesRestart) {
  {
    asio::io_context io;
    auto member = start(io);
    EXPECT_EQ(member->store().index(), 3u);  // raftAttributes, attributes, version
    EXPECT_EQ(write(io, *member, "/a", "1"), 4u);
    EXPECT_EQ(write(io, *member, "/b", "2"), 5u);
    EXPECT_EQ(member->node().role(), raft::Role::Leader);
    member->stop();
  }
  asio::io_context io;
  auto member = start(io);
  EXPECT_EQ(member->store().index(), 5u);
  EXPECT_TRUE(member->store().get("/a", false, false, clock_.wall_now()).has_value());
  EXPECT_EQ(write(io, *member, "/c", "3"), 6u);
  member->stop();
}

TEST_F(MemberTest, ReadBarrierCompletesOnALoneLeader) {
  asio::io_context io;
  auto member = start(io);
  std::optional<bool> ok;
  asio::co_spawn(io, member->read_barrier(),
                 [&](const std::exception_ptr&, bool result) { ok = result; });
  for (int i = 0; i < 500 && !ok; ++i) io.run_for(std::chrono::milliseconds{10});
  EXPECT_EQ(ok, std::optional<bool>(true));
  member->stop();
}

// Many writers at once: with several client connections the synced batches go to the sync thread
// and the writes proposed meanwhile join the next Ready; with one connection they are written
// inline. Either way every writer gets its own index, once.
TEST_F(MemberTest, ConcurrentWritesAreAnsweredWithTheSyncThreadAndInline) {
  for (const std::size_t connections : {std::size_t{16}, std::size_t{1}}) {
    std::filesystem::remove_all(dir_);
    asio::io_context io;
    auto member = start(io);
    member->set_client_connections([connections] { return connections; });
    constexpr int kWriters = 20;
    std::vector<std::uint64_t> indexes;
    for (int i = 0; i < kWriters; ++i) {
      asio::co_spawn(io, member->write(set_command("/k" + std::to_string(i), "v")),
                     [&](const std::exception_ptr&, auto result) {
                       indexes.push_back(result ? result->index() : 0);
                     });
    }
    for (int i = 0; i < 500 && indexes.size() < kWriters; ++i) {
      io.run_for(std::chrono::milliseconds{10});
    }
    std::sort(indexes.begin(), indexes.end());
    std::vector<std::uint64_t> expected;
    for (std::uint64_t index = 4; index < 4 + kWriters; ++index) expected.push_back(index);
    EXPECT_EQ(indexes, expected) << connections << " connections";
    EXPECT_EQ(member->store().index(), 3u + kWriters);
    member->stop();
  }
}

// etcd renders an answer's ttl from its store's clock when it applies the entry, not from the
// time the request came in: a command stamped long ago shows the ttl left now.
TEST_F(MemberTest, AnswerTtlsAreRenderedFromTheClockAtApply) {
  asio::io_context io;
  auto member = start(io);
  store::pb::Command command = set_command("/t", "v");  // stamped at 1 ns after the epoch
  const auto expiration = clock_.wall_now() + std::chrono::milliseconds{10'500};
  command.mutable_write()->set_expiration_unix_ns(
      std::chrono::duration_cast<std::chrono::nanoseconds>(expiration.time_since_epoch()).count());
  std::optional<std::int64_t> ttl;
  asio::co_spawn(io, member->write(command), [&](const std::exception_ptr&, auto result) {
    ttl = result ? result->node.ttl : -1000;
  });
  for (int i = 0; i < 500 && !ttl; ++i) io.run_for(std::chrono::milliseconds{10});
  ASSERT_TRUE(ttl.has_value());
  EXPECT_GE(*ttl, 1);
  EXPECT_LE(*ttl, 11);
  member->stop();
}

// Runtime membership on a lone member: each change is a conf change validated when it is
// applied (etcd's answers), moving the records, the configuration and the store index as etcd's
// v2 store moves them, and reported to the observer (the peer transport).
class MembershipTest : public MemberTest {
 protected:
  common::Result<void, MembershipError> change(asio::io_context& io, Member& member,
                                               raft::pb::ConfChangeType type, std::uint64_t id,
                                               std::vector<std::string> urls) {
    std::optional<common::Result<void, MembershipError>> done;
    asio::co_spawn(io,
                   member.change_membership(
                       MembershipChange{.type = type, .id = id, .peer_urls = std::move(urls)}),
                   [&](const std::exception_ptr&, auto result) { done = result; });
    for (int i = 0; i < 500 && !done; ++i) io.run_for(std::chrono::milliseconds{10});
    EXPECT_TRUE(done.has_value());
    return done.value_or(MembershipError::Timeout);
  }
};

TEST_F(MembershipTest, AddUpdateRemoveAsEtcdAppliesThem) {
  asio::io_context io;
  auto member = start(io);
  std::vector<MembershipChange> observed;
  member->on_membership([&](const MembershipChange& change) { observed.push_back(change); });
  const std::uint64_t other = 0x1234;
  ASSERT_TRUE(change(io, *member, raft::pb::ConfChangeAddNode, other, {"http://p2:2380"}));
  EXPECT_EQ(member->store().index(), 4u);  // one create (raftAttributes)
  EXPECT_EQ(member->members().size(), 2u);
  EXPECT_EQ(member->node().conf_state().learners_size(), 1);  // a learner until it catches up
  // The new member can only start from a snapshot: the log no longer begins at index 1.
  for (int i = 0; i < 500 && member->node().log().first_index() < 2; ++i) {
    io.run_for(std::chrono::milliseconds{10});
  }
  EXPECT_GE(member->node().log().first_index(), 2u);
  // Another member while the added one has not started: no started quorum of three (etcd's
  // strict reconfiguration check), refused before proposing.
  EXPECT_EQ(change(io, *member, raft::pb::ConfChangeAddNode, 0x99, {"http://p9:2380"}).error(),
            MembershipError::NotEnoughStarted);
  // Another member's peer URL: refused when applied.
  EXPECT_EQ(change(io, *member, raft::pb::ConfChangeUpdateNode, kSelf, {"http://p2:2380"}).error(),
            MembershipError::PeerUrlExists);
  ASSERT_TRUE(change(io, *member, raft::pb::ConfChangeUpdateNode, other, {"http://p4:2380"}));
  EXPECT_EQ(member->store().index(), 5u);  // one update
  EXPECT_EQ(find_member(member->members(), other)->peer_urls,
            std::vector<std::string>{"http://p4:2380"});
  ASSERT_TRUE(change(io, *member, raft::pb::ConfChangeRemoveNode, other, {}));
  EXPECT_EQ(member->store().index(), 7u);  // a recursive delete and a removed_members create
  EXPECT_EQ(member->members().size(), 1u);
  EXPECT_EQ(change(io, *member, raft::pb::ConfChangeRemoveNode, other, {}).error(),
            MembershipError::IdRemoved);
  EXPECT_EQ(change(io, *member, raft::pb::ConfChangeRemoveNode, 0x777, {}).error(),
            MembershipError::IdNotFound);
  EXPECT_EQ(member->store().index(), 7u);  // refused changes take no index
  ASSERT_EQ(observed.size(), 3u);
  EXPECT_EQ(observed[0].type, raft::pb::ConfChangeAddNode);
  EXPECT_EQ(observed[1].type, raft::pb::ConfChangeUpdateNode);
  EXPECT_EQ(observed[2].type, raft::pb::ConfChangeRemoveNode);
  EXPECT_FALSE(member->removed());
  member->stop();
  member.reset();

  // A restart replays nothing twice: the stored records and configuration come back as they were.
  asio::io_context io2;
  auto again = start(io2);
  EXPECT_EQ(again->store().index(), 7u);
  EXPECT_EQ(again->members().size(), 1u);
  again->stop();
}

}  // namespace
}  // namespace discovery::server

namespace discovery::server {
namespace {

// etcd answers a proposal it cannot make with errorCode 300 and index 0, not the store's index.
TEST_F(MemberTest, ARefusedProposalAnswersIndexZero) {
  asio::io_context io;
  auto storage = RocksdbStorage::open(dir_);
  ASSERT_TRUE(storage.has_value());
  MemberSetup setup = lone_setup();
  const std::uint64_t absent = 0x2a;  // a second voter that never answers: no leader
  setup.initial_members.emplace_back(
      absent, record("/members/" + format_id(absent) + "/raftAttributes", R"({"peerURLs":[]})"));
  auto member = std::make_unique<Member>(io, std::move(*storage), clock_, setup);
  ASSERT_TRUE(member->start().has_value());
  // The bootstrap entries are applied (store index 2) while no leader can be elected.
  for (int i = 0; i < 500 && member->store().index() == 0; ++i) {
    io.run_for(std::chrono::milliseconds{10});
  }
  ASSERT_GT(member->store().index(), 0u);
  std::optional<store::StoreResult<store::Event>> result;
  asio::co_spawn(io, member->write(set_command("/a", "1")),
                 [&](const std::exception_ptr&, auto answer) { result = std::move(answer); });
  for (int i = 0; i < 500 && !result; ++i) io.run_for(std::chrono::milliseconds{10});
  ASSERT_TRUE(result.has_value());
  ASSERT_FALSE(result->has_value());
  EXPECT_EQ(result->error().code, store::ErrorCode::RaftInternal);
  EXPECT_EQ(result->error().index, 0u);
  member->stop();
}

}  // namespace
}  // namespace discovery::server
