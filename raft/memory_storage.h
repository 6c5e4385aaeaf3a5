#pragma once
// MemoryStorage: a LogStorage held in memory, for tests and the simulation. The owner writes what
// each Ready asks to persist (apply_snapshot, set_hard_state, append) and compacts the log behind
// snapshots it makes. Not thread-safe. Invariant: entries_[0] is a dummy entry holding the index
// and term the log starts behind (the snapshot's), so entries_[i].index() == entries_[0].index() +
// i.

#include <string>
#include <vector>

#include "raft/storage.h"

namespace raft {

class MemoryStorage : public LogStorage {
 public:
  explicit MemoryStorage(pb::ConfState conf_state = {});

  pb::HardState hard_state() const override { return hard_state_; }
  pb::ConfState conf_state() const override { return conf_state_; }
  uint64_t first_index() const override;
  uint64_t last_index() const override;
  Result<uint64_t> term(uint64_t index) const override;
  Result<std::vector<pb::Entry>> entries(uint64_t lo, uint64_t hi,
                                         uint64_t max_bytes) const override;
  Result<pb::Snapshot> snapshot() const override { return snapshot_; }

  void set_hard_state(const pb::HardState& hard_state) { hard_state_ = hard_state; }
  // The configuration the application reached by applying conf changes (Node::apply_conf_change).
  void set_conf_state(const pb::ConfState& conf_state) { conf_state_ = conf_state; }
  // Appends entries, replacing any stored entries from the first new index on (a conflict the
  // leader resolved). Entries must be contiguous and start at most at last_index() + 1, and after
  // the snapshot.
  void append(const std::vector<pb::Entry>& entries);
  // Replaces the whole log with a snapshot received from the leader (Ready::snapshot).
  // Error::SnapshotOutOfDate if it is not newer than the one held.
  Result<void> apply_snapshot(pb::Snapshot snapshot);
  // Records a snapshot of the application's state as of the applied entry `index` (at most
  // last_index()). Does not compact: call compact() when the log behind it may go.
  // Error::SnapshotOutOfDate if index is not after the held snapshot.
  Result<pb::Snapshot> create_snapshot(uint64_t index, const pb::ConfState& conf_state,
                                       std::string data);
  // Discards the entries up to and including index; a no-op for an index already compacted. The
  // index must be at most the held snapshot's (create_snapshot first): a follower that needs a
  // discarded entry gets the snapshot instead, so it must cover everything discarded.
  Result<void> compact(uint64_t index);

 private:
  pb::HardState hard_state_;
  pb::ConfState conf_state_;
  pb::Snapshot snapshot_;
  std::vector<pb::Entry> entries_;
};

}  // namespace raft
