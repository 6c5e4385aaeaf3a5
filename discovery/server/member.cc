#include "discovery/server/member.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/check.h"

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
  if (log_->last_index() == 0 && applied_ == 0 && store_.index() == 0) {
    if (setup_.initial_members.empty()) {
      return std::string("empty data directory and no initial cluster to bootstrap");
    }
    bootstrap_log();
    // etcd's bootstrap also makes one failed read of its auth records (pinned by the store's etcd
    // traces: a fresh member shows getsFail 1).
    ++store_.stats().gets_fail;
  }
  spdlog::info("restored {} nodes at index {} (raft applied {}, log up to {})", count,
               store_.index(), applied_, log_->last_index());
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
    co_return store::Error{.code = store::ErrorCode::RaftInternal,
                           .cause = raft::to_string(proposed.error()),
                           .index = store_.index()};
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
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (++it->second.ticks <= kWriteTimeoutTicks) {
      ++it;
      continue;
    }
    *it->second.result = store::Error{.code = store::ErrorCode::RaftInternal,
                                      .cause = "etcdserver: request timed out",
                                      .index = store_.index()};
    asio::post(io_, std::move(it->second.waiter));
    it = pending_.erase(it);
  }
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
    if (sent_early) send(ready.messages);
    CHECK(!ready.snapshot.has_value(), "snapshots are not handled yet");
    rocksdb::WriteBatch batch;
    persist(ready, batch, flight.sync);
    if (ready.leader != last_leader_) {
      if (ready.leader != raft::kNone && metrics_.leader_changes) metrics_.leader_changes->inc();
      last_leader_ = ready.leader;
    }
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
    if (flight.sync && !write_inline(sent_early)) {
      // finish_ready() runs once the sync thread is done; until then requests keep being parsed
      // and proposed, and join the next Ready.
      sync_thread_->submit(std::move(batch));
      return;
    }
    if (batch.Count() > 0) storage_->commit(batch, flight.sync);
    finish_ready();
  }
}

bool Member::write_inline(bool sent_early) const {
  // A lone client connection waits for its answer before it sends again, so nothing would be
  // parsed during the sync: the hand-off to the sync thread and back would only add latency.
  // Unless the leader has just handed messages to the transport: they leave through this io
  // thread, and an inline sync would hold them until it is done, so the followers' syncs would
  // follow the leader's instead of overlapping it.
  if (sent_early) return !sync_thread_;
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
      raft::pb::ConfChange change;
      CHECK(change.ParseFromString(entry.data()), "corrupt conf change at {}", entry.index());
      log_->set_conf_state(batch, node_->apply_conf_change(change));
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

void Member::send(std::vector<raft::pb::Message>& messages) {
  if (messages.empty()) return;
  if (sender_) sender_(std::move(messages));
  messages.clear();
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
    if (!pending_.empty()) expire_writes();
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
