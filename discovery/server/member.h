#pragma once
// Member: one discovery member's key space driven through raft: the raft node, its RocksDB log,
// the store, and the loop that turns client writes into proposals and committed entries into
// answers.
//
// Ownership: created by main() and shared by every HTTP session. Threads: every method runs on the
// single io thread (the raft strand) that also runs the sessions, so neither the store nor the
// raft node needs a lock; a Ready's synced batch is written on the SyncThread, which touches
// nothing else and posts its completion back to the io thread.
//
// The loop (raft/node.h, the Ready contract): client writes become store Commands carrying a
// request id and are proposed; one Ready is handled once the handlers already queued on the io
// thread have run, so every write that arrived meanwhile shares it (the group commit). Per Ready:
// entries and hard state go into one RocksDB WriteBatch together with the changes that the
// committed entries make to the store and the applied raft index; the batch is written once,
// synced when it carries entries, a snapshot or a new term or vote (a commit index alone is
// recomputed after a crash, and applied changes are recovered by replaying the synced log after
// "m:applied"). A synced batch is written on the SyncThread while the io thread goes on parsing
// requests and proposing (those proposals join the next Ready); with at most one client
// connection it is written inline, as a thread hand-off would only add latency, unless the leader
// has just handed messages to the transport that it could not write at once (they would leave
// through the io thread, which must not be blocked on the sync meanwhile). The writers whose
// commands were applied are answered at once (their entries are committed, so already on a quorum's
// disks); once the batch is written, messages go out (before it when the leader may send early) and
// the node advances.
//
// Quorum reads: one ReadIndex request at a time is awaiting its index; the readers that come
// meanwhile share the next request.
//
// Expiry: the leader proposes etcd's periodic sync command every 500 ms when a node is due.
//
// Membership (/v2/members): a change is a raft conf change whose context carries the member's
// record and the waiting request's id; every member validates it when it applies it (etcd's
// rules, membership.h), then writes the records, changes raft's configuration and tells the
// observer (the peer transport), so all members change alike. A member added while the log still
// begins at index 1 makes every member take a snapshot: the newcomer starts from one.
//
// Snapshots (member_snapshots.h): once a Ready's batch is written and more than the snapshot count
// of entries were applied since the last snapshot, the member checkpoints its database and
// compacts the log behind it. A MsgSnap goes out through the snapshot sender with the checkpoint
// of its index; a received one (receive_snapshot) is stepped into raft and, when a Ready carries
// it, installed in place of the database before anything else of that Ready is done.
//
// Invariants: store().index() changes only by applying committed entries (the store shows them
// while their Ready's batch is being written: committed entries are on a quorum's disks, the
// leader's own copy included, and come back after a crash); an answer is released only once its
// entry is committed and applied; at most one Ready is in flight (flight_).

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/metrics.h"
#include "discovery/server/cluster_members.h"
#include "discovery/server/member_snapshots.h"
#include "discovery/server/membership.h"
#include "discovery/server/rocksdb_raft_log.h"
#include "discovery/server/rocksdb_storage.h"
#include "discovery/server/sync_thread.h"
#include "discovery/store/store.h"
#include "raft/node.h"

namespace discovery::server {

// What a member needs to know about itself and, for a new cluster, about the cluster it founds.
struct MemberSetup {
  std::uint64_t self_id = 0;
  // A new cluster only (empty data directory, --initial-cluster-state new): every initial
  // member's id with its raftAttributes record, in --initial-cluster order. They become the first
  // log entries (term 1, committed) on every member alike, so all members show the same indexes.
  std::vector<std::pair<std::uint64_t, store::pb::ClusterRecord>> initial_members;
  // This member's attributes record, proposed once a leader is known unless already applied, and
  // the cluster version record that the leader proposes when the store has none.
  store::pb::ClusterRecord attributes;
  store::pb::ClusterRecord version;
  // A member added at runtime (--initial-cluster-state existing, empty data directory): it starts
  // with no configuration and no log, and waits for the leader's snapshot.
  bool join = false;
  int election_tick = 10;  // in ticks of kTickInterval
  std::uint64_t seed = 1;
  // Where the snapshots' checkpoints live (<data-dir>/member/snap); empty: beside the database,
  // in "<its directory>-snap".
  std::filesystem::path snapshot_dir;
  SnapshotPolicy snapshot;
};

// One runtime membership change (/v2/members): add (ConfChangeAddNode; a learner until caught
// up), remove (ConfChangeRemoveNode) or new peer URLs (ConfChangeUpdateNode).
struct MembershipChange {
  raft::pb::ConfChangeType type = raft::pb::ConfChangeAddNode;
  std::uint64_t id = 0;
  std::vector<std::string> peer_urls;  // add and update: sorted canonical text
};

// The series the raft loop updates (server_metrics.cc registers them); null until set.
struct MemberMetrics {
  common::metrics::Counter* leader_changes = nullptr;
  common::metrics::Counter* proposals_failed = nullptr;
  common::metrics::Histogram* apply_seconds = nullptr;  // applying one Ready's committed entries
  common::metrics::Histogram* fsync_seconds = nullptr;  // one synced batch write
  SnapshotMetrics snapshots;
};

class Member {
 public:
  using Clock = common::Clock;
  static constexpr std::chrono::milliseconds kTickInterval{100};

  // `storage` must already hold whatever a previous run persisted; start() loads it.
  Member(boost::asio::io_context& io, std::unique_ptr<RocksdbStorage> storage, const Clock& clock,
         MemberSetup setup);
  ~Member();

  // Restores the persisted key space and raft state (bootstrapping a new cluster's log when the
  // setup names initial members and the log is empty), then starts ticking. Error: the stored
  // records do not form a key space (the message says why).
  common::Result<void, std::string> start();

  // Where raft messages go (the peer transport); without one, messages are dropped (a lone
  // member sends none). It returns true when the messages already left (written to their
  // connections), false when they were only queued: a leader then writes its own batch inline
  // only after the former (see write_inline()).
  using Sender = std::function<bool(std::vector<raft::pb::Message>)>;
  void set_sender(Sender sender) { sender_ = std::move(sender); }
  // Where a MsgSnap goes, with the checkpoint directory to stream before it (the peer transport's
  // send_snapshot). The directory stays until snapshot_sent() for that peer. Without one, a
  // MsgSnap is reported failed.
  using SnapshotSender = std::function<void(raft::pb::Message, std::filesystem::path)>;
  void set_snapshot_sender(SnapshotSender sender) { snapshot_sender_ = std::move(sender); }
  void set_metrics(MemberMetrics metrics) { metrics_ = metrics; }

  // A raft message from a peer (the transport's handler, on the io thread).
  void step(const raft::pb::Message& message);
  // The transport could not reach `peer`.
  void report_unreachable(std::uint64_t peer);
  // A MsgSnap whose checkpoint was received into `staged` (the transport's on_snapshot). The
  // member owns the directory from now on: it installs it or removes it.
  void receive_snapshot(const raft::pb::Message& message, const std::filesystem::path& staged);
  // The outcome of a snapshot handed to the snapshot sender (the transport's on_snapshot_sent).
  void snapshot_sent(std::uint64_t peer, bool ok);
  // Takes a snapshot at the applied index as soon as no batch is being written (at once if
  // none is), keeping only `keep_entries` of the log behind it: a member that joins with an empty
  // log learns the configuration from a snapshot only, so the leader compacts past index 1 when
  // it adds one (keep_entries 0). Failures are logged (the regular schedule retries). After
  // start().
  void request_snapshot(std::uint64_t keep_entries);

  // Called once this member's attributes are applied (etcd's publish): it may serve clients.
  void when_ready(std::function<void()> ready) { ready_ = std::move(ready); }

  // Called on the io thread for every membership change applied here (and for the members a
  // snapshot installs: a change of type ConfChangeAddNode per member), after the records and the
  // configuration changed; the peer transport follows it. A change that removes this member is
  // reported too: the member then stops serving (etcd exits), see removed().
  using MembershipObserver = std::function<void(const MembershipChange&)>;
  void on_membership(MembershipObserver observer) { membership_observer_ = std::move(observer); }

  // Proposes a membership change and completes once it is applied here, with etcd's verdict
  // (membership.h). Removing the leader of a two-voter configuration first hands leadership to
  // the other voter. Errors before proposing: check_proposal's; Unavailable when no leader takes
  // the proposal; Timeout when it was not applied (or the hand-over did not happen) within
  // kWriteTimeoutTicks (it may still be applied).
  boost::asio::awaitable<common::Result<void, MembershipError>> change_membership(
      MembershipChange change);
  // This member was removed from the cluster (applied here): it no longer serves.
  bool removed() const { return removed_; }

  // Proposes one client write (its time and expiration already set) and completes once it is
  // applied and the entry is written. Error RaftInternal when the proposal is refused (no leader)
  // or not applied within kWriteTimeoutTicks (it may still be applied later, as in etcd).
  boost::asio::awaitable<store::StoreResult<store::Event>> write(store::pb::Command command);

  // A linearizable read point (raft ReadIndex): completes true once this member has applied
  // every write committed before the call, false when no answer came within kReadTimeoutTicks
  // (no leader, or leadership lost meanwhile).
  boost::asio::awaitable<bool> read_barrier();

  // Everything applied is durable (see the header comment): completes at once. Kept so readers
  // state the rule they rely on.
  boost::asio::awaitable<void> wait_durable() { co_return; }

  // How many client connections are open: with at most one, synced batches are written inline.
  void set_client_connections(std::function<std::size_t()> count) {
    client_connections_ = std::move(count);
  }

  store::Store& store() { return store_; }
  std::uint64_t durable_index() const { return store_.index(); }
  std::uint64_t applied_index() const { return store_.index(); }
  std::uint64_t raft_applied() const { return applied_; }
  // The latest snapshot's index and the first entry the raft log still holds. After start().
  std::uint64_t snapshot_index() const { return snapshots_->index(); }
  std::uint64_t first_log_index() const { return log_->first_index(); }
  std::uint64_t watcher_count() const { return store_.stats().watchers; }
  const Clock& clock() const { return clock_; }
  // After start().
  const raft::Node& node() const { return *node_; }
  // The members of the applied configuration with their records (empty while a joining member
  // waits for its snapshot). After start().
  std::vector<api::Member> members() const { return cluster_members(store_, node_->conf_state()); }
  bool started() const { return node_ != nullptr; }

  // Stops the timers; pending writers are never answered.
  void stop();

 private:
  using Waiter = boost::asio::any_completion_handler<void()>;
  struct Pending {
    std::optional<store::StoreResult<store::Event>>* result;
    Waiter waiter;
    int ticks = 0;
  };
  struct Reader {
    bool* ok;
    Waiter waiter;
  };
  // One ReadIndex request and the readers that share it.
  struct Read {
    std::vector<Reader> readers;
    std::uint64_t index = 0;  // 0 until the ReadState came
    int ticks = 0;
  };
  struct PendingChange {
    std::optional<common::Result<void, MembershipError>>* result;
    Waiter waiter;
    int ticks = 0;
  };
  struct Answer {
    std::uint64_t request_id;
    store::StoreResult<store::Event> result;
  };
  // The Ready handed out and not yet advanced, with what is left to do once its batch is written.
  struct Flight {
    raft::Ready ready;
    bool sync = false;
    std::chrono::steady_clock::time_point write_start;
  };

  void bootstrap_log();
  void schedule_ready();
  void handle_ready();
  bool write_inline(bool sent_early, bool sent_out) const;
  void finish_ready();
  void serve_reads(const raft::Ready& ready);
  void persist(const raft::Ready& ready, rocksdb::WriteBatch& batch, bool& sync) const;
  void apply_entries(const std::vector<raft::pb::Entry>& entries, rocksdb::WriteBatch& batch,
                     std::vector<Answer>& answers);
  void apply_command(const raft::pb::Entry& entry, std::vector<Answer>& answers);
  void apply_conf_change(const raft::pb::Entry& entry, rocksdb::WriteBatch& batch);
  void answer_change(std::uint64_t request_id, common::Result<void, MembershipError> result);
  boost::asio::awaitable<bool> hand_over_before_removal(std::uint64_t id);
  void answer(std::vector<Answer>& answers);
  void note_leader(const raft::Ready& ready);
  bool send(std::vector<raft::pb::Message>& messages);
  void send_snapshot(raft::pb::Message message);
  void install_snapshot(const raft::Ready& ready);
  void maybe_snapshot();
  void after_apply();
  void issue_reads();
  void release_reads(bool expire);
  void expire_writes();
  void propose_record(const store::pb::ClusterRecord& record);
  std::uint64_t next_request_id() { return request_prefix_ + ++request_counter_; }
  boost::asio::awaitable<void> tick_loop();
  void maybe_propose_sync();

  boost::asio::io_context& io_;
  const Clock& clock_;
  MemberSetup setup_;
  store::Store store_;
  std::unique_ptr<RocksdbStorage> storage_;
  std::unique_ptr<RocksdbRaftLog> log_;
  std::unique_ptr<MemberSnapshots> snapshots_;
  // The received snapshot that raft holds as not yet persisted, and its checkpoint's directory.
  struct Staged {
    std::uint64_t index = 0;
    std::uint64_t term = 0;
    std::filesystem::path dir;
  };
  std::optional<Staged> staged_;
  std::optional<std::uint64_t> snapshot_requested_;  // keep_entries of a request_snapshot()
  std::unique_ptr<raft::Node> node_;
  std::uint64_t applied_ = 0;  // raft index the store reflects
  std::uint64_t request_prefix_ = 0;
  std::uint64_t request_counter_ = 0;
  std::map<std::uint64_t, Pending> pending_;        // by request id
  std::map<std::string, Read> reads_;               // by ReadIndex context
  std::map<std::uint64_t, PendingChange> changes_;  // by request id
  // Readers that came while a ReadIndex request was unanswered: they share the next one.
  std::vector<Reader> read_queue_;
  std::string unanswered_read_;  // context of the request whose index is unknown; empty: none
  MembershipObserver membership_observer_;
  bool removed_ = false;
  std::uint64_t read_counter_ = 0;
  bool ready_scheduled_ = false;
  bool published_ = false;
  int publish_wait_ticks_ = 0;  // ticks since the attributes were proposed; 0 = none in flight
  int version_wait_ticks_ = 0;
  int sync_ticks_ = 0;
  std::function<void()> ready_;
  Sender sender_;
  SnapshotSender snapshot_sender_;
  MemberMetrics metrics_;
  std::uint64_t last_leader_ = raft::kNone;
  std::function<std::size_t()> client_connections_;
  std::optional<Flight> flight_;
  boost::asio::steady_timer tick_timer_;
  bool stopped_ = false;
  // Last, so it is joined before anything it may still be writing through goes away.
  std::unique_ptr<SyncThread> sync_thread_;
};

}  // namespace discovery::server
