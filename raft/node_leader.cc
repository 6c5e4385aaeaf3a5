// The leader's side of Node: proposals, replication with flow control, heartbeats, check-quorum,
// snapshots for lagging followers and leadership transfer.
#include <algorithm>

#include "common/check.h"
#include "raft/node.h"

namespace raft {

Result<void> Node::step_leader(const pb::Message& m) {
  switch (m.type()) {
    case pb::MsgProp:
      return append_proposal(m);
    case pb::MsgCheckQuorum:
      check_quorum_active();
      return {};
    case pb::MsgReadIndex:
      return handle_read_index(m);
    case pb::MsgTransferLeader: {
      Result<void> result;
      handle_transfer_leader(m, result);
      return result;
    }
    default:
      break;
  }
  auto it = progress_.find(m.from());
  if (it == progress_.end()) return Error::StepUnknownPeer;
  switch (m.type()) {
    case pb::MsgAppResp:
      handle_append_response(m);
      break;
    case pb::MsgHeartbeatResp:
      handle_heartbeat_response(m);
      break;
    case pb::MsgSnapStatus:
      handle_snap_status(m);
      break;
    case pb::MsgUnreachable:
      // Streaming to an unreachable member only fills the transport's queue.
      if (it->second.state() == Progress::State::Replicate) it->second.become_probe();
      break;
    default:
      break;
  }
  return {};
}

Result<void> Node::append_proposal(const pb::Message& m) {
  if (m.entries().empty()) return {};
  if (progress_.count(id_) == 0) return Error::ProposalDropped;
  // During a transfer new entries would only delay the transferee's catching up (thesis §3.10).
  if (lead_transferee_ != kNone) return Error::ProposalDropped;
  uint64_t bytes = 0;
  for (const pb::Entry& entry : m.entries()) bytes += entry.data().size();
  // One proposal is always let through, so a single large one cannot block the log forever.
  if (uncommitted_bytes_ > 0 && uncommitted_bytes_ + bytes > config_.max_uncommitted_bytes) {
    return Error::UncommittedTooLarge;
  }
  uint64_t index = log_.last_index();
  for (const pb::Entry& entry : m.entries()) {
    ++index;
    if (entry.type() == pb::EntryConfChange) pending_conf_index_ = index;
  }
  append_entries({m.entries().begin(), m.entries().end()});
  broadcast_append();
  return {};
}

// Appends to the leader's log. The leader does not count these entries as its own match yet: it
// does once the owner reports them persisted (advance), see "the leader's own disk write".
void Node::append_entries(std::vector<pb::Entry> entries) {
  uint64_t index = log_.last_index();
  for (pb::Entry& entry : entries) {
    entry.set_term(term_);
    entry.set_index(++index);
    uncommitted_bytes_ += entry.data().size();
  }
  log_.append(entries);
}

bool Node::maybe_commit() {
  std::vector<uint64_t> matches;
  matches.reserve(progress_.size());
  for (const auto& [peer, pr] : progress_) {
    if (!pr.is_learner()) matches.push_back(pr.match());
  }
  if (matches.empty()) return false;
  std::sort(matches.begin(), matches.end(), std::greater<>());
  // The highest index a quorum of voters holds; it commits only if it is of our term.
  if (!log_.maybe_commit(matches[quorum() - 1], term_)) return false;
  release_deferred_reads();
  return true;
}

void Node::handle_append_response(const pb::Message& m) {
  Progress& pr = progress_.at(m.from());
  pr.set_recent_active(true);
  if (m.reject()) {
    if (pr.state() == Progress::State::Snapshot) {
      // The follower lost a chunk: a probe finds the snapshot still needed and sends it anew.
      if (m.index() != pr.pending_snapshot()) return;
      pr.abort_snapshot();
      pr.become_probe();
      maybe_send_append(m.from(), true);
      return;
    }
    uint64_t hint = m.reject_hint();
    // The follower told us the term at its hint: skip back over our entries of any later term.
    if (m.log_term() > 0) hint = log_.find_conflict_by_term(hint, m.log_term());
    if (pr.maybe_decrease_to(m.index(), hint)) {
      if (pr.state() == Progress::State::Replicate) pr.become_probe();
      maybe_send_append(m.from(), true);
    }
    return;
  }
  if (!pr.maybe_update(m.index())) return;
  if (pr.state() == Progress::State::Probe ||
      (pr.state() == Progress::State::Snapshot && pr.match() >= pr.pending_snapshot())) {
    pr.become_replicate();
  }
  if (maybe_commit()) {
    broadcast_append();  // tell everyone the new commit index
  } else {
    while (maybe_send_append(m.from(), false)) {
    }
  }
  if (m.from() == lead_transferee_ && pr.match() == log_.last_index()) send_timeout_now(m.from());
  if (pr.is_learner()) maybe_promote_learners();
}

void Node::handle_heartbeat_response(const pb::Message& m) {
  Progress& pr = progress_.at(m.from());
  pr.set_recent_active(true);
  pr.on_heartbeat_response();
  if (pr.state() == Progress::State::Snapshot &&
      pr.snapshot_heartbeats() >= config_.election_tick) {
    pr.abort_snapshot();
    pr.become_probe();
  }
  if (pr.match() < log_.last_index()) maybe_send_append(m.from(), true);
  if (m.context().empty() || pr.is_learner()) return;
  // ReadIndex: a quorum of voters still follows us, so no newer leader existed when the reads
  // up to this context arrived (thesis §6.4).
  if (read_only_.ack(m.context(), m.from()) < quorum()) return;
  for (const ReadOnly::Request& request : read_only_.advance(m.context())) answer_read(request);
}

void Node::handle_snap_status(const pb::Message& m) {
  Progress& pr = progress_.at(m.from());
  if (pr.state() != Progress::State::Snapshot) return;
  if (m.reject()) pr.abort_snapshot();
  // On success next resumes after the snapshot; either way wait for the follower's answer.
  pr.become_probe();
  pr.pause_probe();
}

void Node::handle_transfer_leader(const pb::Message& m, Result<void>& result) {
  const uint64_t to = m.transferee();
  auto it = progress_.find(to);
  if (it == progress_.end() || it->second.is_learner()) {
    result = Error::TransferTargetInvalid;
    return;
  }
  if (to == id_ || to == lead_transferee_) return;  // nothing to do, or under way
  lead_transferee_ = to;
  // The transfer has one election timeout to finish (checked in tick_heartbeat).
  election_elapsed_ = 0;
  if (it->second.match() == log_.last_index()) {
    send_timeout_now(to);
  } else {
    maybe_send_append(to, true);
  }
}

void Node::send_timeout_now(uint64_t to) {
  pb::Message m;
  m.set_type(pb::MsgTimeoutNow);
  m.set_to(to);
  send(std::move(m));
}

void Node::check_quorum_active() {
  size_t active = 0;
  for (auto& [peer, pr] : progress_) {
    if (!pr.is_learner() && (peer == id_ || pr.recent_active())) ++active;
    pr.set_recent_active(false);
  }
  // A leader cut off from a quorum steps down, so that clients stop waiting on it.
  if (active < quorum()) become_follower(term_, kNone);
}

// Sends the next MsgApp (or the snapshot, if the follower's next entry is compacted away) unless
// its flow control says wait. Returns whether a message went out.
bool Node::maybe_send_append(uint64_t to, bool send_if_empty) {
  if (to == id_) return false;
  Progress& pr = progress_.at(to);
  if (pr.is_paused()) return false;
  if (pr.next() < log_.first_index()) return send_snapshot(to, pr);
  const uint64_t prev = pr.next() - 1;
  std::vector<pb::Entry> entries;
  if (pr.next() <= log_.last_index()) {
    auto slice = log_.slice(pr.next(), log_.last_index() + 1, config_.max_size_per_msg);
    if (!slice) return slice.error() == Error::Compacted && send_snapshot(to, pr);
    entries = std::move(*slice);
  }
  if (entries.empty() && !send_if_empty) return false;
  pb::Message m;
  m.set_type(pb::MsgApp);
  m.set_to(to);
  m.set_index(prev);
  m.set_log_term(log_.term(prev));
  m.set_commit(log_.committed());
  const uint64_t last = entries.empty() ? prev : entries.back().index();
  for (pb::Entry& entry : entries) *m.add_entries() = std::move(entry);
  pr.sent_entries(last, m.entries_size() > 0);
  send(std::move(m));
  return true;
}

// Sends the whole snapshot as MsgSnap chunks of at most max_snapshot_chunk_bytes, in order. The
// follower installs it on the last chunk, or rejects once if a chunk is missing.
bool Node::send_snapshot(uint64_t to, Progress& pr) {
  auto snapshot = log_.snapshot();
  if (!snapshot) return false;  // temporarily unavailable: the next heartbeat response retries
  const pb::SnapshotMetadata& meta = snapshot->metadata();
  CHECK(meta.index() + 1 >= log_.first_index(), "snapshot at {} leaves a gap before {}",
        meta.index(), log_.first_index());
  pr.become_snapshot(meta.index());
  const std::string& data = snapshot->data();
  uint64_t offset = 0;
  do {
    const uint64_t size =
        std::min<uint64_t>(config_.max_snapshot_chunk_bytes, data.size() - offset);
    pb::Message m;
    m.set_type(pb::MsgSnap);
    m.set_to(to);
    *m.mutable_snapshot()->mutable_metadata() = meta;
    m.mutable_snapshot()->set_data(data.substr(offset, size));
    m.set_snapshot_offset(offset);
    offset += size;
    m.set_snapshot_done(offset == data.size());
    send(std::move(m));
  } while (offset < data.size());
  return true;
}

void Node::broadcast_append() {
  for (const auto& [peer, pr] : progress_) maybe_send_append(peer, true);
}

void Node::broadcast_heartbeat(const std::string& context) {
  for (const auto& [peer, pr] : progress_) {
    if (peer == id_) continue;
    pb::Message m;
    m.set_type(pb::MsgHeartbeat);
    m.set_to(peer);
    // Never more than the follower is known to hold: it cannot check the commit against its log.
    m.set_commit(std::min(pr.match(), log_.committed()));
    m.set_context(context);
    send(std::move(m));
  }
}

}  // namespace raft
