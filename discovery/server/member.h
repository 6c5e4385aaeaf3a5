#pragma once
// Member: one discovery member's key space: the store, its durable copy, and the rule that no
// answer leaves before the state it shows is synced.
//
// Ownership: created by main() and shared by every HTTP session. Threads: every method runs on the
// single io thread that also runs the sessions, so the store needs no lock.
//
// Group commit: a Syncer thread commits one batch at a time while the io thread keeps applying;
// everything applied during a sync goes out in the next batch. With a single client connected
// (which waits for each answer, so there is nothing to batch) the io thread commits itself,
// sparing the thread hand-offs that would otherwise cost more than the fsync.
//
// Invariants: durable_index() <= store().index(); an answer computed when the store was at index
// i is released only after durable_index() >= i (write acknowledgements and reads alike, so no
// client ever sees a state that a crash could take back).

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/clock.h"
#include "discovery/server/rocksdb_storage.h"
#include "discovery/server/syncer.h"
#include "discovery/store/store.h"

namespace discovery::server {

class Member {
 public:
  // `storage` must already hold whatever a previous run persisted; start() loads it.
  Member(boost::asio::io_context& io, std::unique_ptr<RocksdbStorage> storage,
         const common::Clock& clock);
  ~Member();

  // Restores the persisted key space and starts the expiry timer. Error: the stored records do
  // not form a key space (the message says why).
  common::Result<void, std::string> start();

  // Writes the records a new cluster starts with (after start(), on an empty store) and syncs
  // them before returning.
  void bootstrap(const std::vector<store::pb::ClusterRecord>& records);

  // Applies one client write (its time and expiration already set) and completes once the result
  // is durable.
  boost::asio::awaitable<store::StoreResult<store::Event>> write(store::pb::Command command);

  // Completes once everything applied so far is synced (at once when it already is). Waiting on
  // the current index rather than a given one keeps the waiters ordered by index.
  boost::asio::awaitable<void> wait_durable();

  // Tells the member how many client connections are open (for the choice above); until then it
  // always uses the sync thread.
  void set_client_connections(std::function<std::size_t()> count) {
    client_connections_ = std::move(count);
  }

  store::Store& store() { return store_; }
  std::uint64_t durable_index() const { return durable_index_; }
  std::uint64_t applied_index() const { return store_.index(); }
  std::uint64_t watcher_count() const { return store_.stats().watchers; }
  const common::Clock& clock() const { return clock_; }

  // Stops the expiry timer; in-flight syncs finish in the destructor.
  void stop();

 private:
  using Waiter = boost::asio::any_completion_handler<void()>;

  void persist_changes();
  void commit_inline();
  void submit_open_batch();
  void on_synced(std::uint64_t index);
  void mark_durable(std::uint64_t index);
  boost::asio::awaitable<void> expire_loop();

  boost::asio::io_context& io_;
  const common::Clock& clock_;
  store::Store store_;
  std::unique_ptr<RocksdbStorage> storage_;
  rocksdb::WriteBatch open_batch_;
  std::uint64_t open_batch_index_ = 0;
  bool sync_in_flight_ = false;
  std::function<std::size_t()> client_connections_;
  std::uint64_t durable_index_ = 0;
  std::deque<std::pair<std::uint64_t, Waiter>> waiters_;  // ordered by index
  boost::asio::steady_timer expire_timer_;
  bool stopped_ = false;
  std::unique_ptr<Syncer> syncer_;  // last: its thread stops first
};

}  // namespace discovery::server
