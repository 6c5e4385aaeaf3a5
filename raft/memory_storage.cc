#include "raft/memory_storage.h"

#include "common/check.h"

namespace raft {

const char* to_string(Error error) {
  switch (error) {
    case Error::Compacted:
      return "requested index is compacted";
    case Error::Unavailable:
      return "requested entry is unavailable";
    case Error::ProposalDropped:
      return "raft proposal dropped";
    case Error::UncommittedTooLarge:
      return "too many uncommitted entries";
    case Error::StepUnknownPeer:
      return "message from an unknown peer";
    case Error::SnapshotTemporarilyUnavailable:
      return "snapshot is temporarily unavailable";
    case Error::SnapshotOutOfDate:
      return "requested index is older than the existing snapshot";
    case Error::ConfChangePending:
      return "a configuration change is already pending";
    case Error::ConfChangeInvalid:
      return "invalid configuration change";
    case Error::ReadIndexQueueFull:
      return "too many pending read requests";
    case Error::TransferTargetInvalid:
      return "leadership can only be transferred to a voter";
  }
  return "unknown raft error";
}

MemoryStorage::MemoryStorage(pb::ConfState conf_state) : conf_state_(std::move(conf_state)) {
  entries_.emplace_back();  // the dummy entry at index 0, term 0
}

uint64_t MemoryStorage::first_index() const { return entries_.front().index() + 1; }

uint64_t MemoryStorage::last_index() const {
  return entries_.front().index() + entries_.size() - 1;
}

Result<uint64_t> MemoryStorage::term(uint64_t index) const {
  const uint64_t offset = entries_.front().index();
  if (index < offset) return Error::Compacted;
  if (index > last_index()) return Error::Unavailable;
  return entries_[index - offset].term();
}

Result<std::vector<pb::Entry>> MemoryStorage::entries(uint64_t lo, uint64_t hi,
                                                      uint64_t max_bytes) const {
  const uint64_t offset = entries_.front().index();
  if (lo <= offset) return Error::Compacted;
  if (hi > last_index() + 1) return Error::Unavailable;
  std::vector<pb::Entry> out;
  uint64_t bytes = 0;
  for (uint64_t i = lo; i < hi; ++i) {
    const pb::Entry& entry = entries_[i - offset];
    bytes += entry.ByteSizeLong();
    if (!out.empty() && bytes > max_bytes) break;  // always at least one, so progress is made
    out.push_back(entry);
  }
  return out;
}

void MemoryStorage::append(const std::vector<pb::Entry>& entries) {
  if (entries.empty()) return;
  const uint64_t offset = entries_.front().index();
  const uint64_t first = entries.front().index();
  CHECK(first > offset, "append at {} behind the compacted index {}", first, offset);
  CHECK(first <= last_index() + 1, "append at {} leaves a gap after {}", first, last_index());
  entries_.resize(first - offset);  // drop the conflicting suffix, if any
  entries_.insert(entries_.end(), entries.begin(), entries.end());
}

Result<void> MemoryStorage::apply_snapshot(pb::Snapshot snapshot) {
  const pb::SnapshotMetadata& meta = snapshot.metadata();
  if (meta.index() <= snapshot_.metadata().index()) return Error::SnapshotOutOfDate;
  entries_.clear();
  entries_.emplace_back();
  entries_.front().set_index(meta.index());
  entries_.front().set_term(meta.term());
  conf_state_ = meta.conf_state();
  snapshot_ = std::move(snapshot);
  return {};
}

Result<pb::Snapshot> MemoryStorage::create_snapshot(uint64_t index, const pb::ConfState& conf_state,
                                                    std::string data) {
  if (index <= snapshot_.metadata().index()) return Error::SnapshotOutOfDate;
  CHECK(index <= last_index(), "snapshot at {} beyond the last index {}", index, last_index());
  auto term_at = term(index);
  if (!term_at) return term_at.error();
  pb::Snapshot snapshot;
  snapshot.mutable_metadata()->set_index(index);
  snapshot.mutable_metadata()->set_term(*term_at);
  *snapshot.mutable_metadata()->mutable_conf_state() = conf_state;
  snapshot.set_data(std::move(data));
  snapshot_ = snapshot;
  return snapshot;
}

Result<void> MemoryStorage::compact(uint64_t index) {
  const uint64_t offset = entries_.front().index();
  if (index <= offset) return {};
  CHECK(index <= last_index(), "compact at {} beyond the last index {}", index, last_index());
  CHECK(index <= snapshot_.metadata().index(), "compact at {} beyond the snapshot at {}", index,
        snapshot_.metadata().index());
  entries_.erase(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(index - offset));
  entries_.front().set_data(std::string());  // the dummy keeps only index and term
  entries_.front().set_type(pb::EntryNormal);
  return {};
}

}  // namespace raft
