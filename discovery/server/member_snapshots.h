#pragma once
// MemberSnapshots: the raft snapshots of one member (snapshot_checkpoint.h explains why a snapshot
// is a RocksDB checkpoint): the ones it takes of its own database, after which it compacts the raft
// log; the checkpoints it lends the peer transport for lagging or new followers; and the ones it
// receives, which it installs in place of its database.
//
// On disk: <dir>/<checkpoint_name(index)> holds the checkpoint of the snapshot whose metadata the
// raft log keeps ("r:snap"); older checkpoints stay only while a transfer still reads them. A
// checkpoint is made from the live database right after the batch that applied entry `index` was
// committed, so its store and "m:applied" reflect exactly that index.
//
// Ownership: owned by the Member; `storage` and `log` (the Member's) must outlive it. Threads: the
// raft strand only. Every call is blocking file I/O (a memtable flush and hard links to take a
// snapshot; a database close, directory exchange and reopen to install one).
//
// Invariants: whenever log.snapshot_metadata().index() > 0 after recover(), its checkpoint
// exists (take() and install() make it before they return; recover() remakes one lost in a
// crash); the log is compacted only behind that snapshot, so a follower that needs a discarded
// entry can always be sent the snapshot instead; at most one lent checkpoint per peer.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/metrics.h"
#include "common/result.h"
#include "discovery/server/rocksdb_raft_log.h"
#include "discovery/server/rocksdb_storage.h"
#include "raft/raft.pb.h"

namespace discovery::server {

struct SnapshotPolicy {
  // etcd's --snapshot-count: a snapshot is taken once more than this many entries were applied
  // since the last one. 0 means etcd's default.
  std::uint64_t count = 100000;
  // Entries kept behind a snapshot when compacting, so that a follower only slightly behind is
  // caught up from the log rather than with a whole snapshot (etcd keeps 5000).
  std::uint64_t catch_up_entries = 5000;
};

inline constexpr std::uint64_t kDefaultSnapshotCount = 100000;

// The series a member's snapshots update; null until set.
struct SnapshotMetrics {
  common::metrics::Counter* taken = nullptr;
  common::metrics::Counter* installed = nullptr;
  common::metrics::Histogram* seconds = nullptr;  // one take or install, checkpoint included
};

class MemberSnapshots {
 public:
  MemberSnapshots(std::filesystem::path dir, SnapshotPolicy policy, RocksdbStorage& storage,
                  RocksdbRaftLog& log);

  void set_metrics(SnapshotMetrics metrics) { metrics_ = metrics; }

  // At start, with `applied` the store's raft index ("m:applied"): creates the directory, removes
  // every checkpoint but the current snapshot's (leftovers of a crash), and takes a new snapshot at
  // `applied` if the current one's checkpoint is missing. Error: the directory or the checkpoint
  // cannot be made.
  common::Result<void, std::string> recover(std::uint64_t applied);

  // Whether enough entries were applied since the last snapshot to take one (etcd's rule).
  bool due(std::uint64_t applied) const;

  // Takes a snapshot at `applied`: a checkpoint, then (one synced batch) the snapshot metadata
  // with the configuration in force there and the log compacted up to applied - keep_entries.
  // Preconditions: every apply up to `applied` is committed to the database and no batch is in
  // flight; applied >= the current snapshot's index. Error: the checkpoint failed (nothing
  // changed; the next call tries again).
  common::Result<void, std::string> take(std::uint64_t applied, std::uint64_t keep_entries);
  common::Result<void, std::string> take(std::uint64_t applied) {
    return take(applied, policy_.catch_up_entries);
  }

  // The checkpoint of the snapshot at `index` for a transfer to `peer`, kept until release(peer);
  // nullopt if it is gone (a newer snapshot replaced it) or that peer already has one lent.
  std::optional<std::filesystem::path> lend(std::uint64_t peer, std::uint64_t index);
  // The transfer to `peer` ended; a checkpoint no longer current nor lent is removed.
  void release(std::uint64_t peer);
  bool lent_to(std::uint64_t peer) const { return lent_.contains(peer); }

  // Checks a received checkpoint before its MsgSnap goes to raft: the files open as a database
  // whose applied raft index is metadata.index(). Error: they do not (the transfer is dropped).
  static common::Result<void, std::string> verify_received(
      const std::filesystem::path& staged, const raft::pb::SnapshotMetadata& metadata);

  // Installs a received snapshot (a Ready carried it): the staged checkpoint gets this member's
  // hard state, the snapshot's log base and configuration, and the Ready's `entries`, then
  // replaces the live database atomically; the log reloads from it and a checkpoint of it becomes
  // this member's own snapshot (it may lead next). The caller then reloads its store from the
  // storage. A failure aborts the process: raft already counts the snapshot as persisted.
  void install(const std::filesystem::path& staged, const raft::pb::SnapshotMetadata& metadata,
               const raft::pb::HardState& hard_state, const std::vector<raft::pb::Entry>& entries);

  std::uint64_t index() const { return log_.snapshot_metadata().index(); }
  // Whether the current snapshot's checkpoint exists (false when there is no snapshot).
  bool has_checkpoint() const {
    return index() > 0 && std::filesystem::exists(checkpoint_dir(index()));
  }
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path checkpoint_dir(std::uint64_t index) const;
  common::Result<void, std::string> make_checkpoint(std::uint64_t index);
  // Removes every checkpoint directory that is neither the current snapshot's nor lent.
  void prune();
  void observe(std::chrono::steady_clock::time_point start) const;

  const std::filesystem::path dir_;
  const SnapshotPolicy policy_;
  RocksdbStorage& storage_;
  RocksdbRaftLog& log_;
  SnapshotMetrics metrics_;
  std::map<std::uint64_t, std::uint64_t> lent_;  // peer -> snapshot index
};

}  // namespace discovery::server
