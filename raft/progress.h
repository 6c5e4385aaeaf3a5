#pragma once
// Progress: what the leader knows about one follower's log, and the flow control of what it sends.
// Owned by the leader's Node; not thread-safe. Invariants: match < next; in Probe at most one
// MsgApp is outstanding (probe_sent); in Replicate at most max_inflight MsgApps are unacknowledged,
// and the inflight window holds their last indexes in increasing order; in Snapshot no MsgApp is
// sent until the follower acknowledges pending_snapshot (or the transfer is reported failed).

#include <cstddef>
#include <cstdint>
#include <deque>

namespace raft {

class Progress {
 public:
  enum class State {
    Probe,      // next is a guess; send one MsgApp per heartbeat until one is accepted
    Replicate,  // next is known; stream MsgApps optimistically up to the inflight window
    Snapshot,   // a snapshot ending at pending_snapshot is on its way; send nothing else
  };

  Progress(uint64_t next, size_t max_inflight) : next_(next), max_inflight_(max_inflight) {}

  State state() const { return state_; }
  uint64_t match() const { return match_; }
  uint64_t next() const { return next_; }
  bool recent_active() const { return recent_active_; }
  void set_recent_active(bool active) { recent_active_ = active; }

  bool is_learner() const { return learner_; }
  void set_learner(bool learner) { learner_ = learner; }
  uint64_t pending_snapshot() const { return pending_snapshot_; }

  // From Snapshot, next resumes after the snapshot if it arrived (match >= pending_snapshot).
  void become_probe();
  void become_replicate();
  void become_snapshot(uint64_t snapshot_index);
  // The snapshot transfer failed: the next probe starts from match again.
  void abort_snapshot() { pending_snapshot_ = 0; }
  // Wait for the follower's answer (or a heartbeat response) before probing.
  void pause_probe() { probe_sent_ = true; }
  // In Snapshot: heartbeat responses seen since the transfer began. Chunks and heartbeats share
  // the path to the follower, so many responses without the snapshot's acknowledgement mean a
  // chunk was lost without the follower noticing (the last one).
  int snapshot_heartbeats() const { return snapshot_heartbeats_; }
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
  bool learner_ = false;
  uint64_t pending_snapshot_ = 0;
  int snapshot_heartbeats_ = 0;
  size_t max_inflight_;
  std::deque<uint64_t> inflight_;
};

}  // namespace raft
