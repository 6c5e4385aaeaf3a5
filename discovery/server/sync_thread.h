#pragma once
// SyncThread: one thread that writes a Ready's batch to RocksdbStorage with fsync, so the io
// thread keeps accepting, parsing and proposing while the disk works (the proposals that arrive
// meanwhile join the next Ready: a group commit).
//
// Owned by Member. The constructor, submit() and the destructor are called on the io thread, and
// `on_done` runs there once the batch is written. The sync thread tells it through an eventfd that
// the io thread's reactor watches, not by posting to the io_context: a post takes the scheduler's
// mutex, and a sync thread preempted while holding it (a loaded machine) stalls the io thread for
// a whole scheduling slice. At most one batch is in flight (the raft Ready contract has one Ready
// outstanding): the owner submits the next only after on_done for the previous.

#include <rocksdb/write_batch.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "discovery/server/rocksdb_storage.h"

namespace discovery::server {

class SyncThread {
 public:
  using OnDone = std::function<void()>;
  SyncThread(RocksdbStorage& storage, const boost::asio::any_io_executor& io, OnDone on_done);
  ~SyncThread();  // finishes the batch in flight, then joins; on_done is not called for it
  SyncThread(const SyncThread&) = delete;
  SyncThread& operator=(const SyncThread&) = delete;

  // Hands over a batch to write and sync. Precondition: no batch in flight.
  void submit(rocksdb::WriteBatch batch);

 private:
  void run();

  RocksdbStorage& storage_;
  OnDone on_done_;
  // An eventfd: the sync thread adds 1 per batch written; the io thread reads it.
  boost::asio::posix::stream_descriptor done_;
  std::uint64_t done_count_ = 0;  // the io thread's read buffer
  std::mutex mutex_;
  std::condition_variable wake_;
  std::optional<rocksdb::WriteBatch> job_;
  bool stopping_ = false;
  std::thread thread_;  // last: started once the members above exist
};

}  // namespace discovery::server
