#include "raft/raft_log.h"

#include <gtest/gtest.h>

#include "raft/memory_storage.h"
#include "raft/progress.h"

namespace raft {
namespace {

pb::Entry entry(uint64_t index, uint64_t term, std::string data = "") {
  pb::Entry e;
  e.set_index(index);
  e.set_term(term);
  e.set_data(std::move(data));
  return e;
}

TEST(MemoryStorage, AppendReplacesConflictingSuffix) {
  MemoryStorage storage;
  storage.append({entry(1, 1), entry(2, 1), entry(3, 1)});
  storage.append({entry(2, 2)});
  EXPECT_EQ(storage.last_index(), 2u);
  EXPECT_EQ(*storage.term(2), 2u);
  EXPECT_EQ(storage.term(3).error(), Error::Unavailable);
  EXPECT_EQ(storage.entries(0, 1, 100).error(), Error::Compacted);
}

TEST(MemoryStorage, EntriesBoundedByBytesButAtLeastOne) {
  MemoryStorage storage;
  storage.append({entry(1, 1, std::string(100, 'a')), entry(2, 1, std::string(100, 'b'))});
  EXPECT_EQ(storage.entries(1, 3, 10)->size(), 1u);
  EXPECT_EQ(storage.entries(1, 3, 1000)->size(), 2u);
}

TEST(RaftLog, UnstableShadowsStableAndStableToMovesThem) {
  MemoryStorage storage;
  storage.append({entry(1, 1), entry(2, 1)});
  RaftLog log(storage);
  log.append({entry(2, 2), entry(3, 2)});
  EXPECT_EQ(log.term(2), 2u);
  EXPECT_EQ(log.last_index(), 3u);
  storage.append(log.unstable_entries());
  log.stable_to(3, 2);
  EXPECT_TRUE(log.unstable_entries().empty());
  EXPECT_EQ(log.term(2), 2u);
  EXPECT_EQ(log.last_index(), 3u);
}

TEST(RaftLog, StableToIgnoresAReplacedEntry) {
  MemoryStorage storage;
  RaftLog log(storage);
  log.append({entry(1, 1)});
  log.append({entry(1, 2)});  // a new leader replaced it before the write finished
  log.stable_to(1, 1);
  EXPECT_EQ(log.unstable_entries().size(), 1u);
}

TEST(RaftLog, MaybeAppendKeepsLaterEntriesOnAStaleMessage) {
  MemoryStorage storage;
  RaftLog log(storage);
  ASSERT_TRUE(log.maybe_append(0, 0, 0, {entry(1, 1), entry(2, 1), entry(3, 1)}));
  auto last = log.maybe_append(0, 0, 0, {entry(1, 1)});
  ASSERT_TRUE(last);
  EXPECT_EQ(*last, 1u);
  EXPECT_EQ(log.last_index(), 3u);              // not truncated
  EXPECT_FALSE(log.maybe_append(3, 2, 0, {}));  // mismatching previous term
}

TEST(RaftLog, CommitsOnlyEntriesOfTheGivenTerm) {
  MemoryStorage storage;
  RaftLog log(storage);
  log.append({entry(1, 1), entry(2, 2)});
  EXPECT_FALSE(log.maybe_commit(1, 2));
  EXPECT_TRUE(log.maybe_commit(2, 2));
  EXPECT_EQ(log.committed(), 2u);
  log.commit_to(1);  // never backwards
  EXPECT_EQ(log.committed(), 2u);
}

TEST(RaftLog, FindConflictByTermSkipsWholeTerms) {
  MemoryStorage storage;
  RaftLog log(storage);
  log.append({entry(1, 1), entry(2, 1), entry(3, 4), entry(4, 4), entry(5, 4)});
  EXPECT_EQ(log.find_conflict_by_term(5, 3), 2u);
  EXPECT_EQ(log.find_conflict_by_term(5, 4), 5u);
  EXPECT_EQ(log.find_conflict_by_term(9, 4), 5u);
}

TEST(RaftLog, SliceIsBoundedAcrossStableAndUnstable) {
  MemoryStorage storage;
  storage.append({entry(1, 1, "aaaa"), entry(2, 1, "bbbb")});
  RaftLog log(storage);
  log.append({entry(3, 1, "cccc")});
  EXPECT_EQ(log.slice(1, 4, 1 << 20)->size(), 3u);
  EXPECT_EQ(log.slice(1, 4, 1)->size(), 1u);
  EXPECT_EQ(log.slice(2, 4, 1)->front().index(), 2u);
  EXPECT_EQ(log.slice(3, 5, 100).error(), Error::Unavailable);
}

TEST(Progress, ProbeSendsOneAtATimeAndBacksOffToTheHint) {
  Progress pr(10, 4);
  EXPECT_FALSE(pr.is_paused());
  pr.sent_entries(12, true);
  EXPECT_TRUE(pr.is_paused());
  EXPECT_FALSE(pr.maybe_decrease_to(5, 3));  // not the probe we sent (next - 1 == 9)
  EXPECT_TRUE(pr.maybe_decrease_to(9, 3));
  EXPECT_EQ(pr.next(), 4u);
  EXPECT_FALSE(pr.is_paused());
}

TEST(Progress, ReplicateWindowPausesWhenFull) {
  Progress pr(1, 2);
  pr.maybe_update(0);
  pr.become_replicate();
  pr.sent_entries(3, true);
  pr.sent_entries(5, true);
  EXPECT_TRUE(pr.is_paused());
  EXPECT_EQ(pr.next(), 6u);
  EXPECT_TRUE(pr.maybe_update(3));
  EXPECT_FALSE(pr.is_paused());
  EXPECT_FALSE(pr.maybe_update(2));  // stale
}

TEST(MemoryStorage, SnapshotCompactAndApply) {
  MemoryStorage storage;
  storage.append({entry(1, 1, "a"), entry(2, 1, "b"), entry(3, 2, "c")});
  pb::ConfState conf;
  conf.add_voters(1);
  auto snap = storage.create_snapshot(2, conf, "ab");
  ASSERT_TRUE(snap.has_value());
  EXPECT_EQ(snap->metadata().term(), 1u);
  EXPECT_EQ(storage.create_snapshot(2, conf, "ab").error(), Error::SnapshotOutOfDate);
  ASSERT_TRUE(storage.compact(2).has_value());
  EXPECT_EQ(storage.first_index(), 3u);
  EXPECT_EQ(*storage.term(2), 1u);  // the term behind the log stays known
  EXPECT_EQ(storage.entries(2, 4, 100).error(), Error::Compacted);
  EXPECT_EQ(storage.snapshot()->data(), "ab");
  // A snapshot from the leader replaces everything.
  pb::Snapshot newer;
  newer.mutable_metadata()->set_index(10);
  newer.mutable_metadata()->set_term(3);
  *newer.mutable_metadata()->mutable_conf_state() = conf;
  ASSERT_TRUE(storage.apply_snapshot(newer).has_value());
  EXPECT_EQ(storage.first_index(), 11u);
  EXPECT_EQ(storage.last_index(), 10u);
  EXPECT_EQ(*storage.term(10), 3u);
  EXPECT_EQ(storage.conf_state().voters_size(), 1);
  EXPECT_EQ(storage.apply_snapshot(newer).error(), Error::SnapshotOutOfDate);
}

TEST(RaftLog, RestoreReplacesTheLogUntilPersisted) {
  MemoryStorage storage;
  storage.append({entry(1, 1), entry(2, 1)});
  RaftLog log(storage);
  pb::Snapshot snap;
  snap.mutable_metadata()->set_index(5);
  snap.mutable_metadata()->set_term(2);
  log.restore(snap);
  EXPECT_EQ(log.first_index(), 6u);
  EXPECT_EQ(log.last_index(), 5u);
  EXPECT_EQ(log.term(5), 2u);
  EXPECT_EQ(log.term(2), 0u);  // storage is stale until the snapshot is persisted
  EXPECT_EQ(log.committed(), 5u);
  EXPECT_FALSE(log.has_next_committed_entries());
  log.append({entry(6, 2)});
  EXPECT_EQ(log.last_index(), 6u);
  ASSERT_TRUE(storage.apply_snapshot(snap).has_value());
  log.stable_snapshot_to(5);
  log.applied_to(5);
  EXPECT_FALSE(log.unstable_snapshot().has_value());
  EXPECT_EQ(log.first_index(), 6u);
  EXPECT_EQ(log.term(6), 2u);
}

TEST(Progress, SnapshotStatePausesAndResumesAfterTheSnapshot) {
  Progress pr(3, 4);
  pr.become_snapshot(10);
  EXPECT_TRUE(pr.is_paused());
  pr.become_probe();
  EXPECT_EQ(pr.next(), 11u);  // the follower holds the snapshot
  pr.become_snapshot(10);
  pr.abort_snapshot();
  pr.become_probe();
  EXPECT_EQ(pr.next(), 1u);  // failed: probe from match again
}

}  // namespace
}  // namespace raft
