#pragma once
// WriterHistory: the most recent writer changes a controller decided, newest first, bounded so
// a flapping cluster cannot grow the process. The status page shows them.
//
// Owner: a controller, which records on its control thread and copies entries() into each
// StatusSnapshot it publishes. Not thread-safe. Invariant: entries().size() <= capacity.

#include <cstddef>
#include <vector>

#include "sqlproxy/admin/status.h"

namespace sqlproxy::admin {

class WriterHistory {
 public:
  static constexpr std::size_t kDefaultCapacity = 20;

  explicit WriterHistory(std::size_t capacity = kDefaultCapacity) : capacity_(capacity) {}

  // Records a change at the front, dropping the oldest beyond capacity.
  void record(WriterChange change) {
    entries_.insert(entries_.begin(), std::move(change));
    if (entries_.size() > capacity_) entries_.resize(capacity_);
  }

  const std::vector<WriterChange>& entries() const { return entries_; }

 private:
  std::size_t capacity_;
  std::vector<WriterChange> entries_;
};

}  // namespace sqlproxy::admin
