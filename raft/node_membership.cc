// Membership changes, one member at a time (Raft thesis §4.1): a change takes effect on each
// member when it applies the committed entry, and the leader allows one pending change at a time,
// so any two successive configurations share a majority.
#include <algorithm>

#include "raft/node.h"

namespace raft {

namespace {

void erase_id(std::vector<uint64_t>& ids, uint64_t id) {
  ids.erase(std::remove(ids.begin(), ids.end(), id), ids.end());
}

}  // namespace

Result<void> Node::propose_conf_change(const pb::ConfChange& change) {
  pb::Message m;
  m.set_type(pb::MsgProp);
  m.set_from(id_);
  pb::Entry* entry = m.add_entries();
  entry->set_type(pb::EntryConfChange);
  entry->set_data(change.SerializeAsString());
  return step(m);
}

// Validates the conf change entries of a proposal; on the leader, also that none is pending.
Result<void> Node::check_conf_change_proposal(const pb::Message& m) const {
  size_t changes = 0;
  for (const pb::Entry& entry : m.entries()) {
    if (entry.type() != pb::EntryConfChange) continue;
    ++changes;
    pb::ConfChange change;
    // Promotion is the leader's own decision, made when the learner has caught up.
    if (!change.ParseFromString(entry.data()) || change.node_id() == kNone ||
        change.type() == pb::ConfChangePromoteNode) {
      return Error::ConfChangeInvalid;
    }
  }
  if (changes > 1) return Error::ConfChangeInvalid;
  // "Pending" lasts until the entry is applied here, not just committed: only then has the
  // leader's own configuration moved on, and the next change is computed against it.
  if (changes == 1 && role_ == Role::Leader && pending_conf_index_ > log_.applied()) {
    return Error::ConfChangePending;
  }
  return {};
}

void Node::set_configuration(const pb::ConfState& conf) {
  progress_.clear();
  for (uint64_t id : conf.voters()) add_member(id, false);
  for (uint64_t id : conf.learners()) add_member(id, true);
  learners_to_promote_.assign(conf.learners_to_promote().begin(), conf.learners_to_promote().end());
}

void Node::add_member(uint64_t id, bool learner) {
  auto it = progress_.find(id);
  if (it != progress_.end()) {
    it->second.set_learner(learner);
    return;
  }
  Progress pr(log_.last_index() + 1, config_.max_inflight_msgs);
  pr.set_learner(learner);
  // A new member gets a full election timeout before check-quorum counts it as absent.
  pr.set_recent_active(true);
  progress_.emplace(id, std::move(pr));
}

pb::ConfState Node::apply_conf_change(const pb::ConfChange& change) {
  const uint64_t id = change.node_id();
  auto it = progress_.find(id);
  switch (change.type()) {
    case pb::ConfChangeAddNode:
      if (it == progress_.end()) {
        // A new member starts as a learner: counting it toward quorum before it has the log
        // would stall commits (thesis §4.2.1).
        add_member(id, true);
        learners_to_promote_.push_back(id);
      }
      break;
    case pb::ConfChangePromoteNode:
      if (it != progress_.end() && it->second.is_learner()) {
        it->second.set_learner(false);
        erase_id(learners_to_promote_, id);
      }
      break;
    case pb::ConfChangeAddLearnerNode:
      if (it == progress_.end()) add_member(id, true);
      break;
    case pb::ConfChangeRemoveNode:
      if (it == progress_.end()) break;
      if (!it->second.is_learner() && voter_count() == 1) break;  // never leave no voter
      progress_.erase(it);
      erase_id(learners_to_promote_, id);
      if (id == lead_transferee_) abort_transfer();
      break;
    default:
      break;
  }
  if (role_ == Role::Leader) {
    // A smaller quorum may commit more; a new member needs its first probe.
    if (maybe_commit() || progress_.count(id) != 0) broadcast_append();
    if (!promotable()) {
      // Removed: the commit index just went out, so the others learn that the change is
      // committed; then step down and never campaign again.
      become_follower(term_, kNone);
    }
  }
  return conf_state();
}

// Proposes the promotion of a caught-up learner added by ConfChangeAddNode: callers only say
// "add", and a member never counts toward quorum before it holds (nearly) the whole log.
void Node::maybe_promote_learners() {
  if (role_ != Role::Leader || lead_transferee_ != kNone) return;
  if (pending_conf_index_ > log_.applied()) return;
  for (uint64_t id : learners_to_promote_) {
    auto it = progress_.find(id);
    if (it == progress_.end() || !it->second.is_learner()) continue;
    // Caught up: it has acknowledged an append (a silent learner's match proves nothing) and
    // lags by at most the configured gap.
    const Progress& pr = it->second;
    if (pr.state() != Progress::State::Replicate) continue;
    if (pr.match() + config_.promotion_max_lag < log_.last_index()) continue;
    pb::ConfChange change;
    change.set_type(pb::ConfChangePromoteNode);
    change.set_node_id(id);
    pb::Entry entry;
    entry.set_type(pb::EntryConfChange);
    entry.set_data(change.SerializeAsString());
    pending_conf_index_ = log_.last_index() + 1;
    append_entries({entry});
    broadcast_append();
    return;
  }
}

}  // namespace raft
