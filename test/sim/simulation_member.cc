#include <algorithm>

#include "test/sim/format.h"
#include "test/sim/simulation_impl.h"

namespace raft::sim {

void Simulation::crash(SimMember& m) {
  if (m.storage->has_unsynced()) ++result_.lost_writes;
  m.node.reset();
  m.storage->crash();
  m.sm = KvStateMachine();
  m.reads.clear();
  m.pending.reset();
  network_.drop_messages_of(m.id);
  ++result_.crashes;
  after_step([&] { return fmt::format("crash {}", m.id); });
}

// A restart sees only what was synced: the log and hard state in storage, and the application
// state it saved (or the snapshot, whichever is newer). Config::applied tells the Node where the
// application stands, so it hands out only the committed entries after it.
void Simulation::restart(SimMember& m) {
  ++m.incarnation;
  auto snapshot = m.storage->snapshot();
  const uint64_t snapshot_index = snapshot ? snapshot->metadata().index() : 0;
  if (snapshot_index > m.saved_sm.applied()) {
    auto restored = KvStateMachine::restore(snapshot->data());
    if (!restored) return fail(fmt::format("member {}: unreadable snapshot", m.id));
    m.sm = std::move(*restored);
    m.conf = snapshot->metadata().conf_state();
  } else {
    m.sm = m.saved_sm;
    m.conf = m.saved_conf;
  }
  m.storage->set_conf_state(m.conf);
  m.storage->sync();
  m.node = std::make_unique<Node>(config_for(m), *m.storage);
  const uint64_t commit = m.node->log().committed();
  if (commit < m.durable_commit) {
    checker_.fail(fmt::format("member {} restarted with commit {} below its synced commit {}", m.id,
                              commit, m.durable_commit));
  }
  m.seen_commit = commit;
  if (m.sm.applied() > 0) checker_.observe_applied(m.id, m.sm.applied(), 0, m.sm.chain());
  after_step([&] {
    return fmt::format("restart {} ({}, applied {}, log {}..{}, {})", m.id,
                       describe(m.storage->hard_state()), m.sm.applied(), m.storage->first_index(),
                       m.storage->last_index(), describe(m.conf));
  });
}

// The operator shuts a removed member down for good once its removal is committed.
void Simulation::decommission(uint64_t id) {
  auto it = members_.find(id);
  if (it == members_.end() || it->second.removed) return;
  SimMember& m = it->second;
  m.removed = true;
  m.node.reset();
  m.pending.reset();
  m.reads.clear();
  network_.drop_messages_of(id);
  after_step([&] { return fmt::format("decommission {}", id); });
}

void Simulation::decommission_removed() {
  std::erase_if(removals_, [&](const Removal& r) {
    for (uint64_t voter : r.conf.voters()) {
      const SimMember& m = members_.at(voter);
      if (!m.removed && m.sm.applied() < r.index) return false;
    }
    decommission(r.id);
    return true;
  });
}

void Simulation::process(SimMember& m) {
  while (result_.ok && m.node && !m.pending && m.node->has_ready()) {
    const Ready rd = m.node->ready();
    if (!handle_ready(m, rd)) return;
    after_step([&] {
      return fmt::format("ready {}: {}{} entries, {} committed, {} messages, {} reads{}", m.id,
                         rd.snapshot ? "snapshot, " : "", rd.entries.size(),
                         rd.committed_entries.size(), rd.messages.size(), rd.read_states.size(),
                         rd.hard_state ? " hs " + describe(*rd.hard_state) : "");
    });
  }
}

// The Ready contract: persist and sync, then send, then install and apply, then advance. A crash
// may strike between the write and the sync, losing the write (an fsync that never happened). A
// leader may send first when the Ready allows it (its disk write runs alongside replication).
bool Simulation::handle_ready(SimMember& m, const Ready& rd) {
  const bool early = rd.may_send_before_persisting && chance(shape_.send_early);
  if (early) send(rd.messages);
  persist(m, rd);
  if (!result_.ok) return false;
  if (early && chance(shape_.defer_sync)) {
    m.pending = rd;
    return false;
  }
  return finish_ready(m, rd, early);
}

// The leader's disk write finished some steps after its messages went out.
void Simulation::complete_pending(SimMember& m) {
  const Ready rd = std::move(*m.pending);
  m.pending.reset();
  if (!finish_ready(m, rd, true)) return;
  after_step([&] { return fmt::format("disk write of {} synced", m.id); });
  process(m);
}

bool Simulation::finish_ready(SimMember& m, const Ready& rd, bool sent) {
  if (chance(shape_.lost_sync)) {
    crash(m);
    return false;
  }
  m.storage->sync();
  if (rd.hard_state) {
    if (rd.hard_state->commit() < m.durable_commit) {
      fail(fmt::format("member {} persisted commit {} below its earlier {}", m.id,
                       rd.hard_state->commit(), m.durable_commit));
    }
    m.durable_commit = std::max(m.durable_commit, rd.hard_state->commit());
  }
  if (!sent) send(rd.messages);
  if (rd.snapshot) install(m, *rd.snapshot);
  for (const pb::Entry& entry : rd.committed_entries) apply(m, entry);
  for (const ReadState& rs : rd.read_states) {
    auto it = reads_.find(rs.context);
    if (it != reads_.end() && rs.index < it->second.min_index) {
      fail(
          fmt::format("ReadIndex: read {} on member {} got index {}, but index {} was committed "
                      "before it was issued",
                      rs.context, m.id, rs.index, it->second.min_index));
    }
    m.reads.push_back(rs);
  }
  m.node->advance(rd);
  if (chance(shape_.save_applied)) {
    m.saved_sm = m.sm;
    m.saved_conf = m.conf;
  }
  maybe_snapshot(m);
  serve_reads(m);
  return result_.ok;
}

void Simulation::persist(SimMember& m, const Ready& rd) {
  if (!rd.entries.empty()) {
    const uint64_t prev = rd.entries.front().index() - 1;
    checker_.observe_entries(m.id, m.node->log().term(prev), rd.entries);
  }
  if (rd.snapshot) {
    if (auto applied = m.storage->apply_snapshot(*rd.snapshot); !applied) {
      return fail(fmt::format("member {} was handed snapshot {} it cannot apply: {}", m.id,
                              rd.snapshot->metadata().index(), to_string(applied.error())));
    }
  }
  if (rd.hard_state) m.storage->set_hard_state(*rd.hard_state);
  m.storage->append(rd.entries);
}

void Simulation::send(const std::vector<pb::Message>& messages) {
  for (const pb::Message& message : messages) network_.send(message, now_);
}

void Simulation::install(SimMember& m, const pb::Snapshot& snapshot) {
  auto restored = KvStateMachine::restore(snapshot.data());
  if (!restored || restored->applied() != snapshot.metadata().index()) {
    return fail(fmt::format("member {} got snapshot {} whose data does not match its index", m.id,
                            snapshot.metadata().index()));
  }
  if (restored->applied() < m.sm.applied()) {
    return fail(fmt::format("member {} was handed snapshot {} behind its applied index {}", m.id,
                            restored->applied(), m.sm.applied()));
  }
  m.sm = std::move(*restored);
  m.conf = snapshot.metadata().conf_state();
  m.storage->set_conf_state(m.conf);
  ++result_.snapshots_installed;
  checker_.observe_applied(m.id, m.sm.applied(), snapshot.metadata().term(), m.sm.chain());
}

void Simulation::apply(SimMember& m, const pb::Entry& entry) {
  if (entry.index() != m.sm.applied() + 1) {
    return fail(fmt::format("member {} was handed entry {} to apply after {}", m.id, entry.index(),
                            m.sm.applied()));
  }
  m.sm.apply(entry);
  checker_.observe_applied(m.id, entry.index(), entry.term(), m.sm.chain());
  record_history(entry);
  if (entry.type() == pb::EntryConfChange) {
    pb::ConfChange change;
    if (!change.ParseFromString(entry.data())) {
      return fail(fmt::format("member {}: unreadable conf change at {}", m.id, entry.index()));
    }
    m.conf = m.node->apply_conf_change(change);
    if (options_.trace) {
      fmt::print(stderr, "  {} applied {}: {}\n", m.id, describe(entry), describe(m.conf));
    }
    m.storage->set_conf_state(m.conf);
    const bool known = std::any_of(removals_.begin(), removals_.end(),
                                   [&](const Removal& r) { return r.index == entry.index(); });
    if (change.type() == pb::ConfChangeRemoveNode && !known) {
      removals_.push_back({change.node_id(), entry.index(), m.conf});
    }
  }
}

void Simulation::record_history(const pb::Entry& entry) {
  if (entry.index() != history_index_ + 1) return;  // recorded by an earlier applier
  history_index_ = entry.index();
  if (entry.type() == pb::EntryConfChange) {
    pb::ConfChange change;
    if (change.ParseFromString(entry.data())) {
      ++(change.type() == pb::ConfChangeRemoveNode ? result_.members_removed
                                                   : result_.members_added);
    }
    return;
  }
  if (auto put = decode_put(entry.data())) history_[put->key][entry.index()] = put->value;
}

std::optional<std::string> Simulation::value_at(const std::string& key, uint64_t index) const {
  auto it = history_.find(key);
  if (it == history_.end()) return std::nullopt;
  auto at = it->second.upper_bound(index);
  if (at == it->second.begin()) return std::nullopt;
  return std::prev(at)->second;
}

// A read point is served once the member applied up to it: the value read must be the register's
// value in the committed log at the member's applied index (which is at least the read index).
void Simulation::serve_reads(SimMember& m) {
  std::erase_if(m.reads, [&](const ReadState& rs) {
    if (m.sm.applied() < rs.index) return false;
    auto it = reads_.find(rs.context);
    if (it == reads_.end()) return true;  // not one of ours (a duplicate answer)
    const std::string& key = it->second.key;
    const auto got = m.sm.get(key);
    if (m.sm.applied() <= history_index_ && got != value_at(key, m.sm.applied())) {
      fail(
          fmt::format("ReadIndex: read {} of {} on member {} at applied {} saw {}, the log says {}",
                      rs.context, key, m.id, m.sm.applied(), got.value_or("(none)"),
                      value_at(key, m.sm.applied()).value_or("(none)")));
    }
    reads_.erase(it);
    ++result_.reads_served;
    return true;
  });
}

void Simulation::maybe_snapshot(SimMember& m) {
  if (shape_.snapshot_every == 0) return;
  auto held = m.storage->snapshot();
  const uint64_t held_index = held ? held->metadata().index() : 0;
  const uint64_t applied = m.sm.applied();
  if (applied < held_index + shape_.snapshot_every) return;
  const uint64_t compact_to = applied > shape_.keep_entries ? applied - shape_.keep_entries : 0;
  auto made = m.storage->create_snapshot(applied, m.conf, m.sm.serialize(),
                                         std::max(compact_to, m.storage->first_index() - 1));
  if (!made) {
    return fail(fmt::format("member {}: snapshot at applied {} failed: {}", m.id, applied,
                            to_string(made.error())));
  }
  m.storage->sync();  // a snapshot is written and synced before the log behind it goes
  after_step([&] {
    return fmt::format("snapshot {} at {}, log from {}", m.id, applied, m.storage->first_index());
  });
}

}  // namespace raft::sim
