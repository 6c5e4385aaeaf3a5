#include "discovery/server/syncer.h"

#include "common/check.h"

namespace discovery::server {

Syncer::Syncer(RocksdbStorage& storage, OnSynced on_synced)
    : storage_(storage), on_synced_(std::move(on_synced)), thread_([this] { run(); }) {}

Syncer::~Syncer() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void Syncer::submit(rocksdb::WriteBatch batch, std::uint64_t index) {
  {
    const std::lock_guard lock(mutex_);
    CHECK(!job_.has_value(), "a batch is already in flight (index {})", index);
    job_.emplace(std::move(batch), index);
  }
  wake_.notify_one();
}

void Syncer::run() {
  for (;;) {
    std::unique_lock lock(mutex_);
    wake_.wait(lock, [this] { return job_.has_value() || stopping_; });
    if (!job_.has_value()) return;
    auto& [batch, index] = *job_;
    lock.unlock();
    // The job stays set while committing, so submit() can catch a protocol violation.
    storage_.commit(batch);
    const std::uint64_t synced = index;
    lock.lock();
    job_.reset();
    lock.unlock();
    on_synced_(synced);
  }
}

}  // namespace discovery::server
