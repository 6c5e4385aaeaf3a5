#pragma once
// RocksdbRaftLog: the member's raft log, hard state, configuration and snapshot metadata, kept in
// the same RocksDB as the key space (RocksdbStorage) so that one synced WriteBatch can carry a
// Ready's entries and hard state, and the applied index can share the batch of the applied
// changes.
//
// Layout (every key starts "r:", disjoint from the store's "k..." and "m:index"):
//   "r:e" + 8-byte big-endian index -> raft::pb::Entry   the retained log, contiguous
//   "r:hs"                          -> raft::pb::HardState
//   "r:cs"                          -> raft::pb::ConfState   configuration at the applied index
//   "r:base"                        -> raft::pb::Entry (index, term only)   the log starts behind
//   it "r:snap"                        -> raft::pb::SnapshotMetadata   latest snapshot
//   made/installed
// Big-endian indexes sort numerically, so a range delete drops a log suffix or prefix.
//
// Ownership: owned by the raft loop; `db` (from RocksdbStorage::db()) must outlive it, or be
// replaced through reload(). Threads:
// not thread-safe; every call comes from the raft strand. Node reads it through LogStorage.
//
// Write contract: every mutator adds its writes to the caller's `batch` and updates the in-memory
// view at once. The caller must commit that batch (synced, RocksdbStorage::commit) before it
// calls Node again (step, tick, advance) or starts the next mutation batch; a failed commit aborts
// the process, so the view never outlives a lost write.
//
// Cache: the tail of the log (at least every entry of the latest append, then up to
// cache_entries_max / cache_bytes_max) is held in memory, so term() and entries() for the range a
// leader replicates from never read RocksDB. Older entries are read from RocksDB on demand.
//
// Invariants: base_index() < first_index() == base_index() + 1 <= last_index() + 1; the stored
// entries are exactly (base_index(), last_index()]; base_index() <= snapshot_metadata().index()
// (the log is only compacted behind a snapshot, so a lagging follower can always be caught up).
// Node::Config::applied must be the store's applied index ("m:index"); conf_state() is the
// configuration at that index, as raft::LogStorage requires.

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "raft/storage.h"

namespace discovery::server {

struct RaftLogCacheLimits {
  std::size_t entries_max = 4096;
  std::uint64_t bytes_max = 16 << 20;
};

class RocksdbRaftLog final : public raft::LogStorage {
 public:
  // Reads the raft state stored in `db` (an empty log for a fresh database). CHECKs that the
  // stored log is contiguous and starts right after the base; corrupt records abort.
  static std::unique_ptr<RocksdbRaftLog> load(rocksdb::DB& db, RaftLogCacheLimits limits = {});

  // raft::LogStorage.
  raft::pb::HardState hard_state() const override { return hard_state_; }
  raft::pb::ConfState conf_state() const override { return conf_state_; }
  std::uint64_t first_index() const override { return base_.index() + 1; }
  std::uint64_t last_index() const override { return last_index_; }
  raft::Result<std::uint64_t> term(std::uint64_t index) const override;
  raft::Result<std::vector<raft::pb::Entry>> entries(std::uint64_t lo, std::uint64_t hi,
                                                     std::uint64_t max_bytes) const override;

  // The latest snapshot made (create_snapshot) or installed (apply_snapshot); index 0 if none.
  // Its data is empty: the snapshot's content is the RocksDB checkpoint that the raft loop keeps
  // under checkpoint_name(metadata.index()) (snapshot_checkpoint.h) and the peer transport
  // streams beside the MsgSnap, so the one MsgSnap that Node makes of it stays tiny.
  raft::Result<raft::pb::Snapshot> snapshot() const override;
  const raft::pb::SnapshotMetadata& snapshot_metadata() const { return snapshot_; }
  std::uint64_t base_index() const { return base_.index(); }

  // Appends `entries` (contiguous, first index in (base_index(), last_index() + 1]), replacing
  // every stored entry from the first new index on: a conflicting suffix the leader overwrote.
  void append(rocksdb::WriteBatch& batch, const std::vector<raft::pb::Entry>& entries);
  void set_hard_state(rocksdb::WriteBatch& batch, const raft::pb::HardState& hard_state);
  // Records the configuration in force at the applied index; the caller puts it in the batch that
  // applies the configuration change, beside the store's applied index.
  void set_conf_state(rocksdb::WriteBatch& batch, const raft::pb::ConfState& conf_state);

  // Records that a snapshot (a checkpoint of this database, see snapshot_checkpoint.h) of the state
  // at the applied entry `index` now exists, with the configuration in force there. Precondition:
  // index in [max(base_index(), snapshot_metadata().index()), last_index()] (CHECKed; re-creating
  // the held snapshot's index is allowed, for a checkpoint lost in a crash). Returns the metadata.
  raft::pb::SnapshotMetadata create_snapshot(rocksdb::WriteBatch& batch, std::uint64_t index,
                                             const raft::pb::ConfState& conf_state);
  // Installs a snapshot received from the leader: the whole log is dropped (it conflicts or lies
  // behind), the log restarts behind metadata.index(), the configuration becomes the snapshot's.
  // Precondition: metadata.index() > base_index() (Node never installs an older snapshot).
  void apply_snapshot(rocksdb::WriteBatch& batch, const raft::pb::SnapshotMetadata& metadata);
  // Drops the entries up to `index` (a range delete). Precondition: index <= last_index() and
  // index <= snapshot_metadata().index(). Compacting at or behind base_index() does nothing.
  void compact(rocksdb::WriteBatch& batch, std::uint64_t index);

  // Reloads everything from `db`, which replaced the database this log read before (a received
  // snapshot was swapped in and reopened). Node keeps its reference to this object throughout.
  void reload(rocksdb::DB& db);

  // Entries currently served from memory (for tests and metrics).
  std::size_t cached_entries() const { return cache_.size(); }

 private:
  RocksdbRaftLog(rocksdb::DB& db, RaftLogCacheLimits limits) : db_(&db), limits_(limits) {}
  void load_state();
  void load_tail();
  std::uint64_t cache_first() const { return last_index_ + 1 - cache_.size(); }
  void trim_cache();
  raft::pb::Entry read_entry(std::uint64_t index) const;

  rocksdb::DB* db_;  // never null
  const RaftLogCacheLimits limits_;
  raft::pb::HardState hard_state_;
  raft::pb::ConfState conf_state_;
  raft::pb::Entry base_;  // index and term the log starts behind
  raft::pb::SnapshotMetadata snapshot_;
  std::uint64_t last_index_ = 0;
  std::deque<raft::pb::Entry> cache_;  // entries (last_index_ - size, last_index_]
  std::uint64_t cache_bytes_ = 0;
  std::size_t last_append_count_ = 0;  // entries of the latest append, never trimmed
};

}  // namespace discovery::server
