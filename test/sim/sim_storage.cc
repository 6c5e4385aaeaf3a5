#include "test/sim/sim_storage.h"

namespace raft::sim {

SimStorage::SimStorage(const pb::ConfState& conf_state)
    : written_(conf_state), synced_(conf_state) {}

void SimStorage::set_hard_state(const pb::HardState& hard_state) {
  written_.set_hard_state(hard_state);
  pending_.emplace_back(hard_state);
}

void SimStorage::append(const std::vector<pb::Entry>& entries) {
  if (entries.empty()) return;
  written_.append(entries);
  pending_.emplace_back(entries);
}

void SimStorage::replay(MemoryStorage& storage, const Op& op) {
  if (const auto* hs = std::get_if<pb::HardState>(&op)) {
    storage.set_hard_state(*hs);
  } else {
    storage.append(std::get<std::vector<pb::Entry>>(op));
  }
}

void SimStorage::sync() {
  // Replaying the queued writes costs what they cost once; copying the whole log on every sync
  // would make long runs quadratic.
  for (const Op& op : pending_) replay(synced_, op);
  pending_.clear();
}

void SimStorage::crash() {
  written_ = synced_;
  pending_.clear();
}

}  // namespace raft::sim
