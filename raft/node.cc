#include "raft/node.h"

#include <algorithm>

#include "common/check.h"

namespace raft {

namespace {

bool is_vote_request(pb::MessageType type) { return type == pb::MsgVote || type == pb::MsgPreVote; }

bool is_from_leader(pb::MessageType type) {
  return type == pb::MsgApp || type == pb::MsgHeartbeat || type == pb::MsgSnap;
}

pb::MessageType response_type(pb::MessageType type) {
  return type == pb::MsgPreVote ? pb::MsgPreVoteResp : pb::MsgVoteResp;
}

// Messages only a leader sends: none of them depends on the leader's own log being durable.
bool is_leader_message(pb::MessageType type) {
  return type == pb::MsgApp || type == pb::MsgHeartbeat || type == pb::MsgSnap ||
         type == pb::MsgTimeoutNow || type == pb::MsgReadIndexResp;
}

}  // namespace

const char* to_string(Role role) {
  switch (role) {
    case Role::Follower:
      return "follower";
    case Role::PreCandidate:
      return "pre-candidate";
    case Role::Candidate:
      return "candidate";
    case Role::Leader:
      return "leader";
  }
  return "unknown";
}

const char* to_string(Progress::State state) {
  switch (state) {
    case Progress::State::Probe:
      return "probe";
    case Progress::State::Replicate:
      return "replicate";
    case Progress::State::Snapshot:
      return "snapshot";
  }
  return "unknown";
}

Node::Node(const Config& config, const LogStorage& storage)
    : config_(config),
      id_(config.id),
      log_(storage, config.applied),
      rng_(config.seed),
      read_only_(config.max_pending_reads) {
  CHECK(id_ != kNone, "a node needs an id");
  CHECK(config.heartbeat_tick > 0 && config.election_tick > config.heartbeat_tick,
        "election_tick {} must exceed heartbeat_tick {}", config.election_tick,
        config.heartbeat_tick);
  CHECK(config.max_snapshot_chunk_bytes > 0, "snapshot chunks must hold at least one byte");
  pb::ConfState conf;
  if (config.voters.empty() && config.learners.empty()) {
    conf = storage.conf_state();
  } else {
    conf.mutable_voters()->Add(config.voters.begin(), config.voters.end());
    conf.mutable_learners()->Add(config.learners.begin(), config.learners.end());
  }
  set_configuration(conf);
  const pb::HardState hs = storage.hard_state();
  become_follower(hs.term(), kNone);
  vote_ = hs.vote();
  prev_hard_state_ = hard_state();
}

pb::HardState Node::hard_state() const {
  pb::HardState hs;
  hs.set_term(term_);
  hs.set_vote(vote_);
  hs.set_commit(log_.committed());
  return hs;
}

bool Node::promotable() const {
  auto it = progress_.find(id_);
  return it != progress_.end() && !it->second.is_learner();
}

size_t Node::voter_count() const {
  return static_cast<size_t>(std::count_if(progress_.begin(), progress_.end(),
                                           [](const auto& p) { return !p.second.is_learner(); }));
}

void Node::reset(uint64_t term) {
  if (term_ != term) {
    term_ = term;
    vote_ = kNone;
  }
  lead_ = kNone;
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  // Randomized in [election_tick, 2 * election_tick) so that split votes resolve.
  std::uniform_int_distribution<int> dist(config_.election_tick, 2 * config_.election_tick - 1);
  randomized_election_timeout_ = dist(rng_);
  votes_.clear();
  for (auto& [peer, pr] : progress_) {
    const bool learner = pr.is_learner();
    pr = Progress(log_.last_index() + 1, config_.max_inflight_msgs);
    pr.set_learner(learner);
    // Only what is on our disk counts toward commit (see "the leader's own disk write").
    if (peer == id_) pr.maybe_update(log_.stable_last_index());
  }
  uncommitted_bytes_ = 0;
  lead_transferee_ = kNone;
  read_only_.clear();
  deferred_reads_.clear();
}

void Node::become_follower(uint64_t term, uint64_t lead) {
  reset(term);
  lead_ = lead;
  role_ = Role::Follower;
}

void Node::become_pre_candidate() {
  CHECK(role_ != Role::Leader, "a leader cannot become a pre-candidate");
  // The term and vote stay: a pre-vote changes nothing persistent, so a member that cannot win
  // does not disturb the cluster.
  votes_.clear();
  lead_ = kNone;
  role_ = Role::PreCandidate;
}

void Node::become_candidate() {
  CHECK(role_ != Role::Leader, "a leader cannot become a candidate");
  reset(term_ + 1);
  vote_ = id_;
  role_ = Role::Candidate;
}

void Node::become_leader() {
  CHECK(role_ == Role::Candidate, "only a candidate becomes leader, not a {}", to_string(role_));
  reset(term_);
  lead_ = id_;
  role_ = Role::Leader;
  for (auto& [peer, pr] : progress_) pr.set_recent_active(true);
  // Any conf change in the log may be unapplied yet: treat it as pending until it is.
  pending_conf_index_ = log_.last_index();
  // The no-op entry of the new term: earlier entries commit only once an entry of this term
  // does (Raft §5.4.2), so without it they could wait for the next client proposal.
  append_entries({pb::Entry()});
  broadcast_append();
}

void Node::start_campaign(bool pre, bool transfer) {
  uint64_t vote_term = 0;
  pb::MessageType type;
  if (pre) {
    become_pre_candidate();
    vote_term = term_ + 1;  // the term we would campaign with; not taken yet
    type = pb::MsgPreVote;
  } else {
    become_candidate();
    vote_term = term_;
    type = pb::MsgVote;
  }
  pb::Message own;
  own.set_type(response_type(type));
  own.set_from(id_);
  tally_vote(own);
  if (role_ != (pre ? Role::PreCandidate : Role::Candidate)) return;  // a single voter won
  for (const auto& [peer, pr] : progress_) {
    if (peer == id_ || pr.is_learner()) continue;
    pb::Message m;
    m.set_type(type);
    m.set_to(peer);
    m.set_term(vote_term);
    m.set_index(log_.last_index());
    m.set_log_term(log_.last_term());
    m.set_leader_transfer(transfer);
    send(std::move(m));
  }
}

void Node::tally_vote(const pb::Message& m) {
  auto it = progress_.find(m.from());
  if (it == progress_.end() || it->second.is_learner()) return;  // only voters count
  votes_.emplace(m.from(), !m.reject());  // the first answer of each voter counts
  size_t granted = 0;
  size_t rejected = 0;
  for (const auto& [peer, vote] : votes_) (vote ? granted : rejected)++;
  if (granted >= quorum()) {
    if (role_ == Role::PreCandidate) {
      start_campaign(false, false);
    } else {
      become_leader();
    }
  } else if (rejected >= quorum()) {
    become_follower(term_, kNone);
  }
}

Result<void> Node::campaign() {
  pb::Message m;
  m.set_type(pb::MsgHup);
  m.set_from(id_);
  return step(m);
}

void Node::tick() {
  if (role_ == Role::Leader) {
    tick_heartbeat();
  } else {
    tick_election();
  }
}

void Node::tick_election() {
  ++election_elapsed_;
  // Learners and removed members never campaign.
  if (promotable() && election_elapsed_ >= randomized_election_timeout_) {
    election_elapsed_ = 0;
    (void)campaign();
  }
}

void Node::tick_heartbeat() {
  ++heartbeat_elapsed_;
  ++election_elapsed_;
  if (election_elapsed_ >= config_.election_tick) {
    election_elapsed_ = 0;
    if (config_.check_quorum) {
      pb::Message m;
      m.set_type(pb::MsgCheckQuorum);
      m.set_from(id_);
      (void)step(m);
    }
    if (role_ != Role::Leader) return;
    // A transfer that did not finish within an election timeout is given up (thesis §3.10).
    abort_transfer();
  }
  if (heartbeat_elapsed_ >= config_.heartbeat_tick) {
    heartbeat_elapsed_ = 0;
    broadcast_heartbeat(read_only_.last_context());
    maybe_promote_learners();
  }
}

Result<void> Node::step(const pb::Message& m) {
  bool drop = false;
  auto by_term = step_by_term(m, drop);
  if (!by_term || drop) return by_term;
  bool handled = false;
  auto local = step_local(m, handled);
  if (handled) return local;
  switch (role_) {
    case Role::Leader:
      return step_leader(m);
    case Role::PreCandidate:
    case Role::Candidate:
      return step_candidate(m);
    case Role::Follower:
      return step_follower(m);
  }
  return {};
}

// Messages handled alike in every role.
Result<void> Node::step_local(const pb::Message& m, bool& handled) {
  handled = true;
  switch (m.type()) {
    case pb::MsgHup:
      if (role_ != Role::Leader && promotable()) start_campaign(config_.pre_vote, false);
      return {};
    case pb::MsgVote:
    case pb::MsgPreVote:
      handle_vote_request(m);
      return {};
    case pb::MsgProp: {
      auto valid = check_conf_change_proposal(m);
      if (!valid) return valid;
      handled = false;
      return {};
    }
    default:
      handled = false;
      return {};
  }
}

// Within the lease of a leader we heard from, a vote request comes from a member that was
// partitioned away; granting it would depose a healthy leader. A transfer's vote is wanted.
bool Node::in_lease(const pb::Message& m) const {
  return config_.check_quorum && !m.leader_transfer() && lead_ != kNone &&
         election_elapsed_ < config_.election_tick;
}

// Compares the message's term with ours: a newer term makes us a follower (with exceptions for
// pre-votes and leases), an older one is answered so the stale sender can learn or dropped.
Result<void> Node::step_by_term(const pb::Message& m, bool& drop) {
  if (m.term() == 0) return {};  // a local message
  if (m.term() > term_) {
    if (is_vote_request(m.type()) && in_lease(m)) {
      drop = true;
      return {};
    }
    if (m.type() == pb::MsgPreVote) return {};  // a pre-vote never changes our term
    if (m.type() == pb::MsgPreVoteResp && !m.reject()) return {};  // the term we asked for
    become_follower(m.term(), is_from_leader(m.type()) ? m.from() : kNone);
    return {};
  }
  if (m.term() < term_) {
    drop = true;
    answer_stale(m);
  }
  return {};
}

void Node::answer_stale(const pb::Message& m) {
  if ((config_.check_quorum || config_.pre_vote) &&
      (m.type() == pb::MsgHeartbeat || m.type() == pb::MsgApp || m.type() == pb::MsgSnap)) {
    // A stale leader would otherwise never learn of our term if pre-vote keeps us from
    // campaigning against it; the response carries our term and makes it step down.
    pb::Message resp;
    resp.set_type(pb::MsgAppResp);
    resp.set_to(m.from());
    send(std::move(resp));
  } else if (m.type() == pb::MsgPreVote) {
    pb::Message resp;
    resp.set_type(pb::MsgPreVoteResp);
    resp.set_to(m.from());
    resp.set_term(term_);
    resp.set_reject(true);
    send(std::move(resp));
  }
}

// A member answers vote requests whatever its own role: the candidate's configuration decides
// who votes, and a learner promoted there may not have applied its promotion yet.
void Node::handle_vote_request(const pb::Message& m) {
  const bool can_vote = vote_ == m.from() || (vote_ == kNone && lead_ == kNone) ||
                        (m.type() == pb::MsgPreVote && m.term() > term_);
  pb::Message resp;
  resp.set_type(response_type(m.type()));
  resp.set_to(m.from());
  if (can_vote && log_.is_up_to_date(m.index(), m.log_term())) {
    // The answer carries the term asked for: a pre-vote grant must not look stale.
    resp.set_term(m.term());
    if (m.type() == pb::MsgVote) {
      election_elapsed_ = 0;
      vote_ = m.from();
    }
  } else {
    resp.set_term(term_);
    resp.set_reject(true);
  }
  send(std::move(resp));
}

Result<void> Node::step_candidate(const pb::Message& m) {
  const pb::MessageType own_response =
      role_ == Role::PreCandidate ? pb::MsgPreVoteResp : pb::MsgVoteResp;
  switch (m.type()) {
    case pb::MsgProp:
    case pb::MsgReadIndex:
      return Error::ProposalDropped;  // no leader to forward to during an election
    case pb::MsgApp:
    case pb::MsgHeartbeat:
    case pb::MsgSnap:
      // A leader of our term won the election we are in.
      become_follower(m.term(), m.from());
      return step_follower(m);
    default:
      break;
  }
  if (m.type() == own_response) tally_vote(m);
  return {};
}

Result<void> Node::step_follower(const pb::Message& m) {
  switch (m.type()) {
    case pb::MsgProp:
    case pb::MsgTransferLeader: {
      if (lead_ == kNone) return Error::ProposalDropped;
      pb::Message forward = m;
      forward.set_to(lead_);
      send(std::move(forward));
      return {};
    }
    case pb::MsgReadIndex:
      return handle_read_index(m);
    case pb::MsgReadIndexResp:
      handle_read_index_response(m);
      return {};
    case pb::MsgApp:
    case pb::MsgHeartbeat:
    case pb::MsgSnap:
      election_elapsed_ = 0;
      lead_ = m.from();
      if (m.type() == pb::MsgApp) handle_append(m);
      if (m.type() == pb::MsgHeartbeat) handle_heartbeat(m);
      if (m.type() == pb::MsgSnap) handle_snapshot(m);
      return {};
    case pb::MsgTimeoutNow:
      // The leader hands over: campaign at once, skipping pre-vote (thesis §3.10).
      if (promotable()) start_campaign(false, true);
      return {};
    default:
      return {};
  }
}

Result<void> Node::propose(std::string data) {
  pb::Message m;
  m.set_type(pb::MsgProp);
  m.set_from(id_);
  m.add_entries()->set_data(std::move(data));
  return step(m);
}

Result<void> Node::transfer_leadership(uint64_t to) {
  pb::Message m;
  m.set_type(pb::MsgTransferLeader);
  m.set_from(id_);
  m.set_transferee(to);
  auto it = progress_.find(to);
  if (it == progress_.end() || it->second.is_learner()) return Error::TransferTargetInvalid;
  return step(m);
}

void Node::report_snapshot(uint64_t id, bool ok) {
  pb::Message m;
  m.set_type(pb::MsgSnapStatus);
  m.set_from(id);
  m.set_reject(!ok);
  (void)step(m);
}

void Node::report_unreachable(uint64_t id) {
  pb::Message m;
  m.set_type(pb::MsgUnreachable);
  m.set_from(id);
  (void)step(m);
}

void Node::send(pb::Message m) {
  m.set_from(id_);
  // Votes carry their own term; a forwarded request carries none (it is local to the leader).
  const bool own_term = m.type() != pb::MsgVote && m.type() != pb::MsgPreVote &&
                        m.type() != pb::MsgVoteResp && m.type() != pb::MsgPreVoteResp;
  if (m.type() == pb::MsgProp || m.type() == pb::MsgTransferLeader ||
      m.type() == pb::MsgReadIndex) {
    m.set_term(0);
  } else if (own_term) {
    m.set_term(term_);
  }
  if (role_ != Role::Leader || !is_leader_message(m.type())) messages_need_persist_ = true;
  messages_.push_back(std::move(m));
}

bool Node::has_ready() const {
  if (!messages_.empty() || !log_.unstable_entries().empty()) return true;
  if (log_.unstable_snapshot() || !read_states_.empty()) return true;
  if (log_.has_next_committed_entries()) return true;
  const pb::HardState hs = hard_state();
  return hs.term() != prev_hard_state_.term() || hs.vote() != prev_hard_state_.vote() ||
         hs.commit() != prev_hard_state_.commit();
}

Ready Node::ready() {
  // A second outstanding Ready would hand out the same committed entries twice.
  CHECK(!ready_outstanding_, "node {}: ready() again before advance()", id_);
  ready_outstanding_ = true;
  Ready rd;
  const pb::HardState hs = hard_state();
  const bool term_or_vote =
      hs.term() != prev_hard_state_.term() || hs.vote() != prev_hard_state_.vote();
  if (term_or_vote || hs.commit() != prev_hard_state_.commit()) rd.hard_state = hs;
  rd.snapshot = log_.unstable_snapshot();
  rd.entries = log_.unstable_entries();
  rd.committed_entries = log_.next_committed_entries(config_.max_committed_bytes_per_ready);
  rd.messages = std::move(messages_);
  messages_.clear();
  rd.read_states = std::move(read_states_);
  read_states_.clear();
  rd.may_send_before_persisting =
      role_ == Role::Leader && !messages_need_persist_ && !term_or_vote && !rd.snapshot;
  messages_need_persist_ = false;
  rd.leader = lead_;
  rd.role = role_;
  return rd;
}

void Node::advance(const Ready& handled) {
  CHECK(ready_outstanding_, "node {}: advance() without a Ready handed out", id_);
  ready_outstanding_ = false;
  if (handled.hard_state) prev_hard_state_ = *handled.hard_state;
  if (handled.snapshot) {
    const uint64_t index = handled.snapshot->metadata().index();
    log_.stable_snapshot_to(index);
    log_.applied_to(index);
  }
  if (!handled.entries.empty()) {
    log_.stable_to(handled.entries.back().index(), handled.entries.back().term());
    if (role_ == Role::Leader) self_ack_persisted();
  }
  if (!handled.committed_entries.empty()) {
    log_.applied_to(handled.committed_entries.back().index());
    if (role_ == Role::Leader) {
      for (const pb::Entry& entry : handled.committed_entries) {
        uncommitted_bytes_ -= std::min(uncommitted_bytes_, uint64_t{entry.data().size()});
      }
    }
  }
}

// The local append acknowledgement: the leader's entries count toward commit only once the owner
// has persisted them, which lets it send MsgApp before its own write finishes.
void Node::self_ack_persisted() {
  auto self = progress_.find(id_);
  if (self == progress_.end()) return;
  if (self->second.maybe_update(log_.stable_last_index()) && maybe_commit()) broadcast_append();
}

pb::ConfState Node::conf_state() const {
  pb::ConfState conf;
  for (const auto& [peer, pr] : progress_) {
    if (pr.is_learner()) {
      conf.add_learners(peer);
    } else {
      conf.add_voters(peer);
    }
  }
  conf.mutable_learners_to_promote()->Add(learners_to_promote_.begin(), learners_to_promote_.end());
  return conf;
}

Status Node::status() const {
  Status s;
  s.id = id_;
  s.term = term_;
  s.vote = vote_;
  s.commit = log_.committed();
  s.applied = log_.applied();
  s.last_index = log_.last_index();
  s.leader = lead_;
  s.role = role_;
  s.lead_transferee = lead_transferee_;
  s.conf_state = conf_state();
  if (role_ != Role::Leader) return s;
  for (const auto& [peer, pr] : progress_) {
    s.progress[peer] = Status::Member{pr.match(),      pr.next(),          pr.state(),
                                      pr.is_learner(), pr.recent_active(), pr.pending_snapshot()};
  }
  return s;
}

}  // namespace raft
