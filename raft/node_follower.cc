// The follower's side of Node: appending the leader's entries, heartbeats, and receiving a
// snapshot in chunks.
#include <algorithm>

#include "raft/node.h"

namespace raft {

namespace {

bool same_snapshot(const pb::SnapshotMetadata& a, const pb::SnapshotMetadata& b) {
  return a.index() == b.index() && a.term() == b.term();
}

}  // namespace

void Node::handle_append(const pb::Message& m) {
  pb::Message resp;
  resp.set_type(pb::MsgAppResp);
  resp.set_to(m.from());
  if (m.index() < log_.committed()) {
    resp.set_index(log_.committed());  // an old message: our committed prefix matches anyway
    send(std::move(resp));
    return;
  }
  const std::vector<pb::Entry> entries(m.entries().begin(), m.entries().end());
  if (auto last_new = log_.maybe_append(m.index(), m.log_term(), m.commit(), entries)) {
    resp.set_index(*last_new);
    send(std::move(resp));
    return;
  }
  // Fast back-off: point the leader at the last entry whose term is at most the term of its
  // probe, skipping a whole divergent term per round trip instead of one entry.
  const uint64_t hint =
      log_.find_conflict_by_term(std::min(m.index(), log_.last_index()), m.log_term());
  resp.set_index(m.index());
  resp.set_reject(true);
  resp.set_reject_hint(hint);
  resp.set_log_term(log_.term(hint));
  send(std::move(resp));
}

void Node::handle_heartbeat(const pb::Message& m) {
  log_.commit_to(std::min(m.commit(), log_.last_index()));
  pb::Message resp;
  resp.set_type(pb::MsgHeartbeatResp);
  resp.set_to(m.from());
  resp.set_context(m.context());  // confirms the leader's pending reads (ReadIndex)
  send(std::move(resp));
}

// Assembles the chunks of one transfer; a chunk out of sequence means one was lost (or came
// late): the transfer is rejected once and its remaining chunks are dropped, so the leader
// restarts it with one probe rather than one per chunk.
void Node::handle_snapshot(const pb::Message& m) {
  const pb::SnapshotMetadata& meta = m.snapshot().metadata();
  const bool same_transfer = incoming_ && incoming_->from == m.from() &&
                             same_snapshot(incoming_->snapshot.metadata(), meta);
  if (m.snapshot_offset() == 0) {
    incoming_ = IncomingSnapshot{m.from(), pb::Snapshot(), false};
    *incoming_->snapshot.mutable_metadata() = meta;
  } else if (!same_transfer || incoming_->broken ||
             m.snapshot_offset() != incoming_->snapshot.data().size()) {
    if (same_transfer && incoming_->broken) return;  // already rejected
    incoming_ = IncomingSnapshot{m.from(), pb::Snapshot(), true};
    *incoming_->snapshot.mutable_metadata() = meta;
    reject_snapshot(m);
    return;
  }
  incoming_->snapshot.mutable_data()->append(m.snapshot().data());
  if (!m.snapshot_done()) return;
  pb::Snapshot snapshot = std::move(incoming_->snapshot);
  incoming_.reset();
  install_snapshot(m, std::move(snapshot));
}

void Node::reject_snapshot(const pb::Message& m) {
  pb::Message resp;
  resp.set_type(pb::MsgAppResp);
  resp.set_to(m.from());
  resp.set_index(m.snapshot().metadata().index());
  resp.set_reject(true);
  resp.set_reject_hint(log_.last_index());
  send(std::move(resp));
}

void Node::install_snapshot(const pb::Message& m, pb::Snapshot snapshot) {
  const pb::SnapshotMetadata meta = snapshot.metadata();
  pb::Message resp;
  resp.set_type(pb::MsgAppResp);
  resp.set_to(m.from());
  if (meta.index() <= log_.committed()) {
    resp.set_index(log_.committed());  // we are past it already
  } else if (log_.match_term(meta.index(), meta.term())) {
    // We hold the snapshot's last entry, so (log matching) everything before it: only the commit
    // index moves, and entries after it survive.
    log_.commit_to(meta.index());
    resp.set_index(log_.committed());
  } else {
    log_.restore(std::move(snapshot));
    set_configuration(meta.conf_state());
    resp.set_index(log_.last_index());
  }
  send(std::move(resp));
}

}  // namespace raft
