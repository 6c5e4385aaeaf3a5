#pragma once
// Checker: the safety properties of Raft, checked by test/sim after every step from what the
// simulation observes of its members. Owned by one simulation run; single-threaded. It keeps the
// facts every member must agree with, so each check costs what changed, not the whole history:
//   - election safety: term -> the one member that led it;
//   - log matching: (index, term) -> the entry's hash and the term before it, for every entry any
//     member ever appended (equal (index, term) must mean an equal entry with an equal prefix);
//   - committed entries: index -> term, and an upper bound of the term it was committed in;
//   - leader completeness: a leader of a later term than a commit holds the committed entry;
//   - state machine safety: index -> hash chain of the applied prefix, equal on every member;
//   - commit monotonicity: a member's commit index never decreases, also across a restart.
// The first violation is kept (with the step it happened at); later ones are ignored.

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "raft/node.h"

namespace raft::sim {

class Checker {
 public:
  bool failed() const { return !failure_.empty(); }
  const std::string& failure() const { return failure_; }
  void fail(const std::string& what);

  // A member's role and log after a step (live members only).
  void observe_role(uint64_t id, Role role, uint64_t term, const RaftLog& log);
  // Entries a member is about to persist; prev_term is its log's term before the first of them.
  void observe_entries(uint64_t id, uint64_t prev_term, const std::vector<pb::Entry>& entries);
  // A member's commit index after a step. `seen` is the highest commit this member was observed
  // with in this life; it is updated.
  void observe_commit(uint64_t id, uint64_t term, const RaftLog& log, uint64_t& seen);
  // A member applied the entry at index, reaching hash chain `chain`.
  void observe_applied(uint64_t id, uint64_t index, uint64_t term, uint64_t chain);
  // Called once all members were observed after a step.
  void end_step() { fresh_commits_.clear(); }
  // The highest commit index any member has been seen with.
  uint64_t max_committed() const { return committed_.empty() ? 0 : committed_.rbegin()->first; }
  // The term of a committed entry, or 0 if not known.
  uint64_t committed_term(uint64_t index) const;

 private:
  struct EntryFact {
    uint64_t hash;
    uint64_t prev_term;
  };
  struct Committed {
    uint64_t term;         // the entry's term
    uint64_t commit_term;  // at least the term in which it was committed
  };
  struct IndexTermHash {
    size_t operator()(const std::pair<uint64_t, uint64_t>& k) const {
      return std::hash<uint64_t>()(k.first * 1000003 ^ k.second);
    }
  };
  void check_leader_holds(uint64_t id, uint64_t term, const RaftLog& log, uint64_t index,
                          const Committed& c);

  std::string failure_;
  std::map<uint64_t, uint64_t> leader_of_term_;
  std::map<uint64_t, uint64_t>
      checked_leader_term_;  // member -> term it was last checked as leader
  std::unordered_map<std::pair<uint64_t, uint64_t>, EntryFact, IndexTermHash> entries_;
  std::map<uint64_t, Committed> committed_;
  std::vector<uint64_t> fresh_commits_;  // indexes recorded or lowered since the last role check
  std::unordered_map<uint64_t, uint64_t> chain_at_;
};

}  // namespace raft::sim
