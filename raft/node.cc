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

Node::Node(const Config& config, const LogStorage& storage)
    : config_(config), id_(config.id), log_(storage), rng_(config.seed) {
  CHECK(id_ != kNone, "a node needs an id");
  CHECK(config.heartbeat_tick > 0 && config.election_tick > config.heartbeat_tick,
        "election_tick {} must exceed heartbeat_tick {}", config.election_tick,
        config.heartbeat_tick);
  std::vector<uint64_t> voters = config.voters;
  if (voters.empty()) {
    const pb::ConfState conf = storage.conf_state();
    voters.assign(conf.voters().begin(), conf.voters().end());
  }
  CHECK(!voters.empty(), "node {} has no voters", id_);
  for (uint64_t voter : voters) progress_.emplace(voter, Progress(1, config.max_inflight_msgs));
  const pb::HardState hs = storage.hard_state();
  log_.commit_to(hs.commit());
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
    pr = Progress(log_.last_index() + 1, config_.max_inflight_msgs);
    if (peer == id_) pr.maybe_update(log_.last_index());
  }
  uncommitted_bytes_ = 0;
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
  // The no-op entry of the new term: earlier entries commit only once an entry of this term
  // does (Raft §5.4.2), so without it they could wait for the next client proposal.
  append_entries({pb::Entry()});
  broadcast_append();
}

void Node::start_campaign(bool pre) {
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
    if (peer == id_) continue;
    pb::Message m;
    m.set_type(type);
    m.set_to(peer);
    m.set_term(vote_term);
    m.set_index(log_.last_index());
    m.set_log_term(log_.last_term());
    send(std::move(m));
  }
}

void Node::tally_vote(const pb::Message& m) {
  votes_.emplace(m.from(), !m.reject());  // the first answer of each voter counts
  size_t granted = 0;
  size_t rejected = 0;
  for (const auto& [peer, vote] : votes_) (vote ? granted : rejected)++;
  if (granted >= quorum()) {
    if (role_ == Role::PreCandidate) {
      start_campaign(false);
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
  if (progress_.count(id_) != 0 && election_elapsed_ >= randomized_election_timeout_) {
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
  }
  if (heartbeat_elapsed_ >= config_.heartbeat_tick) {
    heartbeat_elapsed_ = 0;
    broadcast_heartbeat();
  }
}

Result<void> Node::step(const pb::Message& m) {
  bool drop = false;
  auto by_term = step_by_term(m, drop);
  if (!by_term || drop) return by_term;
  switch (m.type()) {
    case pb::MsgHup:
      if (role_ != Role::Leader) start_campaign(config_.pre_vote);
      return {};
    case pb::MsgVote:
    case pb::MsgPreVote:
      handle_vote_request(m);
      return {};
    default:
      break;
  }
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

// Compares the message's term with ours: a newer term makes us a follower (with exceptions for
// pre-votes and leases), an older one is answered so the stale sender can learn or dropped.
Result<void> Node::step_by_term(const pb::Message& m, bool& drop) {
  if (m.term() == 0) return {};  // a local message
  if (m.term() > term_) {
    if (is_vote_request(m.type())) {
      // Within the lease of a leader we heard from, a vote request comes from a member that
      // was partitioned away; granting it would depose a healthy leader.
      const bool in_lease =
          config_.check_quorum && lead_ != kNone && election_elapsed_ < config_.election_tick;
      if (in_lease) {
        drop = true;
        return {};
      }
    }
    if (m.type() == pb::MsgPreVote) return {};  // a pre-vote never changes our term
    if (m.type() == pb::MsgPreVoteResp && !m.reject()) return {};  // the term we asked for
    become_follower(m.term(), is_from_leader(m.type()) ? m.from() : kNone);
    return {};
  }
  if (m.term() < term_) {
    drop = true;
    if ((config_.check_quorum || config_.pre_vote) &&
        (m.type() == pb::MsgHeartbeat || m.type() == pb::MsgApp)) {
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
  return {};
}

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

Result<void> Node::step_leader(const pb::Message& m) {
  switch (m.type()) {
    case pb::MsgProp:
      return append_proposal(m);
    case pb::MsgCheckQuorum:
      check_quorum_active();
      return {};
    default:
      break;
  }
  if (progress_.count(m.from()) == 0) return Error::StepUnknownPeer;
  switch (m.type()) {
    case pb::MsgAppResp:
      handle_append_response(m);
      break;
    case pb::MsgHeartbeatResp:
      handle_heartbeat_response(m);
      break;
    // TODO(raft): MsgSnapStatus, MsgReadIndex, MsgTransferLeader (#3)
    default:
      break;
  }
  return {};
}

Result<void> Node::step_candidate(const pb::Message& m) {
  const pb::MessageType own_response =
      role_ == Role::PreCandidate ? pb::MsgPreVoteResp : pb::MsgVoteResp;
  switch (m.type()) {
    case pb::MsgProp:
      return Error::ProposalDropped;
    case pb::MsgApp:
      // A leader of our term won the election we are in.
      become_follower(m.term(), m.from());
      handle_append(m);
      return {};
    case pb::MsgHeartbeat:
      become_follower(m.term(), m.from());
      handle_heartbeat(m);
      return {};
    default:
      break;
  }
  if (m.type() == own_response) tally_vote(m);
  return {};
}

Result<void> Node::step_follower(const pb::Message& m) {
  switch (m.type()) {
    case pb::MsgProp: {
      if (lead_ == kNone) return Error::ProposalDropped;
      pb::Message forward = m;
      forward.set_to(lead_);
      send(std::move(forward));
      return {};
    }
    case pb::MsgApp:
      election_elapsed_ = 0;
      lead_ = m.from();
      handle_append(m);
      return {};
    case pb::MsgHeartbeat:
      election_elapsed_ = 0;
      lead_ = m.from();
      handle_heartbeat(m);
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

Result<void> Node::append_proposal(const pb::Message& m) {
  if (m.entries().empty()) return {};
  if (progress_.count(id_) == 0) return Error::ProposalDropped;
  uint64_t bytes = 0;
  for (const pb::Entry& entry : m.entries()) bytes += entry.data().size();
  // One proposal is always let through, so a single large one cannot block the log forever.
  if (uncommitted_bytes_ > 0 && uncommitted_bytes_ + bytes > config_.max_uncommitted_bytes) {
    return Error::UncommittedTooLarge;
  }
  append_entries({m.entries().begin(), m.entries().end()});
  broadcast_append();
  return {};
}

void Node::append_entries(std::vector<pb::Entry> entries) {
  uint64_t index = log_.last_index();
  for (pb::Entry& entry : entries) {
    entry.set_term(term_);
    entry.set_index(++index);
    uncommitted_bytes_ += entry.data().size();
  }
  log_.append(entries);
  // The leader counts its own entries as matched at once: the Ready contract makes the owner
  // persist them before any message goes out, so no one learns of a commit that needs them
  // before they are on the leader's disk.
  progress_.at(id_).maybe_update(log_.last_index());
  maybe_commit();
}

bool Node::maybe_commit() {
  std::vector<uint64_t> matches;
  matches.reserve(progress_.size());
  for (const auto& [peer, pr] : progress_) matches.push_back(pr.match());
  std::sort(matches.begin(), matches.end(), std::greater<>());
  // The highest index a quorum holds; it commits only if it is of our term.
  return log_.maybe_commit(matches[quorum() - 1], term_);
}

void Node::handle_append_response(const pb::Message& m) {
  Progress& pr = progress_.at(m.from());
  pr.set_recent_active(true);
  if (m.reject()) {
    uint64_t hint = m.reject_hint();
    // The follower told us the term at its hint: skip back over our entries of any later term.
    if (m.log_term() > 0) hint = log_.find_conflict_by_term(hint, m.log_term());
    if (pr.maybe_decrease_to(m.index(), hint)) {
      if (pr.state() == Progress::State::Replicate) pr.become_probe();
      maybe_send_append(m.from(), true);
    }
    return;
  }
  if (!pr.maybe_update(m.index())) return;
  if (pr.state() == Progress::State::Probe) pr.become_replicate();
  if (maybe_commit()) {
    broadcast_append();  // tell everyone the new commit index
  } else {
    while (maybe_send_append(m.from(), false)) {
    }
  }
}

void Node::handle_heartbeat_response(const pb::Message& m) {
  Progress& pr = progress_.at(m.from());
  pr.set_recent_active(true);
  pr.on_heartbeat_response();
  if (pr.match() < log_.last_index()) maybe_send_append(m.from(), true);
}

void Node::check_quorum_active() {
  size_t active = 0;
  for (auto& [peer, pr] : progress_) {
    if (peer == id_ || pr.recent_active()) ++active;
    pr.set_recent_active(false);
  }
  // A leader cut off from a quorum steps down, so that clients stop waiting on it.
  if (active < quorum()) become_follower(term_, kNone);
}

// Sends the next MsgApp to a follower unless its flow control says wait. Returns whether one
// went out.
bool Node::maybe_send_append(uint64_t to, bool send_if_empty) {
  if (to == id_) return false;
  Progress& pr = progress_.at(to);
  if (pr.is_paused()) return false;
  const uint64_t prev = pr.next() - 1;
  std::vector<pb::Entry> entries;
  if (pr.next() <= log_.last_index()) {
    auto slice = log_.slice(pr.next(), log_.last_index() + 1, config_.max_size_per_msg);
    // TODO(raft): send a snapshot when the entries are compacted (#3)
    if (!slice) return false;
    entries = std::move(*slice);
  }
  if (entries.empty() && !send_if_empty) return false;
  pb::Message m;
  m.set_type(pb::MsgApp);
  m.set_to(to);
  m.set_index(prev);
  m.set_log_term(log_.term(prev));
  m.set_commit(log_.committed());
  const uint64_t last = entries.empty() ? prev : entries.back().index();
  for (pb::Entry& entry : entries) *m.add_entries() = std::move(entry);
  pr.sent_entries(last, m.entries_size() > 0);
  send(std::move(m));
  return true;
}

void Node::broadcast_append() {
  for (const auto& [peer, pr] : progress_) maybe_send_append(peer, true);
}

void Node::broadcast_heartbeat() {
  for (const auto& [peer, pr] : progress_) {
    if (peer == id_) continue;
    pb::Message m;
    m.set_type(pb::MsgHeartbeat);
    m.set_to(peer);
    // Never more than the follower is known to hold: it cannot check the commit against its log.
    m.set_commit(std::min(pr.match(), log_.committed()));
    send(std::move(m));
  }
}

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
  send(std::move(resp));
}

void Node::send(pb::Message m) {
  m.set_from(id_);
  // Votes carry their own term; a forwarded proposal carries none (it is local to the leader).
  const bool own_term = m.type() != pb::MsgVote && m.type() != pb::MsgPreVote &&
                        m.type() != pb::MsgVoteResp && m.type() != pb::MsgPreVoteResp;
  if (m.type() == pb::MsgProp) {
    m.set_term(0);
  } else if (own_term) {
    m.set_term(term_);
  }
  messages_.push_back(std::move(m));
}

bool Node::has_ready() const {
  if (!messages_.empty() || !log_.unstable_entries().empty()) return true;
  if (log_.has_next_committed_entries()) return true;
  const pb::HardState hs = hard_state();
  return hs.term() != prev_hard_state_.term() || hs.vote() != prev_hard_state_.vote() ||
         hs.commit() != prev_hard_state_.commit();
}

Ready Node::ready() {
  Ready rd;
  const pb::HardState hs = hard_state();
  if (hs.term() != prev_hard_state_.term() || hs.vote() != prev_hard_state_.vote() ||
      hs.commit() != prev_hard_state_.commit()) {
    rd.hard_state = hs;
  }
  rd.entries = log_.unstable_entries();
  rd.committed_entries = log_.next_committed_entries(config_.max_committed_bytes_per_ready);
  rd.messages = std::move(messages_);
  messages_.clear();
  rd.leader = lead_;
  rd.role = role_;
  return rd;
}

void Node::advance(const Ready& handled) {
  if (handled.hard_state) prev_hard_state_ = *handled.hard_state;
  if (!handled.entries.empty()) {
    log_.stable_to(handled.entries.back().index(), handled.entries.back().term());
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

}  // namespace raft
