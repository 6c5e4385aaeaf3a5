#pragma once
// MemoryStorage: a LogStorage held in memory, for tests and the simulation. The owner appends what
// each Ready asks to persist. Not thread-safe. Invariant: entries_[0] is a dummy entry holding the
// index and term the log starts behind, so entries_[i].index() == entries_[0].index() + i.

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

  void set_hard_state(const pb::HardState& hard_state) { hard_state_ = hard_state; }
  // Appends entries, replacing any stored entries from the first new index on (a conflict the
  // leader resolved). Entries must be contiguous and start at most at last_index() + 1.
  void append(const std::vector<pb::Entry>& entries);
  // TODO(raft): apply_snapshot() and compact() (#3)

 private:
  pb::HardState hard_state_;
  pb::ConfState conf_state_;
  std::vector<pb::Entry> entries_;
};

}  // namespace raft
