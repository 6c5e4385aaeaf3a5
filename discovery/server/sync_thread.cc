#include "discovery/server/sync_thread.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <boost/asio/buffer.hpp>
#include <cerrno>
#include <cstring>

#include "common/check.h"

namespace discovery::server {

namespace {

int make_eventfd() {
  const int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  CHECK(fd >= 0, "eventfd: {}", std::strerror(errno));
  return fd;
}

}  // namespace

SyncThread::SyncThread(RocksdbStorage& storage, const boost::asio::any_io_executor& io,
                       OnDone on_done)
    : storage_(storage),
      on_done_(std::move(on_done)),
      done_(io, make_eventfd()),
      thread_([this] { run(); }) {}

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
  done_.async_read_some(boost::asio::buffer(&done_count_, sizeof done_count_),
                        [this](const boost::system::error_code& ec, std::size_t) {
                          // Aborted: the SyncThread is going away, and `this` with it.
                          if (!ec) on_done_();
                        });
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
    const std::uint64_t one = 1;
    // Cannot fail short of a broken descriptor: the counter stays far below its limit.
    CHECK(::write(done_.native_handle(), &one, sizeof one) == sizeof one, "eventfd write: {}",
          std::strerror(errno));
  }
}

}  // namespace discovery::server
