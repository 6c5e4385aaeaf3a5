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
  if (progress_.empty()) {
    // A member that started without a configuration learns it from a snapshot only: replaying
    // the log from index 1 would miss the bootstrap configuration, which is not in the log. The
    // rejection points the leader at index 1, where it finds the log compacted (a snapshot) or
    // probes again at the next heartbeat.
    resp.set_index(m.index());
    resp.set_reject(true);
    send(std::move(resp));
    return;
  }
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

// Collects the chunks of one snapshot; it is installed once the last chunk has come and no hole
// remains. A hole left when the last chunk arrives means a chunk was lost (or is late): the
// follower rejects once per last chunk, and the leader's resend fills the hole. Rejections are
// thus bounded by resends, and reordering costs a resend at worst.
void Node::handle_snapshot(const pb::Message& m) {
  const pb::SnapshotMetadata& meta = m.snapshot().metadata();
  if (meta.index() <= log_.committed()) {
    // Installed already (this is a resend) or outdated: one answer per transfer tells the leader.
    if (!m.snapshot_done()) return;
    pb::Message resp;
    resp.set_type(pb::MsgAppResp);
    resp.set_to(m.from());
    resp.set_index(log_.committed());
    send(std::move(resp));
    return;
  }
  if (!incoming_ || incoming_->from != m.from() || !same_snapshot(incoming_->metadata, meta)) {
    incoming_ = IncomingSnapshot{m.from(), meta, {}, std::nullopt};
  }
  const std::string& data = m.snapshot().data();
  if (m.snapshot_done()) incoming_->size = m.snapshot_offset() + data.size();
  incoming_->chunks.emplace(m.snapshot_offset(), data);
  if (auto snapshot = assemble_snapshot()) {
    incoming_.reset();
    install_snapshot(m, std::move(*snapshot));
  } else if (m.snapshot_done()) {
    reject_snapshot(m);
  }
}

// The whole snapshot if the chunks cover [0, size) without a hole.
std::optional<pb::Snapshot> Node::assemble_snapshot() const {
  if (!incoming_->size) return std::nullopt;
  pb::Snapshot snapshot;
  *snapshot.mutable_metadata() = incoming_->metadata;
  std::string& out = *snapshot.mutable_data();
  for (const auto& [offset, data] : incoming_->chunks) {
    if (offset > out.size()) return std::nullopt;  // a hole
    if (offset + data.size() > out.size()) out.append(data, out.size() - offset);
  }
  if (out.size() < *incoming_->size) return std::nullopt;
  out.resize(*incoming_->size);
  return snapshot;
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
