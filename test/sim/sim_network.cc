#include "test/sim/sim_network.h"

#include <algorithm>

namespace raft::sim {

uint64_t SimNetwork::due_from(uint64_t now) {
  if (!chance(faults_.delay)) return now;
  return now + std::uniform_int_distribution<uint64_t>(1, faults_.max_delay_ticks)(rng_);
}

void SimNetwork::send(pb::Message message, uint64_t now) {
  if (chance(faults_.drop)) return;
  if (chance(faults_.duplicate)) in_flight_.push_back({message, due_from(now)});
  in_flight_.push_back({std::move(message), due_from(now)});
}

std::optional<pb::Message> SimNetwork::take_due(uint64_t now) {
  // Picks uniformly among the due messages: a random delivery order is a reordering network.
  size_t due_count = 0;
  for (const InFlight& f : in_flight_) due_count += f.due <= now ? 1 : 0;
  if (due_count == 0) return std::nullopt;
  size_t pick = std::uniform_int_distribution<size_t>(0, due_count - 1)(rng_);
  for (size_t i = 0; i < in_flight_.size(); ++i) {
    if (in_flight_[i].due > now) continue;
    if (pick-- != 0) continue;
    pb::Message m = std::move(in_flight_[i].message);
    in_flight_[i] = std::move(in_flight_.back());
    in_flight_.pop_back();
    return m;
  }
  return std::nullopt;
}

void SimNetwork::drop_messages_of(uint64_t id) {
  std::erase_if(in_flight_,
                [id](const InFlight& f) { return f.message.to() == id || f.message.from() == id; });
}

void SimNetwork::partition(const std::vector<std::vector<uint64_t>>& groups) {
  cut_.clear();
  for (size_t g = 0; g < groups.size(); ++g) {
    for (size_t h = 0; h < groups.size(); ++h) {
      if (g == h) continue;
      for (uint64_t a : groups[g]) {
        for (uint64_t b : groups[h]) cut_.insert({a, b});
      }
    }
  }
}

void SimNetwork::isolate(uint64_t id, const std::vector<uint64_t>& all) {
  for (uint64_t other : all) {
    if (other == id) continue;
    cut_.insert({id, other});
    cut_.insert({other, id});
  }
}

}  // namespace raft::sim
