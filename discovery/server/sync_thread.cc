#include "discovery/server/sync_thread.h"

#include "common/check.h"

namespace discovery::server {

SyncThread::SyncThread(RocksdbStorage& storage, OnDone on_done)
    : storage_(storage), on_done_(std::move(on_done)), thread_([this] { run(); }) {}

SyncThread::~SyncThread() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void SyncThread::submit(rocksdb::WriteBatch batch) {
  {
    const std::lock_guard lock(mutex_);
    CHECK(!job_.has_value(), "a batch is already in flight");
    job_.emplace(std::move(batch));
  }
  wake_.notify_one();
}

void SyncThread::run() {
  for (;;) {
    std::unique_lock lock(mutex_);
    wake_.wait(lock, [this] { return job_.has_value() || stopping_; });
    if (!job_.has_value()) return;
    rocksdb::WriteBatch& batch = *job_;
    lock.unlock();
    // The job stays set while it is written, so submit() catches a broken contract.
    storage_.commit(batch, true);
    lock.lock();
    job_.reset();
    lock.unlock();
    on_done_();
  }
}

}  // namespace discovery::server
