#include "discovery/server/rocksdb_raft_log.h"

#include <rocksdb/iterator.h>
#include <rocksdb/options.h>

#include <string>
#include <string_view>

#include "common/check.h"

namespace discovery::server {
namespace {

constexpr std::string_view kEntryPrefix = "r:e";
// The first key after every entry key: 'f' follows 'e'.
constexpr std::string_view kEntryEnd = "r:f";
constexpr std::string_view kHardStateKey = "r:hs";
constexpr std::string_view kConfStateKey = "r:cs";
constexpr std::string_view kBaseKey = "r:base";
constexpr std::string_view kSnapshotKey = "r:snap";

std::string entry_key(std::uint64_t index) {
  std::string key(kEntryPrefix);
  key.resize(kEntryPrefix.size() + 8);
  for (std::size_t i = 0; i < 8; ++i) {
    key[key.size() - 1 - i] = static_cast<char>(index & 0xff);
    index >>= 8;
  }
  return key;
}

std::uint64_t entry_key_index(std::string_view key) {
  CHECK(key.size() == kEntryPrefix.size() + 8 && key.starts_with(kEntryPrefix),
        "malformed raft entry key of {} bytes", key.size());
  std::uint64_t index = 0;
  for (const char c : key.substr(kEntryPrefix.size())) {
    index = (index << 8) | static_cast<unsigned char>(c);
  }
  return index;
}

template <class Proto>
void put(rocksdb::WriteBatch& batch, std::string_view key, const Proto& value) {
  CHECK(batch.Put(key, value.SerializeAsString()).ok(), "batch put {}", key);
}

template <class Proto>
void parse(Proto& out, std::string_view key, const rocksdb::Slice& bytes) {
  CHECK(out.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())), "corrupt raft record {}",
        key);
}

// Reads one record; a missing key leaves `out` at its default (a fresh member).
template <class Proto>
void get(rocksdb::DB& db, std::string_view key, Proto& out) {
  std::string bytes;
  const rocksdb::Status status = db.Get(rocksdb::ReadOptions(), key, &bytes);
  CHECK(status.ok() || status.IsNotFound(), "reading {}: {}", key, status.ToString());
  if (status.ok()) parse(out, key, bytes);
}

}  // namespace

std::unique_ptr<RocksdbRaftLog> RocksdbRaftLog::load(rocksdb::DB& db, RaftLogCacheLimits limits) {
  std::unique_ptr<RocksdbRaftLog> log(new RocksdbRaftLog(db, limits));
  log->load_state();
  return log;
}

void RocksdbRaftLog::reload(rocksdb::DB& db) {
  db_ = &db;
  load_state();
}

void RocksdbRaftLog::load_state() {
  hard_state_.Clear();
  conf_state_.Clear();
  base_.Clear();
  snapshot_.Clear();
  cache_.clear();
  cache_bytes_ = 0;
  get(*db_, kHardStateKey, hard_state_);
  get(*db_, kConfStateKey, conf_state_);
  get(*db_, kBaseKey, base_);
  get(*db_, kSnapshotKey, snapshot_);
  CHECK(base_.index() <= snapshot_.index(), "log base {} beyond the snapshot at {}", base_.index(),
        snapshot_.index());
  load_tail();
}

raft::Result<raft::pb::Snapshot> RocksdbRaftLog::snapshot() const {
  raft::pb::Snapshot snapshot;
  *snapshot.mutable_metadata() = snapshot_;
  return snapshot;
}

// Reads the log backwards from its end: the last entries fill the cache, and every key is checked
// to be contiguous down to the base, so a torn truncation or compaction would be caught here.
void RocksdbRaftLog::load_tail() {
  last_index_ = base_.index();
  rocksdb::ReadOptions options;
  options.fill_cache = false;
  const rocksdb::Slice lower(kEntryPrefix);
  const rocksdb::Slice upper(kEntryEnd);
  options.iterate_lower_bound = &lower;
  options.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options));
  std::uint64_t expected = 0;
  for (it->SeekToLast(); it->Valid(); it->Prev()) {
    const std::uint64_t index = entry_key_index(it->key().ToStringView());
    if (expected == 0) last_index_ = index;
    CHECK(expected == 0 || index == expected, "raft log gap: entry {} follows {}", index + 1,
          expected);
    CHECK(index > base_.index(), "raft entry {} kept behind the base {}", index, base_.index());
    expected = index - 1;
    if (cache_.size() < limits_.entries_max && cache_bytes_ < limits_.bytes_max) {
      raft::pb::Entry entry;
      parse(entry, "raft entry", it->value());
      CHECK(entry.index() == index, "raft entry at key {} holds index {}", index, entry.index());
      cache_bytes_ += entry.ByteSizeLong();
      cache_.push_front(std::move(entry));
    }
  }
  CHECK(it->status().ok(), "reading the raft log: {}", it->status().ToString());
  CHECK(expected == 0 || expected == base_.index(), "raft log starts at {}, want {}", expected + 1,
        base_.index() + 1);
  last_append_count_ = cache_.size();
}

raft::pb::Entry RocksdbRaftLog::read_entry(std::uint64_t index) const {
  const std::string key = entry_key(index);
  std::string bytes;
  const rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), key, &bytes);
  CHECK(status.ok(), "reading raft entry {}: {}", index, status.ToString());
  raft::pb::Entry entry;
  parse(entry, "raft entry", bytes);
  CHECK(entry.index() == index, "raft entry at key {} holds index {}", index, entry.index());
  return entry;
}

raft::Result<std::uint64_t> RocksdbRaftLog::term(std::uint64_t index) const {
  if (index < base_.index()) return raft::Error::Compacted;
  if (index > last_index_) return raft::Error::Unavailable;
  if (index == base_.index()) return base_.term();
  if (index >= cache_first()) return cache_[index - cache_first()].term();
  return read_entry(index).term();
}

raft::Result<std::vector<raft::pb::Entry>> RocksdbRaftLog::entries(std::uint64_t lo,
                                                                   std::uint64_t hi,
                                                                   std::uint64_t max_bytes) const {
  if (lo <= base_.index()) return raft::Error::Compacted;
  if (hi > last_index_ + 1) return raft::Error::Unavailable;
  std::vector<raft::pb::Entry> out;
  std::uint64_t bytes = 0;
  // Always at least one entry, so a follower behind an oversized entry still makes progress.
  const auto take = [&](raft::pb::Entry entry) {
    bytes += entry.ByteSizeLong();
    if (!out.empty() && bytes > max_bytes) return false;
    out.push_back(std::move(entry));
    return true;
  };
  std::uint64_t next = lo;
  if (next < cache_first() && next < hi) {
    rocksdb::ReadOptions options;
    options.fill_cache = false;
    const std::string upper_key = entry_key(std::min(hi, cache_first()));
    const rocksdb::Slice upper(upper_key);
    options.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options));
    for (it->Seek(entry_key(lo)); it->Valid(); it->Next(), ++next) {
      raft::pb::Entry entry;
      parse(entry, "raft entry", it->value());
      CHECK(entry.index() == next, "raft entry {} read where {} belongs", entry.index(), next);
      if (!take(std::move(entry))) return out;
    }
    CHECK(it->status().ok(), "reading the raft log: {}", it->status().ToString());
    CHECK(next == std::min(hi, cache_first()), "raft log ends at {} reading [{}, {})", next, lo,
          hi);
  }
  for (; next < hi; ++next) {
    if (!take(cache_[next - cache_first()])) break;
  }
  return out;
}

void RocksdbRaftLog::append(rocksdb::WriteBatch& batch,
                            const std::vector<raft::pb::Entry>& entries) {
  if (entries.empty()) return;
  const std::uint64_t first = entries.front().index();
  const std::uint64_t last = entries.back().index();
  CHECK(first > base_.index(), "append at {} behind the log base {}", first, base_.index());
  CHECK(first <= last_index_ + 1, "append at {} leaves a gap after {}", first, last_index_);
  CHECK(last - first + 1 == entries.size(), "append of {} entries spans [{}, {}]", entries.size(),
        first, last);
  // The previous append has been committed by now (the write contract), so the cache may shrink
  // back to its limits before it takes the new entries.
  last_append_count_ = 0;
  if (last < last_index_) {
    // The conflicting suffix beyond the new entries goes; the rest is overwritten below.
    CHECK(batch.DeleteRange(entry_key(last + 1), entry_key(last_index_ + 1)).ok(),
          "batch delete raft entries ({}, {}]", last, last_index_);
  }
  while (!cache_.empty() && cache_.back().index() >= first) {
    cache_bytes_ -= cache_.back().ByteSizeLong();
    cache_.pop_back();
  }
  // Whatever remains ends at first - 1 (or is empty), so the cache stays a suffix of the log.
  std::uint64_t expected = first;
  for (const raft::pb::Entry& entry : entries) {
    CHECK(entry.index() == expected++, "append entries not contiguous at {}", entry.index());
    const std::string bytes = entry.SerializeAsString();
    CHECK(batch.Put(entry_key(entry.index()), bytes).ok(), "batch put raft entry {}",
          entry.index());
    cache_bytes_ += bytes.size();
    cache_.push_back(entry);
  }
  last_index_ = last;
  last_append_count_ = entries.size();
  trim_cache();
}

void RocksdbRaftLog::trim_cache() {
  while (cache_.size() > last_append_count_ &&
         (cache_.size() > limits_.entries_max || cache_bytes_ > limits_.bytes_max)) {
    cache_bytes_ -= cache_.front().ByteSizeLong();
    cache_.pop_front();
  }
}

void RocksdbRaftLog::set_hard_state(rocksdb::WriteBatch& batch,
                                    const raft::pb::HardState& hard_state) {
  CHECK(hard_state.term() >= hard_state_.term(), "hard state term goes back from {} to {}",
        hard_state_.term(), hard_state.term());
  put(batch, kHardStateKey, hard_state);
  hard_state_ = hard_state;
}

void RocksdbRaftLog::set_conf_state(rocksdb::WriteBatch& batch,
                                    const raft::pb::ConfState& conf_state) {
  put(batch, kConfStateKey, conf_state);
  conf_state_ = conf_state;
}

raft::pb::SnapshotMetadata RocksdbRaftLog::create_snapshot(rocksdb::WriteBatch& batch,
                                                           std::uint64_t index,
                                                           const raft::pb::ConfState& conf_state) {
  CHECK(index >= snapshot_.index(), "snapshot at {} older than the one at {}", index,
        snapshot_.index());
  const raft::Result<std::uint64_t> log_term = term(index);
  CHECK(log_term.has_value(), "snapshot at {} outside the log [{}, {}]", index, base_.index(),
        last_index_);
  raft::pb::SnapshotMetadata metadata;
  *metadata.mutable_conf_state() = conf_state;
  metadata.set_index(index);
  metadata.set_term(*log_term);
  put(batch, kSnapshotKey, metadata);
  snapshot_ = metadata;
  return metadata;
}

void RocksdbRaftLog::apply_snapshot(rocksdb::WriteBatch& batch,
                                    const raft::pb::SnapshotMetadata& metadata) {
  CHECK(metadata.index() > base_.index(), "snapshot at {} not after the log base {}",
        metadata.index(), base_.index());
  CHECK(batch.DeleteRange(kEntryPrefix, kEntryEnd).ok(), "batch delete the raft log");
  base_.Clear();
  base_.set_index(metadata.index());
  base_.set_term(metadata.term());
  put(batch, kBaseKey, base_);
  put(batch, kSnapshotKey, metadata);
  put(batch, kConfStateKey, metadata.conf_state());
  snapshot_ = metadata;
  conf_state_ = metadata.conf_state();
  last_index_ = metadata.index();
  cache_.clear();
  cache_bytes_ = 0;
  last_append_count_ = 0;
}

void RocksdbRaftLog::compact(rocksdb::WriteBatch& batch, std::uint64_t index) {
  if (index <= base_.index()) return;
  CHECK(index <= last_index_, "compact at {} beyond the last entry {}", index, last_index_);
  CHECK(index <= snapshot_.index(), "compact at {} beyond the snapshot at {}", index,
        snapshot_.index());
  const raft::Result<std::uint64_t> base_term = term(index);
  CHECK(base_term.has_value(), "term of {} unknown", index);
  CHECK(batch.DeleteRange(kEntryPrefix, entry_key(index + 1)).ok(), "batch delete raft log to {}",
        index);
  base_.set_index(index);
  base_.set_term(*base_term);
  put(batch, kBaseKey, base_);
  while (!cache_.empty() && cache_.front().index() <= index) {
    cache_bytes_ -= cache_.front().ByteSizeLong();
    cache_.pop_front();
  }
  last_append_count_ = std::min(last_append_count_, cache_.size());
}

}  // namespace discovery::server
