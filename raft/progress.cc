#include "raft/progress.h"

#include <algorithm>

namespace raft {

void Progress::become_probe() {
  // After a snapshot the follower holds everything up to it even before it says so.
  next_ = state_ == State::Snapshot ? std::max(match_, pending_snapshot_) + 1 : match_ + 1;
  state_ = State::Probe;
  probe_sent_ = false;
  pending_snapshot_ = 0;
  inflight_.clear();
}

void Progress::become_snapshot(uint64_t snapshot_index) {
  state_ = State::Snapshot;
  probe_sent_ = false;
  pending_snapshot_ = snapshot_index;
  snapshot_heartbeats_ = 0;
  inflight_.clear();
}

void Progress::become_replicate() {
  state_ = State::Replicate;
  probe_sent_ = false;
  pending_snapshot_ = 0;
  inflight_.clear();
  next_ = match_ + 1;
}

bool Progress::maybe_update(uint64_t index) {
  bool updated = false;
  if (index > match_) {
    match_ = index;
    updated = true;
    probe_sent_ = false;
  }
  next_ = std::max(next_, index + 1);
  // Acknowledged messages leave the window.
  while (!inflight_.empty() && inflight_.front() <= index) inflight_.pop_front();
  return updated;
}

void Progress::sent_entries(uint64_t last, bool had_entries) {
  if (state_ == State::Replicate) {
    if (had_entries) {
      next_ = last + 1;
      inflight_.push_back(last);
    }
  } else {
    probe_sent_ = true;
  }
}

bool Progress::maybe_decrease_to(uint64_t rejected, uint64_t hint) {
  if (state_ == State::Replicate) {
    // A rejection of an index at or below match is from an older message.
    if (rejected <= match_) return false;
    next_ = match_ + 1;  // the caller turns this into Probe
    return true;
  }
  // In Probe only the rejection of the message just sent (next - 1) counts.
  if (next_ == 0 || next_ - 1 != rejected) return false;
  const uint64_t next = std::max(std::min(rejected, hint + 1), match_ + 1);
  // No lower index to try: probing again at once would repeat the same rejection in a loop, so
  // the probe stays paused until the next heartbeat response.
  if (next == next_) return false;
  next_ = next;
  probe_sent_ = false;
  return true;
}

bool Progress::is_paused() const {
  if (state_ == State::Snapshot) return true;
  if (state_ == State::Probe) return probe_sent_;
  return inflight_.size() >= max_inflight_;
}

void Progress::on_heartbeat_response() {
  if (state_ == State::Snapshot) {
    ++snapshot_heartbeats_;
  } else if (state_ == State::Probe) {
    probe_sent_ = false;
  } else if (!inflight_.empty() && inflight_.size() >= max_inflight_) {
    inflight_.pop_front();
  }
}

}  // namespace raft
