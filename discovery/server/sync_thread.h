#pragma once
// SyncThread: one thread that writes a Ready's batch to RocksdbStorage with fsync, so the io
// thread keeps accepting, parsing and proposing while the disk works (the proposals that arrive
// meanwhile join the next Ready: a group commit).
//
// Owned by Member. submit() and the destructor are called on the io thread; `on_done` runs on the
// sync thread and must only post work elsewhere. At most one batch is in flight (the raft Ready
// contract has one Ready outstanding): the owner submits the next only after on_done for the
// previous.

#include <rocksdb/write_batch.h>

#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "discovery/server/rocksdb_storage.h"

namespace discovery::server {

class SyncThread {
 public:
  using OnDone = std::function<void()>;
  SyncThread(RocksdbStorage& storage, OnDone on_done);
  ~SyncThread();  // finishes the batch in flight, then joins
  SyncThread(const SyncThread&) = delete;
  SyncThread& operator=(const SyncThread&) = delete;

  // Hands over a batch to write and sync. Precondition: no batch in flight.
  void submit(rocksdb::WriteBatch batch);

 private:
  void run();

  RocksdbStorage& storage_;
  OnDone on_done_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::optional<rocksdb::WriteBatch> job_;
  bool stopping_ = false;
  std::thread thread_;  // last: started once the members above exist
};

}  // namespace discovery::server
