#pragma once
// LogStorage: the read-only view of a member's stable (persisted) log that the raft library reads.
// The caller owns the implementation and writes to it (after persisting a Ready); Node only reads.
// Not thread-safe: Node and the caller use it from the one raft loop thread.
// Invariants: first_index() >= 1, last_index() >= first_index() - 1; term(first_index() - 1) is the
// term of the entry the log was compacted behind (0 for an empty log).

#include <cstdint>
#include <vector>

#include "common/result.h"
#include "raft/raft.pb.h"

namespace raft {

enum class Error {
  Compacted = 1,        // the index lies behind the first retained entry
  Unavailable,          // the index lies beyond the last entry
  ProposalDropped,      // no leader known, or this member may not take proposals now
  UncommittedTooLarge,  // the leader's uncommitted log is above Config::max_uncommitted_bytes
  StepUnknownPeer,      // a message from a member outside the configuration
};

const char* to_string(Error error);

template <class T>
using Result = common::Result<T, Error>;

class LogStorage {
 public:
  virtual ~LogStorage() = default;
  // The persisted hard state and configuration, read once when a Node starts.
  virtual pb::HardState hard_state() const = 0;
  virtual pb::ConfState conf_state() const = 0;
  virtual uint64_t first_index() const = 0;
  virtual uint64_t last_index() const = 0;
  virtual Result<uint64_t> term(uint64_t index) const = 0;
  // Entries [lo, hi), at least one if any, then as many as fit into max_bytes.
  virtual Result<std::vector<pb::Entry>> entries(uint64_t lo, uint64_t hi,
                                                 uint64_t max_bytes) const = 0;
  // TODO(raft): snapshot() for snapshot transfer to lagging followers (#3)
};

}  // namespace raft
