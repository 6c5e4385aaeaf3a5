#include "test/sim/sim_storage.h"

#include "common/check.h"

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

void SimStorage::set_conf_state(const pb::ConfState& conf_state) {
  written_.set_conf_state(conf_state);
  pending_.emplace_back(conf_state);
}

Result<void> SimStorage::apply_snapshot(const pb::Snapshot& snapshot) {
  auto applied = written_.apply_snapshot(snapshot);
  if (applied) pending_.emplace_back(snapshot);
  return applied;
}

Result<void> SimStorage::create_snapshot(uint64_t index, const pb::ConfState& conf_state,
                                         const std::string& data, uint64_t compact_to) {
  CreateSnapshot op{index, conf_state, data, compact_to};
  if (auto made = replay(written_, op); !made) return made;
  pending_.emplace_back(std::move(op));
  return {};
}

Result<void> SimStorage::replay(MemoryStorage& storage, const Op& op) {
  if (const auto* hs = std::get_if<pb::HardState>(&op)) {
    storage.set_hard_state(*hs);
  } else if (const auto* entries = std::get_if<std::vector<pb::Entry>>(&op)) {
    storage.append(*entries);
  } else if (const auto* conf = std::get_if<pb::ConfState>(&op)) {
    storage.set_conf_state(*conf);
  } else if (const auto* snapshot = std::get_if<pb::Snapshot>(&op)) {
    return storage.apply_snapshot(*snapshot);
  } else {
    const auto& create = std::get<CreateSnapshot>(op);
    auto made = storage.create_snapshot(create.index, create.conf_state, create.data);
    if (!made) return made.error();
    return storage.compact(create.compact_to);
  }
  return {};
}

void SimStorage::sync() {
  // Replaying the queued writes costs what they cost once; copying the whole log on every sync
  // would make long runs quadratic.
  for (const Op& op : pending_) {
    // The synced copy replays what already succeeded on the written one, in the same order.
    auto replayed = replay(synced_, op);
    CHECK(replayed.has_value(), "a write that succeeded failed on replay: {}",
          to_string(replayed.error()));
  }
  pending_.clear();
}

void SimStorage::crash() {
  written_ = synced_;
  pending_.clear();
}

}  // namespace raft::sim
