#pragma once
// Node: the Raft consensus algorithm for one member, as a pure state machine. It does no I/O, has
// no threads and reads no clock: time is tick(), the network is step() and Ready::messages, the
// disk is the read-only LogStorage plus Ready::snapshot/entries/hard_state, and randomness comes
// from a PRNG seeded by Config::seed. Not thread-safe: owned and driven by one raft loop.
//
// The Ready contract, for the owner of a Node:
//   while (node.has_ready()) {
//     Ready rd = node.ready();
//     1. persist, durably (fsync) and atomically (one write batch: a crash keeps all of it or
//        none), into the LogStorage: rd.snapshot (if set; it replaces the whole log),
//        rd.hard_state (if set) and rd.entries (they replace any stored entries from their first
//        index on). Readies are persisted in the order they were handed out;
//     2. only then send rd.messages (a vote or an acknowledgement must never outlive a crash);
//     3. install rd.snapshot (if set) into the state machine, then apply rd.committed_entries in
//        order (calling apply_conf_change() for each EntryConfChange), and serve rd.read_states
//        once the applied index reaches their index;
//     4. node.advance(rd).
//   }
// The leader's own disk write in parallel with replication (Raft thesis §10.2.1): if
// rd.may_send_before_persisting is true, the owner may send rd.messages BEFORE (or while) step 1
// runs. The Node sets it only when it was leader throughout and neither term nor vote changed, so
// every message is a leader's (MsgApp, MsgHeartbeat, MsgSnap, MsgTimeoutNow, MsgReadIndexResp):
// none of them promises anything about the leader's disk. Followers still persist before they
// acknowledge. In exchange the leader counts its own entries toward commit only in advance(), once
// the owner reports them persisted (a local append acknowledgement), so an entry is committed only
// when a quorum, the leader included or not, has it on disk. Owners that always persist first
// need not look at the flag.
//
// Invariants: at most one vote per term; the commit index never decreases; a leader commits by
// counting only entries of its own term (Raft §5.4.2); at most one membership change is pending.

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "raft/progress.h"
#include "raft/raft_log.h"
#include "raft/read_only.h"
#include "raft/storage.h"

namespace raft {

inline constexpr uint64_t kNone = 0;  // no member: ids start at 1

enum class Role { Follower, PreCandidate, Candidate, Leader };

const char* to_string(Role role);
const char* to_string(Progress::State state);

struct Config {
  uint64_t id = kNone;
  // The configuration at bootstrap; if both are empty, the LogStorage's conf_state is used. A
  // member joining a running cluster starts with the cluster's configuration at the time it was
  // added (itself a learner), or with none at all: then it ignores MsgApp and waits for a
  // snapshot (sent once the leader's log is compacted past its start), whose configuration it
  // takes. Member ids are never reused: a removed id must not join again.
  std::vector<uint64_t> voters;
  std::vector<uint64_t> learners;
  // The index the application has already applied (its state survived a restart): committed
  // entries at or below it are not handed out again. 0 for an application that starts empty.
  uint64_t applied = 0;
  int election_tick = 10;  // a follower campaigns after [election_tick, 2*election_tick) ticks
  int heartbeat_tick = 1;
  bool pre_vote = true;
  bool check_quorum = true;
  uint64_t max_size_per_msg = 1 << 20;          // bytes of entries per MsgApp (at least one entry)
  uint64_t max_snapshot_chunk_bytes = 1 << 20;  // bytes of snapshot data per MsgSnap
  size_t max_inflight_msgs = 256;               // unacknowledged MsgApps per follower
  uint64_t max_uncommitted_bytes = 64 << 20;    // beyond: propose() fails UncommittedTooLarge
  uint64_t max_committed_bytes_per_ready = 64 << 20;
  size_t max_pending_reads = 4096;  // beyond: read_index() fails ReadIndexQueueFull
  // A learner added by ConfChangeAddNode is promoted once its match is within this many entries
  // of the leader's last index.
  uint64_t promotion_max_lag = 16;
  uint64_t seed = 1;  // seeds the election timeout PRNG
};

// A linearizable read point: once the application has applied `index`, a read of its state
// reflects every write committed before read_index(context) was called.
struct ReadState {
  uint64_t index = 0;
  std::string context;
};

struct Ready {
  std::optional<pb::Snapshot> snapshot;      // persist first; install before applying entries
  std::optional<pb::HardState> hard_state;   // set when it changed: persist before sending
  std::vector<pb::Entry> entries;            // persist before sending
  std::vector<pb::Entry> committed_entries;  // apply in order after persisting
  std::vector<pb::Message> messages;         // send after persisting (but see the header comment)
  std::vector<ReadState> read_states;        // serve once applied >= index
  bool may_send_before_persisting = false;   // see "the leader's own disk write" above
  uint64_t leader = kNone;
  Role role = Role::Follower;
};

// A snapshot of a Node's state for tests, the simulation and statistics. `progress` is filled only
// on the leader (self included).
struct Status {
  struct Member {
    uint64_t match = 0;
    uint64_t next = 0;
    Progress::State state = Progress::State::Probe;
    bool learner = false;
    bool recent_active = false;
    uint64_t pending_snapshot = 0;
  };
  uint64_t id = kNone;
  uint64_t term = 0;
  uint64_t vote = kNone;
  uint64_t commit = 0;
  uint64_t applied = 0;
  uint64_t last_index = 0;
  uint64_t leader = kNone;
  Role role = Role::Follower;
  uint64_t lead_transferee = kNone;
  pb::ConfState conf_state;
  std::map<uint64_t, Member> progress;
};

class Node {
 public:
  // storage must outlive the Node; the Node reads it, the owner writes it (Ready contract).
  Node(const Config& config, const LogStorage& storage);

  void tick();
  // A message from a peer (or a local one). Errors: StepUnknownPeer (leader, sender not in the
  // configuration); ProposalDropped, UncommittedTooLarge, ConfChangePending for a MsgProp.
  Result<void> step(const pb::Message& message);
  // Appends data to the log via the leader (forwarded by a follower). Errors: ProposalDropped (no
  // leader, not a member, or a leadership transfer is under way), UncommittedTooLarge (the
  // uncommitted log exceeds Config::max_uncommitted_bytes; one proposal always fits). Success on
  // a follower means forwarded, not committed: the caller watches committed entries.
  Result<void> propose(std::string data);
  // Starts an election now (as if the election timeout had passed).
  Result<void> campaign();

  // Proposes one membership change as an EntryConfChange entry. ConfChangeAddNode of a new member
  // adds it as a learner; the leader promotes it to voter by itself (ConfChangePromoteNode) once
  // it has caught up. AddNode of an existing member changes nothing.
  // Errors: as propose(), plus ConfChangePending while an earlier change is not yet committed and
  // applied on the leader, and ConfChangeInvalid for node_id 0 or ConfChangePromoteNode. (A
  // follower forwards; the leader
  // may still refuse.)
  Result<void> propose_conf_change(const pb::ConfChange& change);
  // Makes a committed conf change take effect on this member; the owner calls it when it applies
  // an EntryConfChange (step 3 of the Ready contract) and persists the returned configuration as
  // LogStorage::conf_state(). A removed leader steps down; a removed member stops campaigning. A
  // change that would leave no voter is ignored.
  pb::ConfState apply_conf_change(const pb::ConfChange& change);

  // Asks for a linearizable read point: a ReadState with this context comes out of a later Ready
  // (on a follower, once the leader answered). The context must be unique among the pending reads
  // of the whole cluster (prefix it with the member id): the leader drops a duplicate.
  // No answer comes if leadership is lost meanwhile; the caller times out and retries. Errors:
  // ProposalDropped (no leader known), ReadIndexQueueFull.
  Result<void> read_index(std::string context);
  // Hands leadership to member `to` once its log is up to date (the leader stops taking proposals
  // meanwhile; the transfer aborts after an election timeout). A follower forwards the request.
  // Errors: TransferTargetInvalid (not a voter), ProposalDropped (no leader known).
  Result<void> transfer_leadership(uint64_t to);
  // The transport's verdict on a snapshot sent to `id`: on failure the leader retries via probe.
  void report_snapshot(uint64_t id, bool ok);
  // The transport could not reach `id`: stop streaming to it and probe.
  void report_unreachable(uint64_t id);

  bool has_ready() const;
  // Hands out the next Ready. At most one is outstanding: ready() again before advance() is a
  // broken contract (CHECK). Between the two the owner may keep calling step(), tick() and the
  // rest (the leader's parallel disk write).
  Ready ready();
  // The owner handled `handled` (the Ready last handed out) as the contract says.
  void advance(const Ready& handled);

  Status status() const;
  uint64_t id() const { return id_; }
  uint64_t term() const { return term_; }
  uint64_t leader() const { return lead_; }
  Role role() const { return role_; }
  const RaftLog& log() const { return log_; }
  pb::ConfState conf_state() const;

 private:
  // node.cc: roles, elections, dispatch, Ready.
  void reset(uint64_t term);
  void become_follower(uint64_t term, uint64_t lead);
  void become_pre_candidate();
  void become_candidate();
  void become_leader();
  void start_campaign(bool pre, bool transfer);
  void tally_vote(const pb::Message& m);
  bool promotable() const;
  size_t voter_count() const;
  size_t quorum() const { return voter_count() / 2 + 1; }
  Result<void> step_by_term(const pb::Message& m, bool& drop);
  bool in_lease(const pb::Message& m) const;
  void answer_stale(const pb::Message& m);
  void handle_vote_request(const pb::Message& m);
  Result<void> step_candidate(const pb::Message& m);
  Result<void> step_follower(const pb::Message& m);
  Result<void> step_local(const pb::Message& m, bool& handled);
  void send(pb::Message m);
  pb::HardState hard_state() const;
  void tick_election();
  void tick_heartbeat();
  void self_ack_persisted();

  // node_leader.cc: replication, heartbeats, leader-side snapshots and transfers.
  Result<void> step_leader(const pb::Message& m);
  Result<void> append_proposal(const pb::Message& m);
  void append_entries(std::vector<pb::Entry> entries);
  void handle_append_response(const pb::Message& m);
  void handle_heartbeat_response(const pb::Message& m);
  void handle_snap_status(const pb::Message& m);
  void handle_transfer_leader(const pb::Message& m, Result<void>& result);
  void abort_transfer() { lead_transferee_ = kNone; }
  void check_quorum_active();
  bool maybe_commit();
  bool maybe_send_append(uint64_t to, bool send_if_empty);
  bool send_snapshot(uint64_t to, Progress& pr);
  void send_timeout_now(uint64_t to);
  void broadcast_append();
  void broadcast_heartbeat(const std::string& context);

  // node_follower.cc: the follower's side of replication and snapshots.
  void handle_append(const pb::Message& m);
  void handle_heartbeat(const pb::Message& m);
  void handle_snapshot(const pb::Message& m);
  std::optional<pb::Snapshot> assemble_snapshot() const;
  void install_snapshot(const pb::Message& m, pb::Snapshot snapshot);
  void reject_snapshot(const pb::Message& m);

  // node_read.cc: ReadIndex.
  Result<void> handle_read_index(const pb::Message& m);
  void handle_read_index_response(const pb::Message& m);
  void answer_read(const ReadOnly::Request& request);
  void release_deferred_reads();
  bool committed_in_term() const { return log_.term(log_.committed()) == term_; }

  // node_membership.cc: configuration changes.
  void set_configuration(const pb::ConfState& conf);
  void add_member(uint64_t id, bool learner);
  void maybe_promote_learners();
  Result<void> check_conf_change_proposal(const pb::Message& m) const;

  const Config config_;
  const uint64_t id_;
  uint64_t term_ = 0;
  uint64_t vote_ = kNone;
  uint64_t lead_ = kNone;
  Role role_ = Role::Follower;
  RaftLog log_;
  // Every member, self included if a member; learners are flagged. Followers keep it only as the
  // membership; match and next matter on the leader.
  std::map<uint64_t, Progress> progress_;
  std::vector<uint64_t> learners_to_promote_;
  std::map<uint64_t, bool> votes_;
  int election_elapsed_ = 0;
  int heartbeat_elapsed_ = 0;
  int randomized_election_timeout_ = 0;
  std::mt19937_64 rng_;
  std::vector<pb::Message> messages_;
  bool messages_need_persist_ = false;  // a non-leader message is queued: no early send
  bool ready_outstanding_ = false;      // ready() handed one out; advance() not yet called
  pb::HardState prev_hard_state_;
  uint64_t uncommitted_bytes_ = 0;
  uint64_t pending_conf_index_ = 0;  // the last conf change in the log; pending until applied
  uint64_t lead_transferee_ = kNone;
  ReadOnly read_only_;
  std::vector<pb::Message> deferred_reads_;  // reads received before the term's first commit
  std::vector<ReadState> read_states_;
  // The snapshot being received in chunks, in any order: chunks by offset (duplicates ignored),
  // and its size once the last chunk came. Kept across the leader's resends of the same
  // snapshot, so a resend fills the holes a lost or late chunk left.
  struct IncomingSnapshot {
    uint64_t from = kNone;
    pb::SnapshotMetadata metadata;
    std::map<uint64_t, std::string> chunks;
    std::optional<uint64_t> size;
  };
  std::optional<IncomingSnapshot> incoming_;
};

}  // namespace raft
