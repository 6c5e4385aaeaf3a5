#pragma once
// Node: the Raft consensus algorithm for one member, as a pure state machine. It does no I/O, has
// no threads and reads no clock: time is tick(), the network is step() and Ready::messages, the
// disk is the read-only LogStorage plus Ready::entries/hard_state, and randomness comes from a PRNG
// seeded by Config::seed. Not thread-safe: owned and driven by one raft loop.
//
// The Ready contract, for the owner of a Node:
//   while (node.has_ready()) {
//     Ready rd = node.ready();
//     1. persist rd.hard_state (if set) and rd.entries, durably (fsync), into the LogStorage;
//        entries replace any stored entries from their first index on;
//     2. only then send rd.messages (a vote or an acknowledgement must never outlive a crash);
//     3. apply rd.committed_entries to the state machine, in order;
//     4. node.advance(rd).
//   }
// Invariants: at most one vote per term; the commit index never decreases; a leader commits by
// counting only entries of its own term (Raft §5.4.2).

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "raft/progress.h"
#include "raft/raft_log.h"
#include "raft/storage.h"

namespace raft {

inline constexpr uint64_t kNone = 0;  // no member: ids start at 1

enum class Role { Follower, PreCandidate, Candidate, Leader };

const char* to_string(Role role);

struct Config {
  uint64_t id = kNone;
  // The voters at bootstrap; if empty, the LogStorage's conf_state is used.
  // TODO(raft): learners and membership changes (#3)
  std::vector<uint64_t> voters;
  int election_tick = 10;  // a follower campaigns after [election_tick, 2*election_tick) ticks
  int heartbeat_tick = 1;
  bool pre_vote = true;
  bool check_quorum = true;
  uint64_t max_size_per_msg = 1 << 20;  // bytes of entries per MsgApp (at least one entry)
  size_t max_inflight_msgs = 256;       // unacknowledged MsgApps per follower
  uint64_t max_uncommitted_bytes = 64 << 20;
  uint64_t max_committed_bytes_per_ready = 64 << 20;
  uint64_t seed = 1;  // seeds the election timeout PRNG
};

struct Ready {
  std::optional<pb::HardState> hard_state;   // set when it changed: persist before sending
  std::vector<pb::Entry> entries;            // persist before sending
  std::vector<pb::Entry> committed_entries;  // apply in order after persisting
  std::vector<pb::Message> messages;         // send after persisting
  uint64_t leader = kNone;
  Role role = Role::Follower;
  // TODO(raft): snapshot to install and read states for ReadIndex (#3)
};

class Node {
 public:
  Node(const Config& config, const LogStorage& storage);

  void tick();
  Result<void> step(const pb::Message& message);
  Result<void> propose(std::string data);
  // Starts an election now (as if the election timeout had passed).
  Result<void> campaign();

  bool has_ready() const;
  Ready ready();
  void advance(const Ready& handled);

  uint64_t id() const { return id_; }
  uint64_t term() const { return term_; }
  uint64_t leader() const { return lead_; }
  Role role() const { return role_; }
  const RaftLog& log() const { return log_; }

 private:
  void reset(uint64_t term);
  void become_follower(uint64_t term, uint64_t lead);
  void become_pre_candidate();
  void become_candidate();
  void become_leader();
  void start_campaign(bool pre);
  void tally_vote(const pb::Message& m);
  size_t quorum() const { return progress_.size() / 2 + 1; }

  Result<void> step_by_term(const pb::Message& m, bool& drop);
  void handle_vote_request(const pb::Message& m);
  Result<void> step_leader(const pb::Message& m);
  Result<void> step_candidate(const pb::Message& m);
  Result<void> step_follower(const pb::Message& m);

  Result<void> append_proposal(const pb::Message& m);
  void append_entries(std::vector<pb::Entry> entries);
  void handle_append_response(const pb::Message& m);
  void handle_heartbeat_response(const pb::Message& m);
  void check_quorum_active();
  bool maybe_commit();
  bool maybe_send_append(uint64_t to, bool send_if_empty);
  void broadcast_append();
  void broadcast_heartbeat();

  void handle_append(const pb::Message& m);
  void handle_heartbeat(const pb::Message& m);

  void send(pb::Message m);
  pb::HardState hard_state() const;
  void tick_election();
  void tick_heartbeat();

  const Config config_;
  const uint64_t id_;
  uint64_t term_ = 0;
  uint64_t vote_ = kNone;
  uint64_t lead_ = kNone;
  Role role_ = Role::Follower;
  RaftLog log_;
  std::map<uint64_t, Progress> progress_;  // every voter, self included
  std::map<uint64_t, bool> votes_;
  int election_elapsed_ = 0;
  int heartbeat_elapsed_ = 0;
  int randomized_election_timeout_ = 0;
  std::mt19937_64 rng_;
  std::vector<pb::Message> messages_;
  pb::HardState prev_hard_state_;
  uint64_t uncommitted_bytes_ = 0;
};

}  // namespace raft
