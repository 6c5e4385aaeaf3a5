// Snapshots in the raft loop on real RocksDB databases: a member compacts its log behind
// checkpoints and restarts from them; a member that missed compacted entries catches up by
// installing the leader's checkpoint (the members talk through an in-process router instead of
// the peer transport, which has its own tests).

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <vector>

#include "discovery/server/member.h"
#include "discovery/server/member_id.h"
#include "discovery/server/snapshot_checkpoint.h"

namespace discovery::server {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;

store::pb::ClusterRecord record(const std::string& key, const std::string& value) {
  store::pb::ClusterRecord made;
  made.set_key(key);
  made.set_value(value);
  return made;
}

MemberSetup setup_for(std::uint64_t self, const std::vector<std::uint64_t>& ids,
                      const fs::path& snapshot_dir) {
  MemberSetup setup;
  setup.self_id = self;
  for (const std::uint64_t id : ids) {
    setup.initial_members.emplace_back(
        id, record("/members/" + format_id(id) + "/raftAttributes", R"({"peerURLs":[]})"));
  }
  setup.attributes = record("/members/" + format_id(self) + "/attributes",
                            R"({"name":"m)" + std::to_string(self) + R"("})");
  setup.version = record("/version", "3.4.0");
  setup.election_tick = 3;
  setup.snapshot_dir = snapshot_dir;
  setup.snapshot = SnapshotPolicy{.count = 10, .catch_up_entries = 5};
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

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

class MemberSnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("member-snapshot-test-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override {
    for (auto& [id, member] : members_) member->stop();
    members_.clear();
    fs::remove_all(root_);
  }

  fs::path keys_dir(std::uint64_t id) const { return root_ / std::to_string(id) / "keys"; }
  fs::path snap_dir(std::uint64_t id) const { return root_ / std::to_string(id) / "snap"; }

  // Starts member `id` of the cluster `ids` (its data in root_/<id>), wired to the router.
  Member& start(std::uint64_t id, const std::vector<std::uint64_t>& ids) {
    auto storage = RocksdbStorage::open(keys_dir(id));
    EXPECT_TRUE(storage.has_value());
    auto member = std::make_unique<Member>(io_, std::move(*storage), clock_,
                                           setup_for(id, ids, snap_dir(id)));
    member->set_sender([this](std::vector<raft::pb::Message> messages) {
      asio::post(io_, [this, messages = std::move(messages)] {
        for (const raft::pb::Message& message : messages) {
          if (auto it = members_.find(message.to()); it != members_.end())
            it->second->step(message);
        }
      });
      return false;  // delivered by a later handler
    });
    member->set_snapshot_sender([this](raft::pb::Message message, fs::path checkpoint) {
      asio::post(io_, [this, message = std::move(message), checkpoint] {
        deliver_snapshot(message, checkpoint);
      });
    });
    EXPECT_TRUE(member->start().has_value());
    Member& made = *member;
    members_[id] = std::move(member);
    return made;
  }

  // What the transport does: copy the files into a staging directory, hand over the MsgSnap,
  // report the outcome to the sender.
  void deliver_snapshot(const raft::pb::Message& message, const fs::path& checkpoint) {
    auto from = members_.find(message.from());
    auto to = members_.find(message.to());
    const bool reachable = to != members_.end();
    if (reachable) {
      const fs::path staged = root_ / ("staged-" + std::to_string(++staged_serial_));
      fs::copy(checkpoint, staged, fs::copy_options::recursive);
      ++snapshots_delivered_;
      to->second->receive_snapshot(message, staged);
    }
    if (from != members_.end()) from->second->snapshot_sent(message.to(), reachable);
  }

  void stop(std::uint64_t id) {
    members_.at(id)->stop();
    // What was posted for the member (a Ready, a sync thread's completion) runs while it exists.
    io_.run_for(std::chrono::milliseconds{100});
    io_.restart();  // running out of work stops the context
    members_.erase(id);
  }

  bool run_until(const std::function<bool()>& done) {
    for (int i = 0; i < 1000; ++i) {
      if (done()) return true;
      io_.run_for(std::chrono::milliseconds{10});
    }
    return done();
  }

  // Writes through member `via` until it answers (a write may fail while there is no leader).
  bool write(std::uint64_t via, const std::string& key, const std::string& value) {
    for (int attempt = 0; attempt < 50; ++attempt) {
      std::optional<bool> ok;
      asio::co_spawn(io_, members_.at(via)->write(set_command(key, value)),
                     [&](const std::exception_ptr&, auto result) { ok = result.has_value(); });
      if (!run_until([&] { return ok.has_value(); })) return false;
      if (*ok) return true;
      io_.run_for(std::chrono::milliseconds{50});
    }
    return false;
  }

  std::string value(std::uint64_t id, const std::string& key) {
    auto got = members_.at(id)->store().get(key, false, false, clock_.wall_now());
    return got ? got->node.value.value_or("") : "<missing>";
  }

  common::RealClock clock_;
  asio::io_context io_;
  fs::path root_;
  std::map<std::uint64_t, std::unique_ptr<Member>> members_;
  int staged_serial_ = 0;
  int snapshots_delivered_ = 0;
};

TEST_F(MemberSnapshotTest, LoneMemberCompactsBehindSnapshotsAndRestartsFromThem) {
  const std::vector<std::uint64_t> ids = {1};
  start(1, ids);
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(write(1, "/k" + std::to_string(i), std::to_string(i)));
  Member& member = *members_.at(1);
  // A snapshot once more than 10 entries were applied since the last one; 5 entries kept behind.
  EXPECT_GT(member.snapshot_index(), 30u);
  EXPECT_LE(member.raft_applied() - member.snapshot_index(), 10u);
  EXPECT_EQ(member.first_log_index(), member.snapshot_index() - 5 + 1);
  EXPECT_EQ(names_in(snap_dir(1)),
            std::vector<std::string>{checkpoint_name(member.snapshot_index())});
  const std::string before = member.store().snapshot();
  const std::uint64_t first = member.first_log_index();
  stop(1);

  Member& restarted = start(1, ids);
  EXPECT_EQ(restarted.store().snapshot(), before);
  EXPECT_EQ(restarted.first_log_index(), first);
  ASSERT_TRUE(write(1, "/after", "x"));
  EXPECT_EQ(value(1, "/k39"), "39");

  // On request (a member joins), the whole applied log goes behind a snapshot.
  members_.at(1)->request_snapshot(0);
  EXPECT_EQ(members_.at(1)->snapshot_index(), members_.at(1)->raft_applied());
  EXPECT_EQ(members_.at(1)->first_log_index(), members_.at(1)->raft_applied() + 1);
  stop(1);
  start(1, ids);
  EXPECT_EQ(value(1, "/after"), "x");
  stop(1);

  // A checkpoint lost in a crash is made again at the next start, at the applied index.
  fs::remove_all(snap_dir(1));
  Member& again = start(1, ids);
  EXPECT_EQ(again.snapshot_index(), again.raft_applied());
  EXPECT_EQ(names_in(snap_dir(1)),
            std::vector<std::string>{checkpoint_name(again.snapshot_index())});
  EXPECT_EQ(value(1, "/after"), "x");
}

TEST_F(MemberSnapshotTest, LaggingMemberCatchesUpThroughTheLeadersCheckpoint) {
  const std::vector<std::uint64_t> ids = {1, 2, 3};
  start(1, ids);
  start(2, ids);
  for (int i = 0; i < 60; ++i) ASSERT_TRUE(write(1, "/k" + std::to_string(i), std::to_string(i)));
  // Member 3 never saw an entry after the bootstrap ones, which both others compacted away.
  ASSERT_GT(members_.at(1)->first_log_index(), 10u);
  ASSERT_GT(members_.at(2)->first_log_index(), 10u);

  Member& late = start(3, ids);
  const auto caught_up = [&] {
    return late.store().index() == members_.at(1)->store().index() &&
           late.raft_applied() == members_.at(1)->raft_applied();
  };
  ASSERT_TRUE(run_until(caught_up));
  EXPECT_GE(snapshots_delivered_, 1);
  EXPECT_GT(late.snapshot_index(), 10u);
  EXPECT_EQ(late.store().snapshot(), members_.at(1)->store().snapshot());
  // Its own checkpoint of what it installed, so it could send it on as a leader.
  EXPECT_EQ(names_in(snap_dir(3)).size(), 1u);

  // It takes part in new writes, and keeps its state across a restart.
  ASSERT_TRUE(write(3, "/from3", "x"));
  ASSERT_TRUE(run_until([&] { return value(1, "/from3") == "x"; }));
  stop(3);
  Member& restarted = start(3, ids);
  ASSERT_TRUE(
      run_until([&] { return restarted.raft_applied() == members_.at(1)->raft_applied(); }));
  EXPECT_EQ(restarted.store().snapshot(), members_.at(1)->store().snapshot());
  EXPECT_EQ(value(3, "/k59"), "59");
}

// MemberSnapshots on its own: which checkpoints it keeps, and what it accepts from a peer.
class MemberSnapshotsTest : public MemberSnapshotTest {
 protected:
  void SetUp() override {
    MemberSnapshotTest::SetUp();
    storage_ = std::move(*RocksdbStorage::open(root_ / "keys"));
    log_ = RocksdbRaftLog::load(storage_->db());
    raft::pb::ConfState conf;
    conf.add_voters(1);
    rocksdb::WriteBatch batch;
    log_->set_conf_state(batch, conf);
    storage_->commit(batch);
  }
  void TearDown() override {
    log_.reset();
    storage_.reset();
    MemberSnapshotTest::TearDown();
  }
  // Appends and applies entries up to `last` (term 1), as the raft loop's batches do.
  void apply_to(std::uint64_t last) {
    std::vector<raft::pb::Entry> entries;
    for (std::uint64_t index = log_->last_index() + 1; index <= last; ++index) {
      raft::pb::Entry& entry = entries.emplace_back();
      entry.set_index(index);
      entry.set_term(1);
    }
    rocksdb::WriteBatch batch;
    log_->append(batch, entries);
    RocksdbStorage::append(batch, {}, last);
    RocksdbStorage::set_applied(batch, last);
    storage_->commit(batch);
  }
  std::unique_ptr<RocksdbStorage> storage_;
  std::unique_ptr<RocksdbRaftLog> log_;
};

TEST_F(MemberSnapshotsTest, LentCheckpointsOutliveNewerSnapshotsAndLeftoversGo) {
  MemberSnapshots snapshots(root_ / "snap", {.count = 10, .catch_up_entries = 4}, *storage_, *log_);
  fs::create_directories(root_ / "snap" / "0000000000000003.tmp");  // a crash mid-checkpoint
  ASSERT_TRUE(snapshots.recover(0).has_value());
  EXPECT_TRUE(names_in(root_ / "snap").empty());
  apply_to(12);
  EXPECT_TRUE(snapshots.due(12));
  ASSERT_TRUE(snapshots.take(12).has_value());
  EXPECT_FALSE(snapshots.due(22));
  EXPECT_EQ(log_->first_index(), 9u);  // 4 entries kept behind the snapshot
  const auto lent = snapshots.lend(7, 12);
  ASSERT_TRUE(lent.has_value());
  EXPECT_FALSE(snapshots.lend(7, 12).has_value());  // one transfer per peer
  apply_to(30);
  ASSERT_TRUE(snapshots.take(30).has_value());
  EXPECT_EQ(log_->first_index(), 27u);
  EXPECT_EQ(names_in(root_ / "snap"),
            (std::vector<std::string>{checkpoint_name(12), checkpoint_name(30)}));
  snapshots.release(7);
  EXPECT_EQ(names_in(root_ / "snap"), std::vector<std::string>{checkpoint_name(30)});
  // The snapshot survives a restart of the log.
  log_ = RocksdbRaftLog::load(storage_->db());
  EXPECT_EQ(log_->snapshot_metadata().index(), 30u);
  EXPECT_EQ(log_->first_index(), 27u);
}

TEST_F(MemberSnapshotsTest, ReceivedFilesMustHoldTheIndexTheirMetadataNames) {
  apply_to(5);
  ASSERT_TRUE(create_checkpoint(storage_->db(), root_ / "staged").has_value());
  raft::pb::SnapshotMetadata metadata;
  metadata.set_index(6);
  metadata.set_term(1);
  EXPECT_FALSE(MemberSnapshots::verify_received(root_ / "staged", metadata).has_value());
  metadata.set_index(5);
  EXPECT_TRUE(MemberSnapshots::verify_received(root_ / "staged", metadata).has_value());
  fs::create_directories(root_ / "garbage");
  std::ofstream(root_ / "garbage" / "CURRENT") << "MANIFEST-000099\n";
  EXPECT_FALSE(MemberSnapshots::verify_received(root_ / "garbage", metadata).has_value());
}

}  // namespace
}  // namespace discovery::server
