#pragma once
// SimNetwork: the simulated network between members of a test/sim run. Messages sent are held
// in flight with a delivery time (now + a random delay) and delivered one at a time in random
// order among those due, so they arrive late, out of order, twice (duplicated on send) or never
// (dropped on send, or on delivery over a cut link). Links are directed: a symmetric partition
// cuts both directions, a one-way fault only one. Owned by the simulation; single-threaded; all
// randomness comes from the caller's PRNG so a run replays from its seed.

#include <cstdint>
#include <optional>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include "raft/raft.pb.h"

namespace raft::sim {

struct NetworkFaults {
  double drop = 0.0;       // probability a sent message is lost
  double duplicate = 0.0;  // probability a sent message is delivered twice
  double delay = 0.0;      // probability a message is held back for 1..max_delay ticks
  uint64_t max_delay_ticks = 3;
};

class SimNetwork {
 public:
  explicit SimNetwork(std::mt19937_64& rng) : rng_(rng) {}

  void set_faults(const NetworkFaults& faults) { faults_ = faults; }
  const NetworkFaults& faults() const { return faults_; }

  void send(pb::Message message, uint64_t now);
  // Takes a random message due at `now`; nullopt if none is due. The link is not checked here.
  std::optional<pb::Message> take_due(uint64_t now);
  size_t in_flight() const { return in_flight_.size(); }
  // Drops every message to or from `id` (a crashed member's sockets close).
  void drop_messages_of(uint64_t id);

  bool linked(uint64_t from, uint64_t to) const { return cut_.count({from, to}) == 0; }
  void cut(uint64_t from, uint64_t to) { cut_.insert({from, to}); }
  // Members of different groups cannot talk, either way; all other links are restored.
  void partition(const std::vector<std::vector<uint64_t>>& groups);
  void isolate(uint64_t id, const std::vector<uint64_t>& all);
  void heal() { cut_.clear(); }
  bool healed() const { return cut_.empty(); }

 private:
  struct InFlight {
    pb::Message message;
    uint64_t due;
  };
  // When a message sent at `now` is due: now, or a few ticks later if it is delayed.
  uint64_t due_from(uint64_t now);
  bool chance(double p) { return p > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < p; }

  std::mt19937_64& rng_;
  NetworkFaults faults_;
  std::vector<InFlight> in_flight_;
  std::set<std::pair<uint64_t, uint64_t>> cut_;  // (from, to) links that lose everything
};

}  // namespace raft::sim
