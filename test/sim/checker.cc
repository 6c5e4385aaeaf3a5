#include "test/sim/checker.h"

#include <fmt/format.h>

#include "test/sim/kv_state_machine.h"

namespace raft::sim {

void Checker::fail(const std::string& what) {
  if (failure_.empty()) failure_ = what;
}

void Checker::observe_role(uint64_t id, Role role, uint64_t term, const RaftLog& log) {
  if (role != Role::Leader) return;
  auto [it, inserted] = leader_of_term_.emplace(term, id);
  if (it->second != id) {
    fail(fmt::format("election safety: members {} and {} both lead term {}", it->second, id, term));
    return;
  }
  // A new leader must hold every entry committed in an earlier term (Raft §5.4.1); an existing one
  // must hold entries whose commit was learned since it was last checked.
  uint64_t& checked = checked_leader_term_[id];
  if (checked != term) {
    checked = term;
    for (const auto& [index, c] : committed_) check_leader_holds(id, term, log, index, c);
  } else {
    for (uint64_t index : fresh_commits_) {
      check_leader_holds(id, term, log, index, committed_.at(index));
    }
  }
}

void Checker::check_leader_holds(uint64_t id, uint64_t term, const RaftLog& log, uint64_t index,
                                 const Committed& c) {
  if (c.commit_term >= term) return;
  if (index < log.first_index()) return;  // compacted behind a snapshot of committed state
  const uint64_t have = log.term(index);
  if (have != c.term) {
    fail(fmt::format(
        "leader completeness: leader {} of term {} has term {} at index {}, but an entry of term "
        "{} was committed there by term {}",
        id, term, have, index, c.term, c.commit_term));
  }
}

void Checker::observe_entries(uint64_t id, uint64_t prev_term,
                              const std::vector<pb::Entry>& entries) {
  for (const pb::Entry& e : entries) {
    const uint64_t hash = fnv1a(e.data(), static_cast<uint64_t>(e.type()) + 1);
    auto [it, inserted] = entries_.try_emplace({e.index(), e.term()}, EntryFact{hash, prev_term});
    if (!inserted && it->second.hash != hash) {
      fail(fmt::format("log matching: member {} has a different entry at index {} term {}", id,
                       e.index(), e.term()));
      return;
    }
    // prev_term 0 means unknown (behind a snapshot) except at index 1.
    if (!inserted && (prev_term != 0 || e.index() == 1) && it->second.prev_term != prev_term) {
      fail(fmt::format(
          "log matching: member {} has entry {}/{} after term {}, another member after term {}", id,
          e.index(), e.term(), prev_term, it->second.prev_term));
      return;
    }
    prev_term = e.term();
  }
}

void Checker::observe_commit(uint64_t id, uint64_t term, const RaftLog& log, uint64_t& seen) {
  const uint64_t commit = log.committed();
  if (commit < seen) {
    fail(fmt::format("commit index of member {} went back from {} to {}", id, seen, commit));
    return;
  }
  for (uint64_t index = std::max(seen + 1, log.first_index()); index <= commit; ++index) {
    const uint64_t entry_term = log.term(index);
    auto [it, inserted] = committed_.try_emplace(index, Committed{entry_term, term});
    if (inserted) {
      fresh_commits_.push_back(index);
      continue;
    }
    if (it->second.term != entry_term) {
      fail(fmt::format(
          "committed entry changed: member {} committed index {} with term {}, earlier term {}", id,
          index, entry_term, it->second.term));
      return;
    }
    if (term < it->second.commit_term) {
      it->second.commit_term = term;
      fresh_commits_.push_back(index);
    }
  }
  seen = commit;
}

void Checker::observe_applied(uint64_t id, uint64_t index, uint64_t term, uint64_t chain) {
  auto [it, inserted] = chain_at_.try_emplace(index, chain);
  if (!inserted && it->second != chain) {
    fail(fmt::format("state machine safety: member {} applied a different prefix up to index {}",
                     id, index));
    return;
  }
  const uint64_t committed = committed_term(index);
  if (term != 0 && committed != 0 && committed != term) {
    fail(fmt::format("member {} applied index {} of term {}, but term {} was committed there", id,
                     index, term, committed));
  }
}

uint64_t Checker::committed_term(uint64_t index) const {
  auto it = committed_.find(index);
  return it == committed_.end() ? 0 : it->second.term;
}

}  // namespace raft::sim
