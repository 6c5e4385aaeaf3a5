#include "raft/raft_log.h"

#include <algorithm>

#include "common/check.h"

namespace raft {

RaftLog::RaftLog(const LogStorage& storage, uint64_t applied)
    : storage_(storage),
      unstable_offset_(storage.last_index() + 1),
      committed_(std::max(storage.first_index() - 1, storage.hard_state().commit())),
      applied_(std::max(storage.first_index() - 1, applied)) {
  CHECK(committed_ <= storage.last_index(), "commit {} beyond the stored log {}", committed_,
        storage.last_index());
  CHECK(applied_ <= committed_, "applied {} beyond the commit index {}", applied_, committed_);
}

uint64_t RaftLog::first_index() const {
  if (unstable_snapshot_) return unstable_snapshot_->metadata().index() + 1;
  return storage_.first_index();
}

uint64_t RaftLog::last_index() const {
  if (!unstable_.empty()) return unstable_offset_ + unstable_.size() - 1;
  if (unstable_snapshot_) return unstable_snapshot_->metadata().index();
  return storage_.last_index();
}

uint64_t RaftLog::stable_last_index() const {
  if (unstable_snapshot_) return 0;
  return std::min(storage_.last_index(), unstable_offset_ - 1);
}

bool RaftLog::has_next_committed_entries() const {
  return !unstable_snapshot_ && committed_ > std::max(applied_, first_index() - 1);
}

uint64_t RaftLog::last_term() const { return term(last_index()); }

uint64_t RaftLog::term(uint64_t index) const {
  if (!unstable_.empty() && index >= unstable_offset_) {
    if (index - unstable_offset_ >= unstable_.size()) return 0;
    return unstable_[index - unstable_offset_].term();
  }
  if (unstable_snapshot_) {
    // Storage is stale until the snapshot is persisted: only its own index is known.
    const pb::SnapshotMetadata& meta = unstable_snapshot_->metadata();
    return index == meta.index() ? meta.term() : 0;
  }
  // The stable part: entries below the unstable offset (or all of storage if nothing is unstable).
  if (index + 1 < first_index() || index > storage_.last_index()) return 0;
  auto term_ = storage_.term(index);
  return term_ ? *term_ : 0;
}

bool RaftLog::is_up_to_date(uint64_t index, uint64_t log_term) const {
  return log_term > last_term() || (log_term == last_term() && index >= last_index());
}

uint64_t RaftLog::find_conflict(const std::vector<pb::Entry>& entries) const {
  for (const pb::Entry& entry : entries) {
    if (!match_term(entry.index(), entry.term())) return entry.index();
  }
  return 0;
}

std::optional<uint64_t> RaftLog::maybe_append(uint64_t index, uint64_t log_term, uint64_t committed,
                                              const std::vector<pb::Entry>& entries) {
  if (!match_term(index, log_term)) return std::nullopt;
  const uint64_t last_new = index + entries.size();
  // Entries we already hold must not be truncated: a delayed, shorter MsgApp would otherwise
  // erase entries a later MsgApp appended.
  const uint64_t conflict = find_conflict(entries);
  if (conflict != 0) {
    CHECK(conflict > committed_, "conflict at {} within the committed prefix {}", conflict,
          committed_);
    append(std::vector<pb::Entry>(
        entries.begin() + static_cast<std::ptrdiff_t>(conflict - index - 1), entries.end()));
  }
  commit_to(std::min(committed, last_new));
  return last_new;
}

uint64_t RaftLog::append(const std::vector<pb::Entry>& entries) {
  if (entries.empty()) return last_index();
  const uint64_t first = entries.front().index();
  CHECK(first > committed_, "append at {} behind the commit index {}", first, committed_);
  if (first == unstable_offset_ + unstable_.size()) {
    // Plain extension of the unstable entries.
  } else if (first <= unstable_offset_) {
    // Replaces everything from first on, including stable entries shadowed from now on.
    unstable_offset_ = first;
    unstable_.clear();
  } else {
    unstable_.resize(first - unstable_offset_);
  }
  unstable_.insert(unstable_.end(), entries.begin(), entries.end());
  return last_index();
}

uint64_t RaftLog::find_conflict_by_term(uint64_t index, uint64_t term_) const {
  index = std::min(index, last_index());
  while (index > 0) {
    const uint64_t our_term = term(index);
    if (our_term <= term_) break;
    --index;
  }
  return index;
}

bool RaftLog::maybe_commit(uint64_t max_index, uint64_t term_) {
  if (max_index > committed_ && term(max_index) == term_) {
    commit_to(max_index);
    return true;
  }
  return false;
}

void RaftLog::commit_to(uint64_t index) {
  if (index <= committed_) return;  // the commit index never moves back
  CHECK(index <= last_index(), "commit {} beyond the last index {}", index, last_index());
  committed_ = index;
}

void RaftLog::applied_to(uint64_t index) {
  if (index == 0 || index == applied_) return;
  CHECK(index <= committed_ && index >= applied_, "applied {} outside [{}, {}]", index, applied_,
        committed_);
  applied_ = index;
}

void RaftLog::stable_to(uint64_t index, uint64_t term_) {
  // Only if the entry is still the one handed out: a newer leader may have replaced it meanwhile.
  if (index < unstable_offset_ || index - unstable_offset_ >= unstable_.size()) return;
  if (unstable_[index - unstable_offset_].term() != term_) return;
  unstable_.erase(unstable_.begin(),
                  unstable_.begin() + static_cast<std::ptrdiff_t>(index - unstable_offset_ + 1));
  unstable_offset_ = index + 1;
}

void RaftLog::restore(pb::Snapshot snapshot) {
  const uint64_t index = snapshot.metadata().index();
  CHECK(index > committed_, "snapshot at {} within the commit index {}", index, committed_);
  unstable_.clear();
  unstable_offset_ = index + 1;
  committed_ = index;
  unstable_snapshot_ = std::move(snapshot);
}

void RaftLog::stable_snapshot_to(uint64_t index) {
  if (unstable_snapshot_ && unstable_snapshot_->metadata().index() == index) {
    unstable_snapshot_.reset();
  }
}

Result<pb::Snapshot> RaftLog::snapshot() const {
  if (unstable_snapshot_) return *unstable_snapshot_;
  return storage_.snapshot();
}

Result<std::vector<pb::Entry>> RaftLog::slice(uint64_t lo, uint64_t hi, uint64_t max_bytes) const {
  if (lo < first_index()) return Error::Compacted;
  if (hi > last_index() + 1) return Error::Unavailable;
  std::vector<pb::Entry> out;
  const bool all_stable = unstable_.empty() && !unstable_snapshot_;
  const uint64_t stable_hi = all_stable ? hi : std::min(hi, unstable_offset_);
  if (lo < stable_hi) {
    auto stored = storage_.entries(lo, stable_hi, max_bytes);
    if (!stored) return stored.error();
    out = std::move(*stored);
    if (out.size() < stable_hi - lo) return out;  // the byte limit cut it short
  }
  uint64_t bytes = 0;
  for (const pb::Entry& entry : out) bytes += entry.ByteSizeLong();
  for (uint64_t i = std::max(lo, unstable_offset_); i < hi && !unstable_.empty(); ++i) {
    const pb::Entry& entry = unstable_[i - unstable_offset_];
    bytes += entry.ByteSizeLong();
    if (!out.empty() && bytes > max_bytes) break;
    out.push_back(entry);
  }
  return out;
}

std::vector<pb::Entry> RaftLog::next_committed_entries(uint64_t max_bytes) const {
  if (!has_next_committed_entries()) return {};
  const uint64_t lo = std::max(applied_ + 1, first_index());
  auto entries = slice(lo, committed_ + 1, max_bytes);
  CHECK(entries.has_value(), "committed entries [{}, {}] unreadable: {}", lo, committed_,
        to_string(entries.error()));
  return std::move(*entries);
}

}  // namespace raft
