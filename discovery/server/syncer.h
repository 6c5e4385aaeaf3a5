#pragma once
// Syncer: one thread that commits batches to RocksdbStorage with fsync, so the io thread keeps
// applying and answering while a sync is in progress (group commit: everything applied during one
// sync goes out in the next).
//
// Owned by Member. submit() and the destructor are called on the io thread; `on_synced` is called
// on the syncer thread and must only post work elsewhere. At most one batch is in flight: the
// owner submits the next only after on_synced for the previous.

#include <rocksdb/write_batch.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "discovery/server/rocksdb_storage.h"

namespace discovery::server {

class Syncer {
 public:
  using OnSynced = std::function<void(std::uint64_t index)>;
  Syncer(RocksdbStorage& storage, OnSynced on_synced);
  ~Syncer();  // finishes the batch in flight, then joins
  Syncer(const Syncer&) = delete;
  Syncer& operator=(const Syncer&) = delete;

  // Hands over a batch that makes the store durable up to `index`. Precondition: no batch in
  // flight.
  void submit(rocksdb::WriteBatch batch, std::uint64_t index);

 private:
  void run();

  RocksdbStorage& storage_;
  OnSynced on_synced_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::optional<std::pair<rocksdb::WriteBatch, std::uint64_t>> job_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace discovery::server
