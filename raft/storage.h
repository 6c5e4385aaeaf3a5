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
  SnapshotTemporarilyUnavailable,  // LogStorage::snapshot(): not ready yet, ask again later
  SnapshotOutOfDate,               // the snapshot is older than what the storage holds
  ConfChangePending,               // another membership change is not yet committed and applied
  ConfChangeInvalid,               // the change would leave no voter, or names no member (id 0)
  ReadIndexQueueFull,              // more pending reads than Config::max_pending_reads
  TransferTargetInvalid,           // leadership can only go to a voter of the configuration
};

const char* to_string(Error error);

template <class T>
using Result = common::Result<T, Error>;

class LogStorage {
 public:
  virtual ~LogStorage() = default;
  // The persisted hard state and configuration, read once when a Node starts. conf_state() is the
  // configuration as of Config::applied (the last snapshot's, plus the changes applied since).
  virtual pb::HardState hard_state() const = 0;
  virtual pb::ConfState conf_state() const = 0;
  virtual uint64_t first_index() const = 0;
  virtual uint64_t last_index() const = 0;
  virtual Result<uint64_t> term(uint64_t index) const = 0;
  // Entries [lo, hi), at least one if any, then as many as fit into max_bytes.
  virtual Result<std::vector<pb::Entry>> entries(uint64_t lo, uint64_t hi,
                                                 uint64_t max_bytes) const = 0;
  // The most recent snapshot; its metadata.index is at least first_index() - 1. The leader sends
  // it to a follower whose next entry is compacted away. May return
  // Error::SnapshotTemporarilyUnavailable while one is being made; the leader retries later.
  virtual Result<pb::Snapshot> snapshot() const = 0;
};

}  // namespace raft
