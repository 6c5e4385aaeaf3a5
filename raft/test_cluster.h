#pragma once
// Test support for the raft unit tests (not part of the library): Network, a deterministic
// in-process cluster, and helpers to drive a single Node by hand.
//
// Network: every member persists, sends and applies each Ready at once, following the Ready
// contract (snapshot, hard state, entries, then messages, then apply). Messages are delivered in
// FIFO order unless the link is cut or the drop filter says so. After every Ready it checks state
// machine safety (no two members apply different entries at one index), leader completeness
// (every leader holds every committed entry) and one leader per term. The state machine is the
// list of applied normal entries; a snapshot's data is that list joined by '\n'.

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "raft/memory_storage.h"
#include "raft/node.h"

namespace raft {

class Network {
 public:
  explicit Network(uint64_t size, Config base = {}) : base_(base) {
    for (uint64_t id = 1; id <= size; ++id) base_.voters.push_back(id);
    for (uint64_t id = 1; id <= size; ++id) start(id, base_);
  }

  Node& node(uint64_t id) { return *members_.at(id).node; }
  bool has(uint64_t id) const { return members_.count(id) != 0; }
  MemoryStorage& storage(uint64_t id) { return *members_.at(id).storage; }
  const std::vector<std::string>& applied(uint64_t id) { return members_.at(id).applied; }
  uint64_t applied_index(uint64_t id) { return members_.at(id).applied_index; }
  std::vector<pb::Message>& delivered() { return delivered_; }
  std::vector<ReadState>& read_states(uint64_t id) { return members_.at(id).read_states; }
  // Messages for which the filter returns true are lost.
  void set_drop(std::function<bool(const pb::Message&)> drop) { drop_ = std::move(drop); }
  // With a PRNG, each round's messages are delivered in random order and some twice.
  void set_shuffle(std::mt19937_64* rng) { shuffle_ = rng; }

  // A member joining the running cluster with the given configuration (see Config::voters).
  void add(uint64_t id, std::vector<uint64_t> voters, std::vector<uint64_t> learners) {
    Config config = base_;
    config.voters = std::move(voters);
    config.learners = std::move(learners);
    start(id, config);
  }
  // Crash and restart: unpersisted state is already lost (nothing is); the node restarts from
  // its storage and the state machine from its applied index.
  void restart(uint64_t id) {
    Member& member = members_.at(id);
    Config config = base_;
    config.id = id;
    config.voters.clear();
    config.seed = id * 7919 + 18;
    config.applied = member.applied_index;
    member.pending.reset();  // an unfinished write is lost
    member.node = std::make_unique<Node>(config, *member.storage);
  }
  // The member's next Ready that may be sent before persisting is sent, then the member crashes
  // before persisting it (the leader's parallel disk write, interrupted).
  void crash_after_send(uint64_t id) { members_.at(id).crash_after_send = true; }
  // Leaders send early and complete their disk write one delivery round later, stepping the
  // answers meanwhile.
  void set_defer_leader_writes(bool defer) { defer_leader_writes_ = defer; }
  // The application snapshots its state at its applied index and compacts the log behind it.
  void compact(uint64_t id) {
    Member& member = members_.at(id);
    std::string data;
    for (const std::string& s : member.applied) data += s + "\n";
    const uint64_t index = member.applied_index;
    ASSERT_TRUE(
        member.storage->create_snapshot(index, member.node->conf_state(), data).has_value());
    ASSERT_TRUE(member.storage->compact(index).has_value());
  }

  // Cuts every link between the groups; members in no group are cut from everyone.
  void partition(const std::vector<std::set<uint64_t>>& groups) {
    cut_.clear();
    for (const auto& [a, ma] : members_) {
      for (const auto& [b, mb] : members_) {
        bool together = false;
        for (const auto& group : groups) together |= group.count(a) != 0 && group.count(b) != 0;
        if (!together && a != b) cut_.insert({a, b});
      }
    }
  }
  void isolate(uint64_t id) {
    for (const auto& [other, m] : members_) {
      if (other != id) cut_.insert({id, other}), cut_.insert({other, id});
    }
  }
  void heal() { cut_.clear(); }

  void stabilize() {
    for (int round = 0; round < 10000; ++round) {
      for (auto& [id, member] : members_) process(id);
      if (queue_.empty()) return;
      deliver();
    }
    FAIL() << "the network did not settle";
  }

  void tick(int ticks) {
    for (int i = 0; i < ticks; ++i) {
      for (auto& [id, member] : members_) member.node->tick();
      stabilize();
    }
  }

  // The unique leader among members, or kNone.
  uint64_t leader() {
    uint64_t found = kNone;
    for (auto& [id, member] : members_) {
      if (member.node->role() != Role::Leader) continue;
      if (found != kNone) return kNone;
      found = id;
    }
    return found;
  }

  uint64_t tick_until_leader(int max_ticks = 200) {
    for (int i = 0; i < max_ticks; ++i) {
      tick(1);
      if (uint64_t id = leader(); id != kNone) return id;
    }
    return kNone;
  }

 private:
  struct Member {
    std::unique_ptr<MemoryStorage> storage;
    std::unique_ptr<Node> node;
    std::vector<std::string> applied;  // data of the normal, non-empty entries applied
    uint64_t applied_index = 0;
    std::vector<ReadState> read_states;
    bool crash_after_send = false;
    std::optional<Ready> pending;  // a leader's Ready sent but not yet persisted
  };

  void start(uint64_t id, Config config) {
    config.id = id;
    config.seed = id * 7919 + 17;
    auto& member = members_[id];
    pb::ConfState conf;
    conf.mutable_voters()->Add(config.voters.begin(), config.voters.end());
    conf.mutable_learners()->Add(config.learners.begin(), config.learners.end());
    member.storage = std::make_unique<MemoryStorage>(conf);
    member.node = std::make_unique<Node>(config, *member.storage);
  }

  void process(uint64_t id) {
    Member& member = members_.at(id);
    if (member.pending) {
      // The leader's deferred disk write completes now, after its messages went out and it
      // stepped the answers.
      Ready rd = std::move(*member.pending);
      member.pending.reset();
      handle(id, rd, true);
    }
    while (member.node->has_ready()) {
      Ready rd = member.node->ready();
      if (rd.may_send_before_persisting && member.crash_after_send) {
        for (pb::Message& m : rd.messages) queue_.push_back(std::move(m));
        member.crash_after_send = false;
        restart(id);
        continue;
      }
      if (rd.may_send_before_persisting && defer_leader_writes_) {
        for (pb::Message& m : rd.messages) queue_.push_back(std::move(m));
        member.pending = std::move(rd);
        break;
      }
      handle(id, rd, false);
    }
    check_leader(id);
  }

  void handle(uint64_t id, Ready& rd, bool sent) {
    Member& member = members_.at(id);
    if (rd.snapshot) {
      ASSERT_TRUE(member.storage->apply_snapshot(*rd.snapshot));
    }
    if (rd.hard_state) member.storage->set_hard_state(*rd.hard_state);
    member.storage->append(rd.entries);
    if (!sent) {
      for (pb::Message& m : rd.messages) queue_.push_back(std::move(m));
    }
    if (rd.snapshot) install(id, *rd.snapshot);
    for (const pb::Entry& entry : rd.committed_entries) apply(id, entry);
    for (ReadState& rs : rd.read_states) member.read_states.push_back(std::move(rs));
    member.node->advance(rd);
  }

  void install(uint64_t id, const pb::Snapshot& snapshot) {
    Member& member = members_.at(id);
    member.applied.clear();
    std::istringstream in(snapshot.data());
    for (std::string line; std::getline(in, line);) member.applied.push_back(line);
    member.applied_index = snapshot.metadata().index();
    member.storage->set_conf_state(snapshot.metadata().conf_state());
  }

  void apply(uint64_t id, const pb::Entry& entry) {
    Member& member = members_.at(id);
    ASSERT_EQ(entry.index(), member.applied_index + 1) << "member " << id << " skipped an entry";
    member.applied_index = entry.index();
    // The applying member's term bounds the term in which the entry was committed from above.
    auto [it, inserted] = committed_.emplace(entry.index(), Committed{entry, member.node->term()});
    if (!inserted) it->second.term = std::min(it->second.term, member.node->term());
    ASSERT_EQ(it->second.entry.term(), entry.term())
        << "member " << id << " applied a different entry at index " << entry.index();
    ASSERT_EQ(it->second.entry.data(), entry.data());
    if (entry.type() == pb::EntryConfChange) {
      pb::ConfChange change;
      ASSERT_TRUE(change.ParseFromString(entry.data()));
      member.storage->set_conf_state(member.node->apply_conf_change(change));
      return;
    }
    if (!entry.data().empty()) member.applied.push_back(entry.data());
  }

  void check_leader(uint64_t id) {
    Node& node = *members_.at(id).node;
    if (node.role() != Role::Leader) return;
    auto [it, inserted] = leaders_.emplace(node.term(), id);
    ASSERT_EQ(it->second, id) << "two leaders in term " << node.term();
    // A leader of a later term than the one an entry was committed in holds it (Raft §5.4).
    for (const auto& [index, committed] : committed_) {
      if (node.term() <= committed.term || index < node.log().first_index()) continue;
      ASSERT_EQ(node.log().term(index), committed.entry.term())
          << "leader " << id << " lacks committed entry " << index;
    }
  }

  void deliver() {
    std::deque<pb::Message> batch;
    batch.swap(queue_);
    if (shuffle_ != nullptr) {
      std::shuffle(batch.begin(), batch.end(), *shuffle_);
      const size_t size = batch.size();
      for (size_t i = 0; i < size; ++i) {
        if ((*shuffle_)() % 20 == 0) batch.push_back(batch[i]);
      }
    }
    for (const pb::Message& m : batch) {
      if (cut_.count({m.from(), m.to()}) != 0 || members_.count(m.to()) == 0) continue;
      if (drop_ && drop_(m)) continue;
      delivered_.push_back(m);
      (void)members_.at(m.to()).node->step(m);
    }
  }

  Config base_;
  std::map<uint64_t, Member> members_;
  std::deque<pb::Message> queue_;
  std::set<std::pair<uint64_t, uint64_t>> cut_;
  std::function<bool(const pb::Message&)> drop_;
  std::mt19937_64* shuffle_ = nullptr;
  bool defer_leader_writes_ = false;
  struct Committed {
    pb::Entry entry;
    uint64_t term;  // at least the term in which the entry was committed
  };
  std::map<uint64_t, Committed> committed_;  // index -> the entry applied there
  std::map<uint64_t, uint64_t> leaders_;     // term -> leader
  std::vector<pb::Message> delivered_;
};

// The last applied value, or "" if none (a test must fail, not crash, when nothing applied).
inline std::string last(const std::vector<std::string>& applied) {
  return applied.empty() ? std::string() : applied.back();
}

inline std::vector<std::string> strings(const std::string& prefix, int count) {
  std::vector<std::string> out;
  for (int i = 0; i < count; ++i) out.push_back(prefix + std::to_string(i));
  return out;
}

// Drives one Node by hand: persistence of a Ready as the owner would do it.
inline void persist(Node& node, MemoryStorage& storage, std::vector<pb::Message>* sent = nullptr) {
  while (node.has_ready()) {
    Ready rd = node.ready();
    if (rd.snapshot) (void)storage.apply_snapshot(*rd.snapshot);
    if (rd.hard_state) storage.set_hard_state(*rd.hard_state);
    storage.append(rd.entries);
    if (sent != nullptr) sent->insert(sent->end(), rd.messages.begin(), rd.messages.end());
    node.advance(rd);
  }
}

inline pb::Message response(pb::MessageType type, uint64_t from, uint64_t term,
                            uint64_t index = 0) {
  pb::Message m;
  m.set_type(type);
  m.set_from(from);
  m.set_to(1);
  m.set_term(term);
  m.set_index(index);
  return m;
}

// A storage holding entries of the given terms at indexes 1, 2, ... and that hard state term.
inline void fill(MemoryStorage& storage, const std::vector<uint64_t>& terms, uint64_t term) {
  std::vector<pb::Entry> entries;
  for (size_t i = 0; i < terms.size(); ++i) {
    pb::Entry e;
    e.set_index(i + 1);
    e.set_term(terms[i]);
    entries.push_back(e);
  }
  storage.append(entries);
  pb::HardState hs;
  hs.set_term(term);
  storage.set_hard_state(hs);
}

inline Config manual_config(uint64_t id) {
  Config config;
  config.id = id;
  config.voters = {1, 2, 3};
  config.pre_vote = false;
  return config;
}

}  // namespace raft
