#pragma once
// RaftLog: a member's view of the log, the stable entries in LogStorage followed by the unstable
// part not yet persisted: a snapshot received from the leader (which replaces all of storage) and
// entries (handed out by Ready, dropped from here by stable_*_to()). Owned by the Node; not
// thread-safe. Invariants: applied <= committed <= last_index(); unstable_[i] has index
// unstable_offset_ + i; stable entries at or above unstable_offset_ are shadowed by unstable ones;
// with an unstable snapshot, unstable_offset_ == its index + 1 and storage is not read.

#include <cstdint>
#include <optional>
#include <vector>

#include "raft/storage.h"

namespace raft {

class RaftLog {
 public:
  // applied: the index the application has already applied (Config::applied); committed entries
  // at or below it are not handed out again.
  explicit RaftLog(const LogStorage& storage, uint64_t applied = 0);

  uint64_t first_index() const;
  uint64_t last_index() const;
  // The last index known to be in LogStorage (what the leader may count as its own match).
  uint64_t stable_last_index() const;
  uint64_t last_term() const;
  // Term of the entry at index; 0 if the index is out of range (compacted or not yet written).
  uint64_t term(uint64_t index) const;
  bool match_term(uint64_t index, uint64_t term_) const { return term(index) == term_; }
  // Is a log ending at (last_index, last_term) at least as up to date as ours? (Raft §5.4.1)
  bool is_up_to_date(uint64_t last_index, uint64_t last_term) const;

  // A follower receiving MsgApp(prev index, prev term, entries, commit): appends if the previous
  // entry matches and returns the index of the last new entry; nullopt on mismatch.
  std::optional<uint64_t> maybe_append(uint64_t index, uint64_t log_term, uint64_t committed,
                                       const std::vector<pb::Entry>& entries);
  uint64_t append(const std::vector<pb::Entry>& entries);
  // For a rejection: the largest index <= index whose term is <= term (the fast back-off hint).
  uint64_t find_conflict_by_term(uint64_t index, uint64_t term_) const;

  // Commits up to max_index if that entry has the given term (only current-term entries are
  // committed by counting, Raft §5.4.2). Returns whether the commit index moved.
  bool maybe_commit(uint64_t max_index, uint64_t term_);
  void commit_to(uint64_t index);
  void applied_to(uint64_t index);
  void stable_to(uint64_t index, uint64_t term_);
  // A snapshot from the leader replaces the whole log and commits up to its index; it waits in
  // unstable until persisted (stable_snapshot_to).
  void restore(pb::Snapshot snapshot);
  void stable_snapshot_to(uint64_t index);
  const std::optional<pb::Snapshot>& unstable_snapshot() const { return unstable_snapshot_; }
  // The snapshot to send a follower: the unstable one, else the storage's.
  Result<pb::Snapshot> snapshot() const;

  // Entries [lo, hi) from storage and unstable, bounded by max_bytes (at least one entry).
  Result<std::vector<pb::Entry>> slice(uint64_t lo, uint64_t hi, uint64_t max_bytes) const;
  const std::vector<pb::Entry>& unstable_entries() const { return unstable_; }
  std::vector<pb::Entry> next_committed_entries(uint64_t max_bytes) const;
  bool has_next_committed_entries() const;

  uint64_t committed() const { return committed_; }
  uint64_t applied() const { return applied_; }

 private:
  uint64_t find_conflict(const std::vector<pb::Entry>& entries) const;

  const LogStorage& storage_;
  std::optional<pb::Snapshot> unstable_snapshot_;
  std::vector<pb::Entry> unstable_;
  uint64_t unstable_offset_;
  uint64_t committed_;
  uint64_t applied_;
};

}  // namespace raft
