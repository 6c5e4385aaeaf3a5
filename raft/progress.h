#pragma once
// Progress: what the leader knows about one follower's log, and the flow control of what it sends.
// Owned by the leader's Node; not thread-safe. Invariants: match < next; in Probe at most one
// MsgApp is outstanding (probe_sent); in Replicate at most max_inflight MsgApps are unacknowledged,
// and the inflight window holds their last indexes in increasing order.

#include <cstddef>
#include <cstdint>
#include <deque>

namespace raft {

class Progress {
 public:
  enum class State {
    Probe,      // next is a guess; send one MsgApp per heartbeat until one is accepted
    Replicate,  // next is known; stream MsgApps optimistically up to the inflight window
    // TODO(raft): Snapshot state while a snapshot is in flight (#3)
  };

  Progress(uint64_t next, size_t max_inflight) : next_(next), max_inflight_(max_inflight) {}

  State state() const { return state_; }
  uint64_t match() const { return match_; }
  uint64_t next() const { return next_; }
  bool recent_active() const { return recent_active_; }
  void set_recent_active(bool active) { recent_active_ = active; }

  void become_probe();
  void become_replicate();
  // An accepted append up to index. Returns false if the news is stale.
  bool maybe_update(uint64_t index);
  // A MsgApp ending at last was sent: in Replicate next moves on optimistically.
  void sent_entries(uint64_t last, bool had_entries);
  // A rejection of the MsgApp at rejected with the follower's hint. Returns false if stale.
  bool maybe_decrease_to(uint64_t rejected, uint64_t hint);
  bool is_paused() const;
  // A heartbeat response frees one slot so a full window cannot stall forever.
  void on_heartbeat_response();

 private:
  State state_ = State::Probe;
  uint64_t match_ = 0;
  uint64_t next_;
  bool probe_sent_ = false;
  bool recent_active_ = false;
  size_t max_inflight_;
  std::deque<uint64_t> inflight_;
};

}  // namespace raft
