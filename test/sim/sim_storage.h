#pragma once
// SimStorage: a member's simulated disk for test/sim. It separates what was written (visible to
// the running Node, as a page cache would be) from what was synced (what survives a crash): every
// write is queued until sync(), and crash() throws away whatever was not synced. Owned by one
// simulated member; the Node reads it through LogStorage. Not thread-safe (the simulation is
// single-threaded). Invariant: synced_ is written_ as it was at the last sync().

#include <string>
#include <variant>
#include <vector>

#include "raft/memory_storage.h"

namespace raft::sim {

class SimStorage : public LogStorage {
 public:
  explicit SimStorage(const pb::ConfState& conf_state);

  pb::HardState hard_state() const override { return written_.hard_state(); }
  pb::ConfState conf_state() const override { return written_.conf_state(); }
  uint64_t first_index() const override { return written_.first_index(); }
  uint64_t last_index() const override { return written_.last_index(); }
  Result<uint64_t> term(uint64_t index) const override { return written_.term(index); }
  Result<std::vector<pb::Entry>> entries(uint64_t lo, uint64_t hi,
                                         uint64_t max_bytes) const override {
    return written_.entries(lo, hi, max_bytes);
  }
  Result<pb::Snapshot> snapshot() const override { return written_.snapshot(); }

  // Writes, visible at once, durable only after sync().
  void set_hard_state(const pb::HardState& hard_state);
  void append(const std::vector<pb::Entry>& entries);
  void set_conf_state(const pb::ConfState& conf_state);
  // A snapshot received from the leader (Ready::snapshot): replaces the log.
  Result<void> apply_snapshot(const pb::Snapshot& snapshot);
  // The application's own snapshot at applied index `index`, then compaction up to compact_to.
  Result<void> create_snapshot(uint64_t index, const pb::ConfState& conf_state,
                               const std::string& data, uint64_t compact_to);

  // Makes every write so far durable (an fsync that succeeded).
  void sync();
  // Loses every write since the last sync(): the disk after a power cut.
  void crash();

  bool has_unsynced() const { return !pending_.empty(); }
  const MemoryStorage& synced() const { return synced_; }

 private:
  struct CreateSnapshot {
    uint64_t index;
    pb::ConfState conf_state;
    std::string data;
    uint64_t compact_to;
  };
  using Op = std::variant<pb::HardState, std::vector<pb::Entry>, pb::ConfState, pb::Snapshot,
                          CreateSnapshot>;
  static Result<void> replay(MemoryStorage& storage, const Op& op);

  MemoryStorage written_;
  MemoryStorage synced_;
  std::vector<Op> pending_;  // writes since the last sync, in order
};

}  // namespace raft::sim
