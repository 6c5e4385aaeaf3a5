#include "discovery/server/rocksdb_raft_log.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <random>

#include "discovery/server/rocksdb_storage.h"
#include "discovery/server/snapshot_checkpoint.h"

namespace discovery::server {
namespace {

namespace fs = std::filesystem;

raft::pb::Entry entry(std::uint64_t index, std::uint64_t term, std::string data = "") {
  raft::pb::Entry e;
  e.set_index(index);
  e.set_term(term);
  e.set_data(std::move(data));
  return e;
}

std::vector<raft::pb::Entry> run(std::uint64_t first, std::uint64_t last, std::uint64_t term) {
  std::vector<raft::pb::Entry> out;
  for (std::uint64_t i = first; i <= last; ++i)
    out.push_back(entry(i, term, "cmd" + std::to_string(i)));
  return out;
}

raft::pb::HardState hard_state(std::uint64_t term, std::uint64_t vote, std::uint64_t commit) {
  raft::pb::HardState hs;
  hs.set_term(term);
  hs.set_vote(vote);
  hs.set_commit(commit);
  return hs;
}

raft::pb::SnapshotMetadata snapshot(std::uint64_t index, std::uint64_t term,
                                    std::vector<std::uint64_t> voters) {
  raft::pb::SnapshotMetadata m;
  m.set_index(index);
  m.set_term(term);
  for (std::uint64_t v : voters) m.mutable_conf_state()->add_voters(v);
  return m;
}

std::vector<std::uint64_t> terms(const RocksdbRaftLog& log) {
  std::vector<std::uint64_t> out;
  for (std::uint64_t i = log.first_index(); i <= log.last_index(); ++i) out.push_back(*log.term(i));
  return out;
}

class RaftLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("raftio-log-" + std::to_string(::getpid()) + "-" +
                                        std::to_string(std::random_device{}()));
    reopen();
  }
  void TearDown() override {
    log_.reset();
    storage_.reset();
    fs::remove_all(dir_);
  }
  // Drops both objects (as a restart does) and loads again from disk.
  void reopen(RaftLogCacheLimits limits = {}) {
    log_.reset();
    storage_.reset();
    storage_ = std::move(*RocksdbStorage::open(dir_ / "keys"));
    log_ = RocksdbRaftLog::load(storage_->db(), limits);
  }
  template <class F>
  void write(F&& f) {
    rocksdb::WriteBatch batch;
    f(batch);
    storage_->commit(batch);
  }

  fs::path dir_;
  std::unique_ptr<RocksdbStorage> storage_;
  std::unique_ptr<RocksdbRaftLog> log_;
};

TEST_F(RaftLogTest, FreshDatabaseHasAnEmptyLog) {
  EXPECT_EQ(log_->first_index(), 1u);
  EXPECT_EQ(log_->last_index(), 0u);
  EXPECT_EQ(*log_->term(0), 0u);
  EXPECT_EQ(log_->term(1).error(), raft::Error::Unavailable);
  EXPECT_EQ(log_->entries(1, 1, 100)->size(), 0u);
  EXPECT_EQ(log_->hard_state().term(), 0u);
}

TEST_F(RaftLogTest, EntriesAndHardStateSurviveRestart) {
  write([&](rocksdb::WriteBatch& b) {
    log_->append(b, run(1, 5, 1));
    log_->set_hard_state(b, hard_state(1, 2, 3));
  });
  raft::pb::ConfState cs;
  cs.add_voters(1);
  cs.add_voters(2);
  write([&](rocksdb::WriteBatch& b) { log_->set_conf_state(b, cs); });
  reopen();
  EXPECT_EQ(log_->last_index(), 5u);
  EXPECT_EQ(log_->hard_state().vote(), 2u);
  EXPECT_EQ(log_->hard_state().commit(), 3u);
  EXPECT_EQ(log_->conf_state().voters_size(), 2);
  const auto got = log_->entries(2, 5, 1 << 20);
  ASSERT_TRUE(got.has_value());
  ASSERT_EQ(got->size(), 3u);
  EXPECT_EQ((*got)[0].data(), "cmd2");
  EXPECT_EQ((*got)[2].index(), 4u);
}

TEST_F(RaftLogTest, AppendTruncatesTheConflictingSuffixOnDisk) {
  write([&](rocksdb::WriteBatch& b) { log_->append(b, run(1, 10, 1)); });
  write([&](rocksdb::WriteBatch& b) { log_->append(b, run(5, 6, 2)); });
  EXPECT_EQ(log_->last_index(), 6u);
  EXPECT_EQ(log_->term(7).error(), raft::Error::Unavailable);
  reopen();
  EXPECT_EQ(log_->last_index(), 6u);
  EXPECT_EQ(terms(*log_), (std::vector<std::uint64_t>{1, 1, 1, 1, 2, 2}));
  // Appending right at the end extends without truncating.
  write([&](rocksdb::WriteBatch& b) { log_->append(b, run(7, 8, 2)); });
  reopen();
  EXPECT_EQ(terms(*log_), (std::vector<std::uint64_t>{1, 1, 1, 1, 2, 2, 2, 2}));
}

TEST_F(RaftLogTest, CompactDropsThePrefixBehindTheSnapshot) {
  write([&](rocksdb::WriteBatch& b) { log_->append(b, run(1, 10, 3)); });
  write([&](rocksdb::WriteBatch& b) {
    EXPECT_EQ(log_->create_snapshot(b, 7, snapshot(0, 0, {1}).conf_state()).term(), 3u);
  });
  write([&](rocksdb::WriteBatch& b) { log_->compact(b, 5); });
  for (int pass = 0; pass < 2; ++pass) {
    EXPECT_EQ(log_->first_index(), 6u);
    EXPECT_EQ(*log_->term(5), 3u);
    EXPECT_EQ(log_->term(4).error(), raft::Error::Compacted);
    EXPECT_EQ(log_->entries(5, 8, 1 << 20).error(), raft::Error::Compacted);
    EXPECT_EQ(log_->entries(6, 11, 1 << 20)->size(), 5u);
    EXPECT_EQ(log_->snapshot_metadata().index(), 7u);
    ASSERT_TRUE(log_->snapshot().has_value());
    EXPECT_EQ(log_->snapshot()->metadata().index(), 7u);
    EXPECT_EQ(log_->snapshot()->metadata().conf_state().voters_size(), 1);
    EXPECT_TRUE(log_->snapshot()->data().empty());
    reopen();
  }
  // The deleted keys are really gone: nothing but entries 6..10 under the entry prefix.
  std::unique_ptr<rocksdb::Iterator> it(storage_->db().NewIterator(rocksdb::ReadOptions()));
  int count = 0;
  for (it->Seek("r:e"); it->Valid() && it->key().starts_with("r:e"); it->Next()) ++count;
  EXPECT_EQ(count, 5);
}

TEST_F(RaftLogTest, ApplySnapshotReplacesTheWholeLog) {
  write([&](rocksdb::WriteBatch& b) { log_->append(b, run(1, 4, 1)); });
  write([&](rocksdb::WriteBatch& b) {
    log_->apply_snapshot(b, snapshot(20, 5, {1, 2, 3}));
    log_->set_hard_state(b, hard_state(5, 0, 20));
  });
  for (int pass = 0; pass < 2; ++pass) {
    EXPECT_EQ(log_->first_index(), 21u);
    EXPECT_EQ(log_->last_index(), 20u);
    EXPECT_EQ(*log_->term(20), 5u);
    EXPECT_EQ(log_->term(3).error(), raft::Error::Compacted);
    EXPECT_EQ(log_->conf_state().voters_size(), 3);
    reopen();
  }
  write([&](rocksdb::WriteBatch& b) { log_->append(b, run(21, 22, 5)); });
  reopen();
  EXPECT_EQ(terms(*log_), (std::vector<std::uint64_t>{5, 5}));
}

TEST_F(RaftLogTest, OldEntriesAreReadFromDiskBeyondTheCache) {
  reopen({.entries_max = 4, .bytes_max = 1 << 20});
  for (std::uint64_t i = 1; i <= 20; ++i) {
    write([&](rocksdb::WriteBatch& b) { log_->append(b, run(i, i, 1 + i / 10)); });
  }
  EXPECT_EQ(log_->cached_entries(), 4u);
  // One append larger than the cache is kept whole until the next append (it may be uncommitted).
  write([&](rocksdb::WriteBatch& b) { log_->append(b, run(21, 30, 3)); });
  EXPECT_EQ(log_->cached_entries(), 10u);
  const auto all = log_->entries(1, 31, 1 << 20);
  ASSERT_TRUE(all.has_value());
  ASSERT_EQ(all->size(), 30u);
  for (std::uint64_t i = 1; i <= 30; ++i) EXPECT_EQ((*all)[i - 1].index(), i);
  EXPECT_EQ(*log_->term(3), 1u);
  // A byte limit stops inside the on-disk range, and still returns one entry at least.
  EXPECT_EQ(log_->entries(1, 31, 1)->size(), 1u);
  reopen({.entries_max = 4, .bytes_max = 1 << 20});
  EXPECT_EQ(log_->cached_entries(), 4u);
  EXPECT_EQ(log_->entries(1, 31, 1 << 20)->size(), 30u);
  EXPECT_EQ(*log_->term(30), 3u);
}

TEST_F(RaftLogTest, StoreChangesAndRaftStateShareOneAtomicBatch) {
  store::Change change{store::Change::Kind::Put, "/a", {}};
  change.node.set_value("x");
  rocksdb::WriteBatch batch;
  log_->append(batch, run(1, 1, 1));
  log_->set_hard_state(batch, hard_state(1, 1, 1));
  RocksdbStorage::append(batch, {change}, 1);
  storage_->commit(batch);
  // A batch staged but never committed is lost by a crash, and with it the view it updated.
  rocksdb::WriteBatch lost;
  log_->append(lost, run(2, 2, 1));
  RocksdbStorage::append(lost, {}, 2);
  reopen();
  EXPECT_EQ(log_->last_index(), 1u);
  const RocksdbStorage::Loaded loaded = storage_->load();
  EXPECT_EQ(loaded.index, 1u);
  ASSERT_EQ(loaded.records.size(), 1u);
  EXPECT_EQ(loaded.records[0].first, "/a");
}

// The deterministic history a writer process follows: batch k appends a few entries of term k,
// starting somewhere at or before the end of the log, so that truncations happen often.
struct Step {
  std::uint64_t first;
  std::uint64_t last;
  std::uint64_t term;
};
Step step(std::uint64_t k, std::uint64_t last_index) {
  const std::uint64_t back = std::min<std::uint64_t>(last_index, k % 4);
  const std::uint64_t first = last_index + 1 - back;
  return {first, first + k % 7, k};
}

std::vector<std::uint64_t> model_terms(std::uint64_t batches) {
  std::vector<std::uint64_t> t;
  for (std::uint64_t k = 1; k <= batches; ++k) {
    const Step s = step(k, t.size());
    t.resize(s.first - 1);
    for (std::uint64_t i = s.first; i <= s.last; ++i) t.push_back(s.term);
  }
  return t;
}

TEST_F(RaftLogTest, KilledWriterLeavesACommittedPrefixOfItsBatches) {
#if defined(__SANITIZE_THREAD__)
  // The forked writer opens RocksDB, which starts threads: ThreadSanitizer ends such a child.
  GTEST_SKIP() << "ThreadSanitizer does not support threads started after fork()";
#endif
  log_.reset();
  storage_.reset();
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(fds[0]);
    auto storage = std::move(*RocksdbStorage::open(dir_ / "keys"));
    auto log = RocksdbRaftLog::load(storage->db());
    for (std::uint64_t k = 1;; ++k) {
      const Step s = step(k, log->last_index());
      rocksdb::WriteBatch batch;
      log->append(batch, run(s.first, s.last, s.term));
      log->set_hard_state(batch, hard_state(k, 1, s.first - 1));
      storage->commit(batch);
      if (::write(fds[1], &k, sizeof k) != sizeof k) ::_exit(1);
    }
  }
  ::close(fds[1]);
  std::uint64_t acknowledged = 0;
  while (acknowledged < 200) {
    ASSERT_EQ(::read(fds[0], &acknowledged, sizeof acknowledged),
              static_cast<ssize_t>(sizeof acknowledged));
  }
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  while (::read(fds[0], &acknowledged, sizeof acknowledged) == sizeof acknowledged) {
  }
  ::close(fds[0]);
  reopen();
  // Batches are atomic and synced in order: the log is the model after exactly hard_state().term()
  // batches, and that is every batch acknowledged (maybe one more, synced but not yet reported).
  const std::uint64_t batches = log_->hard_state().term();
  EXPECT_TRUE(batches == acknowledged || batches == acknowledged + 1) << batches;
  EXPECT_EQ(terms(*log_), model_terms(batches));
}

TEST_F(RaftLogTest, CheckpointInstallsAsAnotherMembersDatabase) {
  store::Change change{store::Change::Kind::Put, "/k", {}};
  change.node.set_value("v");
  write([&](rocksdb::WriteBatch& b) {
    log_->append(b, run(1, 3, 2));
    log_->set_hard_state(b, hard_state(2, 9, 3));
    RocksdbStorage::append(b, {change}, 3);
    RocksdbStorage::set_applied(b, 3);
  });
  write([&](rocksdb::WriteBatch& b) {
    log_->create_snapshot(b, 3, snapshot(0, 0, {1, 2}).conf_state());
  });
  const fs::path staged = dir_ / "staged";
  const auto files = create_checkpoint(storage_->db(), staged);
  ASSERT_TRUE(files.has_value()) << files.error();
  EXPECT_FALSE(files->empty());
  EXPECT_EQ(list_checkpoint(staged)->size(), files->size());

  // The receiver: its own database, then the checkpoint swapped in with its own hard state.
  const fs::path live = dir_ / "receiver";
  {
    auto receiver = std::move(*RocksdbStorage::open(live));
    auto receiver_log = RocksdbRaftLog::load(receiver->db());
    rocksdb::WriteBatch b;
    receiver_log->append(b, run(1, 1, 1));
    receiver->commit(b);
  }
  EXPECT_FALSE(prepare_received_checkpoint(staged, snapshot(4, 2, {1, 2}), hard_state(3, 0, 3))
                   .has_value());  // the files hold index 3, not 4
  ASSERT_TRUE(prepare_received_checkpoint(staged, snapshot(3, 2, {1, 2}), hard_state(3, 0, 3)));
  ASSERT_TRUE(swap_in_checkpoint(live, staged));
  EXPECT_FALSE(fs::exists(staged));
  auto receiver = std::move(*RocksdbStorage::open(live));
  // The log object the receiver's Node reads from stays the same one: it reloads in place.
  auto receiver_log = RocksdbRaftLog::load(storage_->db());
  EXPECT_EQ(receiver_log->last_index(), 3u);
  receiver_log->reload(receiver->db());
  EXPECT_EQ(receiver_log->hard_state().vote(), 0u);  // not the sender's vote for 9
  EXPECT_EQ(receiver_log->hard_state().term(), 3u);
  EXPECT_EQ(receiver_log->first_index(), 4u);
  EXPECT_EQ(receiver_log->last_index(), 3u);
  EXPECT_EQ(*receiver_log->term(3), 2u);
  EXPECT_EQ(receiver_log->conf_state().voters_size(), 2);
  const RocksdbStorage::Loaded loaded = receiver->load();
  EXPECT_EQ(loaded.index, 3u);
  ASSERT_EQ(loaded.records.size(), 1u);
  EXPECT_EQ(loaded.records[0].second.value(), "v");
}

TEST_F(RaftLogTest, CheckpointMovesIntoPlaceWhereNoDatabaseIsYet) {
  write([&](rocksdb::WriteBatch& b) {
    log_->append(b, run(1, 2, 1));
    RocksdbStorage::append(b, {}, 2);
    RocksdbStorage::set_applied(b, 2);
  });
  ASSERT_TRUE(create_checkpoint(storage_->db(), dir_ / "staged").has_value());
  ASSERT_TRUE(prepare_received_checkpoint(dir_ / "staged", snapshot(2, 1, {1}), hard_state(1, 0, 2),
                                          run(3, 4, 1)));
  ASSERT_TRUE(swap_in_checkpoint(dir_ / "fresh", dir_ / "staged"));
  EXPECT_FALSE(fs::exists(dir_ / "staged"));
  auto fresh = std::move(*RocksdbStorage::open(dir_ / "fresh"));
  EXPECT_EQ(fresh->load().index, 2u);
  auto log = RocksdbRaftLog::load(fresh->db());
  EXPECT_EQ(log->first_index(), 3u);
  EXPECT_EQ(log->last_index(), 4u);  // the entries of the Ready that carried the snapshot
  EXPECT_EQ(checkpoint_name(500), "00000000000001f4");
}

}  // namespace
}  // namespace discovery::server
