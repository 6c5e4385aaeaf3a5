#include "discovery/server/member.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <utility>

#include "common/check.h"
#include "discovery/server/member_id.h"
#include "discovery/server/membership.pb.h"
#include "discovery/server/snapshot_checkpoint.h"

namespace discovery::server {
namespace asio = boost::asio;

namespace {

// etcd's leader proposes a SYNC every 500 ms; expiry events therefore arrive within half a second
// of the expiration time, and so do ours (behaviour item 7).
constexpr int kSyncTicks = 5;
// A publish or version proposal not applied after this many ticks was lost (a leader change):
// propose it again.
constexpr int kRecordRetryTicks = 30;
// A ReadIndex request unanswered after this many ticks fails (the client may retry).
constexpr int kReadTimeoutTicks = 50;
// A write not applied after this many ticks (its forwarded proposal was lost with a leader
// change) is answered with etcd's timeout error; the client may retry.
constexpr int kWriteTimeoutTicks = 70;

// 8 big-endian bytes, so contexts of one member never collide and sort by issue order.
void append_u64(std::string& out, std::uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((value >> shift) & 0xff));
  }
}

// Answers every waiter in `waiting` (by request id) that has waited more than kWriteTimeoutTicks
// with `timed_out`, and forgets it; the others wait one tick longer.
template <class Waiting, class Value>
void expire(asio::io_context& io, Waiting& waiting, const Value& timed_out) {
  for (auto it = waiting.begin(); it != waiting.end();) {
    if (++it->second.ticks <= kWriteTimeoutTicks) {
      ++it;
      continue;
    }
    *it->second.result = timed_out;
    asio::post(io, std::move(it->second.waiter));
    it = waiting.erase(it);
  }
}

std::int64_t unix_ns(common::WallTime time) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count();
}

}  // namespace

Member::Member(asio::io_context& io, std::unique_ptr<RocksdbStorage> storage, const Clock& clock,
               MemberSetup setup)
    : io_(io),
      clock_(clock),
      setup_(std::move(setup)),
      storage_(std::move(storage)),
      tick_timer_(io) {}

Member::~Member() = default;

common::Result<void, std::string> Member::start() {
  RocksdbStorage::Loaded loaded = storage_->load();
  const std::size_t count = loaded.records.size();
  if (auto restored = store_.restore(std::move(loaded.records), loaded.index); !restored) {
    return restored.error();
  }
  applied_ = loaded.applied;
  log_ = RocksdbRaftLog::load(storage_->db());
  if (was_removed(store_, setup_.self_id)) {
    return std::string("the member has been permanently removed from the cluster");
  }
  const bool empty = log_->last_index() == 0 && applied_ == 0 && store_.index() == 0;
  if (empty && setup_.join) {
    // The bootstrap configuration is not in the log: a joining member learns the cluster from
    // the leader's snapshot, so it starts with no configuration (raft/node.h, Config).
    spdlog::info("joining an existing cluster: waiting for the leader's snapshot");
  } else if (empty) {
    if (setup_.initial_members.empty()) {
      return std::string("empty data directory and no initial cluster to bootstrap");
    }
    bootstrap_log();
    // etcd's bootstrap also makes one failed read of its auth records (pinned by the store's etcd
    // traces: a fresh member shows getsFail 1).
    ++store_.stats().gets_fail;
  }
  std::filesystem::path snapshot_dir = setup_.snapshot_dir;
  if (snapshot_dir.empty()) snapshot_dir = storage_->dir().string() + "-snap";
  snapshots_ = std::make_unique<MemberSnapshots>(snapshot_dir, setup_.snapshot, *storage_, *log_);
  snapshots_->set_metrics(metrics_.snapshots);
  if (auto recovered = snapshots_->recover(applied_); !recovered) return recovered.error();
  spdlog::info("restored {} nodes at index {} (raft applied {}, log ({}, {}], snapshot at {})",
               count, store_.index(), applied_, log_->base_index(), log_->last_index(),
               snapshots_->index());
  raft::Config config;
  config.id = setup_.self_id;
  config.applied = applied_;
  config.election_tick = setup_.election_tick;
  config.seed = setup_.seed ^ setup_.self_id;
  node_ = std::make_unique<raft::Node>(config, *log_);
  // etcd's request ids: the member id's low 16 bits, then the start time in milliseconds, then a
  // counter, so ids stay unique across members and restarts.
  const auto start_ms = static_cast<std::uint64_t>(unix_ns(clock_.wall_now()) / 1'000'000);
  request_prefix_ = ((setup_.self_id & 0xffff) << 48) | ((start_ms & ((1ull << 40) - 1)) << 8);
  const raft::pb::ConfState conf = log_->conf_state();
  if (conf.voters_size() == 1 && conf.voters(0) == setup_.self_id) {
    // Alone: no one else can hold an election, so take the lead at once instead of waiting for
    // an election timeout.
    CHECK(node_->campaign().has_value(), "a lone member cannot campaign");
  }
  sync_thread_ = std::make_unique<SyncThread>(*storage_, io_.get_executor(), [this] {
    finish_ready();
    schedule_ready();
  });
  after_apply();
  schedule_ready();
  asio::co_spawn(io_, tick_loop(), asio::detached);
  return {};
}

void Member::bootstrap_log() {
  // As etcd starts a new cluster: one entry per initial member in term 1, already committed, the
  // same bytes on every member (no clock in them), with the initial members as voters.
  std::vector<raft::pb::Entry> entries;
  raft::pb::ConfState conf;
  for (const auto& [id, record] : setup_.initial_members) {
    store::pb::Command command;
    *command.mutable_cluster_record() = record;
    raft::pb::Entry entry;
    entry.set_index(entries.size() + 1);
    entry.set_term(1);
    entry.set_type(raft::pb::EntryNormal);
    entry.set_data(command.SerializeAsString());
    entries.push_back(std::move(entry));
    conf.add_voters(id);
  }
  raft::pb::HardState hard_state;
  hard_state.set_term(1);
  hard_state.set_commit(entries.size());
  rocksdb::WriteBatch batch;
  log_->append(batch, entries);
  log_->set_hard_state(batch, hard_state);
  log_->set_conf_state(batch, conf);
  storage_->commit(batch);
}

void Member::stop() {
  stopped_ = true;
  tick_timer_.cancel();
}

asio::awaitable<store::StoreResult<store::Event>> Member::write(store::pb::Command command) {
  const std::uint64_t id = next_request_id();
  command.set_request_id(id);
  if (auto proposed = node_->propose(command.SerializeAsString()); !proposed) {
    if (metrics_.proposals_failed) metrics_.proposals_failed->inc();
    // etcd answers every error that is not the store's own with index 0 (cluster_clients_test
    // "unavailable"); so here and below.
    co_return store::Error{.code = store::ErrorCode::RaftInternal,
                           .cause = raft::to_string(proposed.error()),
                           .index = 0};
  }
  schedule_ready();
  std::optional<store::StoreResult<store::Event>> result;
  co_await asio::async_initiate<decltype(asio::use_awaitable), void()>(
      [this, id, &result](auto handler) {
        pending_.emplace(id, Pending{.result = &result, .waiter = std::move(handler)});
      },
      asio::use_awaitable);
  CHECK(result.has_value(), "request {} answered without a result", id);
  co_return std::move(*result);
}

asio::awaitable<bool> Member::read_barrier() {
  bool ok = false;
  co_await asio::async_initiate<decltype(asio::use_awaitable), void()>(
      [this, &ok](auto handler) {
        read_queue_.push_back(Reader{.ok = &ok, .waiter = std::move(handler)});
        issue_reads();
      },
      asio::use_awaitable);
  co_return ok;
}

void Member::issue_reads() {
  // Readers share ReadIndex requests, as etcd's linearizable reads do: each request costs the
  // leader a heartbeat round, so one per reader would cost a round per GET. A request issued
  // after a reader came gives a read point at least as late as that reader needs, so everyone
  // queued now may share the next one; those who come while it is unanswered wait for the one
  // after it.
  if (read_queue_.empty() || !unanswered_read_.empty()) return;
  // Unique cluster-wide, as Node::read_index asks: this member's id, then a per-run counter
  // started from the request id prefix (which holds the start time).
  std::string context;
  append_u64(context, setup_.self_id);
  append_u64(context, request_prefix_ + ++read_counter_);
  std::vector<Reader> readers;
  readers.swap(read_queue_);
  if (!node_->read_index(context)) {
    for (Reader& reader : readers) {
      *reader.ok = false;
      asio::post(io_, std::move(reader.waiter));
    }
    return;
  }
  unanswered_read_ = context;
  reads_.emplace(std::move(context), Read{.readers = std::move(readers)});
  schedule_ready();
}

void Member::release_reads(bool expire) {
  for (auto it = reads_.begin(); it != reads_.end();) {
    Read& read = it->second;
    const bool done = read.index != 0 && read.index <= applied_;
    if (!done && !(expire && ++read.ticks > kReadTimeoutTicks)) {
      ++it;
      continue;
    }
    for (Reader& reader : read.readers) {
      *reader.ok = done;
      asio::post(io_, std::move(reader.waiter));
    }
    if (it->first == unanswered_read_) unanswered_read_.clear();
    it = reads_.erase(it);
  }
  issue_reads();
}

void Member::expire_writes() {
  expire(io_, pending_,
         store::Error{.code = store::ErrorCode::RaftInternal,
                      .cause = "etcdserver: request timed out",
                      .index = 0});
  expire(io_, changes_, MembershipError::Timeout);
}

void Member::schedule_ready() {
  if (ready_scheduled_ || stopped_) return;
  ready_scheduled_ = true;
  // Posted behind the handlers already queued, so the writes they carry share this Ready.
  asio::post(io_, [this] { handle_ready(); });
}

void Member::handle_ready() {
  ready_scheduled_ = false;
  while (!flight_ && node_->has_ready()) {
    Flight& flight =
        flight_.emplace(Flight{.ready = node_->ready(), .sync = false, .write_start = {}});
    raft::Ready& ready = flight.ready;
    const bool sent_early = ready.may_send_before_persisting && !ready.messages.empty();
    const bool sent_out = sent_early && send(ready.messages);
    if (ready.snapshot) {
      // Persisted (with the Ready's hard state and entries) by swapping in a whole database;
      // such a Ready carries no committed entries (raft applies the snapshot first).
      install_snapshot(ready);
      note_leader(ready);
      serve_reads(ready);
      finish_ready();
      continue;
    }
    rocksdb::WriteBatch batch;
    persist(ready, batch, flight.sync);
    note_leader(ready);
    const auto apply_start = std::chrono::steady_clock::now();
    std::vector<Answer> answers;
    apply_entries(ready.committed_entries, batch, answers);
    flight.write_start = std::chrono::steady_clock::now();
    if (metrics_.apply_seconds && !ready.committed_entries.empty()) {
      metrics_.apply_seconds->observe(
          std::chrono::duration<double>(flight.write_start - apply_start).count());
    }
    // Committed entries are on a quorum's disks (the leader counts its own copy only once it is
    // written), so their writers and readers are answered now rather than after this Ready's
    // batch: a write waits for one sync, not two.
    answer(answers);
    serve_reads(ready);
    if (flight.sync && !write_inline(sent_early, sent_out)) {
      // finish_ready() runs once the sync thread is done; until then requests keep being parsed
      // and proposed, and join the next Ready.
      sync_thread_->submit(std::move(batch));
      return;
    }
    if (batch.Count() > 0) storage_->commit(batch, flight.sync);
    finish_ready();
  }
}

bool Member::write_inline(bool sent_early, bool sent_out) const {
  // A lone client connection waits for its answer before it sends again, so nothing would be
  // parsed during the sync: the hand-off to the sync thread and back (two thread wake-ups) would
  // only add latency. Unless the leader has just handed messages to the transport that are still
  // queued: they leave through this io thread, and an inline sync would hold them until it is
  // done, so the followers' syncs would follow the leader's instead of overlapping it.
  if (sent_early && !sent_out) return !sync_thread_;
  return !sync_thread_ || (client_connections_ && client_connections_() <= 1);
}

void Member::finish_ready() {
  Flight flight = std::move(*flight_);
  flight_.reset();
  if (flight.sync && metrics_.fsync_seconds) {
    // Includes the hand-back to the io thread when the sync thread wrote it.
    metrics_.fsync_seconds->observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - flight.write_start)
            .count());
  }
  send(flight.ready.messages);
  node_->advance(flight.ready);
  after_apply();
  maybe_snapshot();
}

void Member::note_leader(const raft::Ready& ready) {
  if (ready.leader == last_leader_) return;
  if (ready.leader != raft::kNone && metrics_.leader_changes) metrics_.leader_changes->inc();
  last_leader_ = ready.leader;
}

void Member::maybe_snapshot() {
  // Here every apply so far is committed to the database and no batch is in flight, so a
  // checkpoint reflects exactly applied_.
  if (flight_ || applied_ == 0) return;
  std::optional<std::uint64_t> keep_entries = std::exchange(snapshot_requested_, std::nullopt);
  if (!keep_entries && !snapshots_->due(applied_)) return;
  auto taken =
      keep_entries ? snapshots_->take(applied_, *keep_entries) : snapshots_->take(applied_);
  if (!taken) spdlog::error("snapshot at {} failed: {}", applied_, taken.error());
}

void Member::request_snapshot(std::uint64_t keep_entries) {
  snapshot_requested_ = std::min(keep_entries, snapshot_requested_.value_or(keep_entries));
  maybe_snapshot();
}

void Member::install_snapshot(const raft::Ready& ready) {
  const raft::pb::SnapshotMetadata& metadata = ready.snapshot->metadata();
  // Raft takes a snapshot only from receive_snapshot(), which staged its checkpoint.
  CHECK(staged_ && staged_->index == metadata.index() && staged_->term == metadata.term(),
        "snapshot at {} (term {}) to install has no received checkpoint", metadata.index(),
        metadata.term());
  snapshots_->install(staged_->dir, metadata,
                      ready.hard_state ? *ready.hard_state : log_->hard_state(), ready.entries);
  staged_.reset();
  RocksdbStorage::Loaded loaded = storage_->load();
  const std::size_t count = loaded.records.size();
  auto recovered = store_.recover(std::move(loaded.records), loaded.index);
  CHECK(recovered.has_value(), "the installed snapshot is no key space: {}", recovered.error());
  CHECK(loaded.applied == metadata.index(), "installed database applied {}, snapshot at {}",
        loaded.applied, metadata.index());
  applied_ = loaded.applied;
  spdlog::info("store restored from the snapshot: {} nodes at index {}", count, store_.index());
  // The snapshot brings the members whose additions this member never applied: the transport
  // learns them as if they had been added now.
  if (membership_observer_) {
    for (const api::Member& member : members()) {
      membership_observer_(MembershipChange{
          .type = raft::pb::ConfChangeAddNode, .id = member.id, .peer_urls = member.peer_urls});
    }
  }
}

void Member::receive_snapshot(const raft::pb::Message& message,
                              const std::filesystem::path& staged) {
  const raft::pb::SnapshotMetadata& metadata = message.snapshot().metadata();
  const auto discard = [&staged] { (void)remove_directory(staged); };
  if (stopped_ || !node_) return discard();
  // Checked before raft sees the message: once raft takes a snapshot it must be installable.
  if (auto verified = MemberSnapshots::verify_received(staged, metadata); !verified) {
    spdlog::warn("snapshot at {} from {:x} refused: {}", metadata.index(), message.from(),
                 verified.error());
    return discard();
  }
  step(message);
  const std::optional<raft::pb::Snapshot>& pending = node_->log().unstable_snapshot();
  if (!pending || pending->metadata().index() != metadata.index() ||
      pending->metadata().term() != metadata.term()) {
    return discard();  // raft already holds it, or it is outdated
  }
  if (staged_) (void)remove_directory(staged_->dir);
  staged_ = Staged{.index = metadata.index(), .term = metadata.term(), .dir = staged};
}

void Member::snapshot_sent(std::uint64_t peer, bool ok) {
  snapshots_->release(peer);
  if (stopped_ || !node_) return;
  node_->report_snapshot(peer, ok);
  schedule_ready();
}

void Member::serve_reads(const raft::Ready& ready) {
  for (const raft::ReadState& state : ready.read_states) {
    auto it = reads_.find(state.context);
    if (it != reads_.end()) it->second.index = std::max<std::uint64_t>(state.index, 1);
    if (state.context == unanswered_read_) unanswered_read_.clear();
  }
  if (!reads_.empty()) release_reads(false);
  issue_reads();
}

void Member::persist(const raft::Ready& ready, rocksdb::WriteBatch& batch, bool& sync) const {
  if (ready.hard_state) {
    const raft::pb::HardState& before = log_->hard_state();
    // A commit index alone need not be synced: after a crash the leader tells it again.
    if (ready.hard_state->term() != before.term() || ready.hard_state->vote() != before.vote()) {
      sync = true;
    }
    log_->set_hard_state(batch, *ready.hard_state);
  }
  if (!ready.entries.empty()) {
    log_->append(batch, ready.entries);
    sync = true;
  }
}

void Member::apply_entries(const std::vector<raft::pb::Entry>& entries, rocksdb::WriteBatch& batch,
                           std::vector<Answer>& answers) {
  if (entries.empty()) return;
  for (const raft::pb::Entry& entry : entries) {
    if (entry.index() <= applied_) continue;
    if (entry.type() == raft::pb::EntryConfChange) {
      apply_conf_change(entry, batch);
    } else if (!entry.data().empty()) {
      apply_command(entry, answers);
    }
    applied_ = entry.index();
  }
  RocksdbStorage::append(batch, store_.take_changes(), store_.index());
  RocksdbStorage::set_applied(batch, applied_);
}

void Member::apply_command(const raft::pb::Entry& entry, std::vector<Answer>& answers) {
  store::pb::Command command;
  CHECK(command.ParseFromString(entry.data()), "corrupt command at {}", entry.index());
  // etcd renders the ttl fields of an event from its store's clock when it applies the entry,
  // not from the time of the request: a write or a sync applied late shows the time that passed
  // meanwhile (an expire event's prevNode shows ttl -1 once the sync lands over a second after
  // the expiry). The time only renders answers; what expires is decided by the sync's own time.
  command.set_time_unix_ns(unix_ns(clock_.wall_now()));
  store::StoreResult<std::optional<store::Event>> applied = store_.apply(command);
  if (command.request_id() == 0 || !pending_.contains(command.request_id())) return;
  if (!applied) {
    answers.push_back(Answer{.request_id = command.request_id(), .result = applied.error()});
    return;
  }
  CHECK(applied->has_value(), "a write produced no event (entry {})", entry.index());
  answers.push_back(Answer{.request_id = command.request_id(), .result = std::move(**applied)});
}

void Member::apply_conf_change(const raft::pb::Entry& entry, rocksdb::WriteBatch& batch) {
  raft::pb::ConfChange change;
  CHECK(change.ParseFromString(entry.data()), "corrupt conf change at {}", entry.index());
  if (change.type() == raft::pb::ConfChangePromoteNode) {
    log_->set_conf_state(batch, node_->apply_conf_change(change));
    spdlog::info("member {} promoted to voter at raft index {}", format_id(change.node_id()),
                 entry.index());
    return;
  }
  pb::MemberChange context;
  CHECK(context.ParseFromString(change.context()), "corrupt member change at {}", entry.index());
  MembershipChange applied{.type = change.type(),
                           .id = change.node_id(),
                           .peer_urls = {context.peer_urls().begin(), context.peer_urls().end()}};
  // Decided here, on the applied state, so that every member decides alike (etcd validates a
  // change when it applies it, too); a refused change leaves raft's configuration as it was.
  if (auto invalid = validate_member_change(store_, node_->conf_state(), applied.type, applied.id,
                                            applied.peer_urls)) {
    answer_change(context.request_id(), *invalid);
    return;
  }
  for (store::pb::ClusterRecord& record :
       member_change_records(applied.type, applied.id, applied.peer_urls)) {
    store::pb::Command command;
    command.set_time_unix_ns(unix_ns(clock_.wall_now()));
    *command.mutable_cluster_record() = std::move(record);
    CHECK(store_.apply(command).has_value(), "member record at {} refused", entry.index());
  }
  log_->set_conf_state(batch, node_->apply_conf_change(change));
  spdlog::info("membership change {} of member {} applied at raft index {}",
               raft::pb::ConfChangeType_Name(applied.type), format_id(applied.id), entry.index());
  if (applied.type == raft::pb::ConfChangeRemoveNode && applied.id == setup_.self_id) {
    removed_ = true;
  }
  if (applied.type == raft::pb::ConfChangeAddNode && log_->base_index() == 0) {
    // The new member has no configuration and can only start from a snapshot, which a leader
    // sends once its log no longer begins at index 1 (raft/node.h): every member (any may lead)
    // takes one once this batch is written, compacting (at least) the first entry.
    request_snapshot(applied_ - 1);
  }
  if (membership_observer_) membership_observer_(applied);
  answer_change(context.request_id(), {});
}

void Member::answer_change(std::uint64_t request_id, common::Result<void, MembershipError> result) {
  auto it = changes_.find(request_id);
  if (request_id == 0 || it == changes_.end()) return;
  *it->second.result = result;
  asio::post(io_, std::move(it->second.waiter));
  changes_.erase(it);
}

asio::awaitable<common::Result<void, MembershipError>> Member::change_membership(
    MembershipChange change) {
  if (removed_) co_return MembershipError::Unavailable;
  if (auto refused = check_proposal(store_, node_->conf_state(), change.type, change.id)) {
    co_return *refused;
  }
  if (change.type == raft::pb::ConfChangeRemoveNode &&
      !co_await hand_over_before_removal(change.id)) {
    co_return MembershipError::Timeout;
  }
  const std::uint64_t id = next_request_id();
  pb::MemberChange context;
  context.set_request_id(id);
  for (const std::string& url : change.peer_urls) context.add_peer_urls(url);
  raft::pb::ConfChange conf_change;
  conf_change.set_type(change.type);
  conf_change.set_node_id(change.id);
  conf_change.set_context(context.SerializeAsString());
  if (auto proposed = node_->propose_conf_change(conf_change); !proposed) {
    if (metrics_.proposals_failed) metrics_.proposals_failed->inc();
    spdlog::warn("membership change of {} not proposed: {}", format_id(change.id),
                 raft::to_string(proposed.error()));
    co_return MembershipError::Unavailable;
  }
  schedule_ready();
  std::optional<common::Result<void, MembershipError>> result;
  co_await asio::async_initiate<decltype(asio::use_awaitable), void()>(
      [this, id, &result](auto handler) {
        changes_.emplace(id, PendingChange{.result = &result, .waiter = std::move(handler)});
      },
      asio::use_awaitable);
  CHECK(result.has_value(), "membership change {} answered without a result", id);
  co_return *result;
}

asio::awaitable<bool> Member::hand_over_before_removal(std::uint64_t id) {
  // Removing the leader of a two-voter configuration could leave the other voter alone with an
  // uncommitted removal it cannot commit (it still needs the leaver's vote): the leader hands
  // over first, and the new leader removes a follower, which is safe. etcd answers 204 here
  // too, so clients see no difference.
  const raft::pb::ConfState conf = node_->conf_state();
  if (conf.voters_size() != 2 || node_->leader() != id) co_return true;
  const std::uint64_t other = conf.voters(0) == id ? conf.voters(1) : conf.voters(0);
  if (!node_->transfer_leadership(other)) co_return false;
  schedule_ready();
  asio::steady_timer wait(io_);
  for (int ticks = 0; ticks < kWriteTimeoutTicks && !stopped_; ++ticks) {
    if (node_->leader() != raft::kNone && node_->leader() != id) co_return true;
    wait.expires_after(kTickInterval);
    co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  co_return false;
}

void Member::answer(std::vector<Answer>& answers) {
  for (Answer& answer : answers) {
    auto it = pending_.find(answer.request_id);
    if (it == pending_.end()) continue;  // a duplicate of an entry already answered
    *it->second.result = std::move(answer.result);
    // Posted, not called: a resumed session may write again and must not re-enter this loop.
    asio::post(io_, std::move(it->second.waiter));
    pending_.erase(it);
  }
}

bool Member::send(std::vector<raft::pb::Message>& messages) {
  if (messages.empty()) return true;
  // A MsgSnap travels with its checkpoint over a connection of its own.
  const auto snaps = std::stable_partition(messages.begin(), messages.end(), [](const auto& m) {
    return m.type() != raft::pb::MsgSnap;
  });
  const bool snapshots = snaps != messages.end();
  for (auto it = snaps; it != messages.end(); ++it) send_snapshot(std::move(*it));
  messages.erase(snaps, messages.end());
  bool sent_out = !snapshots;
  if (sender_ && !messages.empty()) sent_out = sender_(std::move(messages)) && sent_out;
  messages.clear();
  return sent_out;
}

void Member::send_snapshot(raft::pb::Message message) {
  const std::uint64_t to = message.to();
  // One transfer per peer: the one under way reports back, and raft resends after that if the
  // follower still needs a snapshot.
  if (snapshots_->lent_to(to)) return;
  std::optional<std::filesystem::path> dir;
  if (snapshot_sender_) dir = snapshots_->lend(to, message.snapshot().metadata().index());
  if (!dir) {
    // The current snapshot's checkpoint is gone (making it failed after an install): a new one
    // is taken once this Ready is done, and raft sends that one at its next try.
    if (snapshot_sender_ && !snapshots_->has_checkpoint()) {
      snapshot_requested_ = snapshot_requested_.value_or(setup_.snapshot.catch_up_entries);
    }
    node_->report_snapshot(to, false);
    schedule_ready();
    return;
  }
  snapshot_sender_(std::move(message), std::move(*dir));
}

void Member::step(const raft::pb::Message& message) {
  if (stopped_ || !node_) return;
  if (auto stepped = node_->step(message); !stepped) {
    spdlog::debug("message {} from {:x} refused: {}", static_cast<int>(message.type()),
                  message.from(), raft::to_string(stepped.error()));
  }
  schedule_ready();
}

void Member::report_unreachable(std::uint64_t peer) {
  if (stopped_ || !node_) return;
  node_->report_unreachable(peer);
  schedule_ready();
}

void Member::after_apply() {
  if (!published_ && store_.cluster_record(setup_.attributes.key()) == setup_.attributes.value()) {
    published_ = true;
    publish_wait_ticks_ = 0;
    spdlog::info("member attributes applied at index {}; serving clients", store_.index());
    if (ready_) ready_();
  }
  if (node_->leader() == raft::kNone) return;
  if (!published_ && publish_wait_ticks_ == 0) {
    publish_wait_ticks_ = 1;
    propose_record(setup_.attributes);
  }
  if (node_->role() == raft::Role::Leader && version_wait_ticks_ == 0 &&
      !store_.cluster_record(setup_.version.key()).has_value()) {
    version_wait_ticks_ = 1;
    propose_record(setup_.version);
  }
}

void Member::propose_record(const store::pb::ClusterRecord& record) {
  store::pb::Command command;
  command.set_time_unix_ns(unix_ns(clock_.wall_now()));
  *command.mutable_cluster_record() = record;
  if (!node_->propose(command.SerializeAsString())) return;  // retried after kRecordRetryTicks
  schedule_ready();
}

void Member::maybe_propose_sync() {
  if (node_->role() != raft::Role::Leader) return;
  const common::WallTime now = clock_.wall_now();
  const std::optional<common::WallTime> next = store_.next_expiration();
  if (!next || *next > now) return;
  store::pb::Command command;
  command.set_time_unix_ns(unix_ns(now));
  command.mutable_sync()->set_time_unix_ns(unix_ns(now));
  if (node_->propose(command.SerializeAsString())) schedule_ready();
}

asio::awaitable<void> Member::tick_loop() {
  while (!stopped_) {
    tick_timer_.expires_after(kTickInterval);
    const auto [ec] = co_await tick_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec || stopped_) co_return;
    node_->tick();
    if (!reads_.empty()) release_reads(true);
    if (!pending_.empty() || !changes_.empty()) expire_writes();
    if (publish_wait_ticks_ > 0 && ++publish_wait_ticks_ > kRecordRetryTicks) {
      publish_wait_ticks_ = 0;
    }
    if (version_wait_ticks_ > 0 && ++version_wait_ticks_ > kRecordRetryTicks) {
      version_wait_ticks_ = 0;
    }
    if (++sync_ticks_ >= kSyncTicks) {
      sync_ticks_ = 0;
      maybe_propose_sync();
    }
    after_apply();
    schedule_ready();
  }
}

}  // namespace discovery::server
