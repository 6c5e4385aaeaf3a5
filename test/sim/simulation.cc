#include "test/sim/simulation.h"

#include <fmt/ranges.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "test/sim/format.h"
#include "test/sim/simulation_impl.h"

namespace raft::sim {

namespace {

// A CHECK inside the library aborts the process; the handler prints the replay line of the run
// the aborting thread was in, so a library invariant caught by the simulation still comes with
// its SIM_SEED.
thread_local char current_run[96];

void on_abort(int) {
  const size_t length = ::strnlen(current_run, sizeof current_run);
  if (length > 0) {
    [[maybe_unused]] auto n = ::write(2, current_run, length);
  }
}

void install_abort_handler() {
  static std::once_flag once;
  std::call_once(once, [] { std::signal(SIGABRT, on_abort); });
}

uint64_t mix(uint64_t a, uint64_t b) {
  uint64_t x = a * 0x9E3779B97F4A7C15ULL ^ (b + 0x632BE59BD9B4E019ULL);
  x ^= x >> 31;
  return x * 0xBF58476D1CE4E5B9ULL;
}

template <class T, size_t N>
T pick(std::mt19937_64& rng, const T (&choices)[N]) {
  return choices[std::uniform_int_distribution<size_t>(0, N - 1)(rng)];
}

}  // namespace

Simulation::Simulation(const SimOptions& options)
    : options_(options), rng_(options.seed), shape_(draw_shape()), network_(rng_) {
  network_.set_faults(shape_.faults);
  pb::ConfState conf;
  for (int i = 1; i <= options.members; ++i) conf.add_voters(static_cast<uint64_t>(i));
  for (int i = 1; i <= options.members; ++i) add_member(next_id_++, conf);
  result_.replay = fmt::format("SIM_SEED={} SIM_MEMBERS={}", options.seed, options.members);
}

SimMember& Simulation::add_member(uint64_t id, const pb::ConfState& conf) {
  SimMember& m = members_[id];
  m.id = id;
  m.storage = std::make_unique<SimStorage>(conf);
  m.conf = conf;
  m.saved_conf = conf;
  m.node = std::make_unique<Node>(config_for(m), *m.storage);
  return m;
}

RunShape Simulation::draw_shape() {
  RunShape s;
  s.base.election_tick = 10;
  s.base.heartbeat_tick = 1;
  s.base.pre_vote = chance(0.8);
  s.base.check_quorum = chance(0.8);
  // Small limits exercise batching cut-offs, the inflight window and snapshot chunks; large ones
  // the fast path.
  s.base.max_size_per_msg = pick(rng_, {uint64_t{1}, uint64_t{256}, uint64_t{1} << 20});
  s.base.max_inflight_msgs = pick(rng_, {size_t{1}, size_t{4}, size_t{256}});
  s.base.max_snapshot_chunk_bytes = pick(rng_, {uint64_t{64}, uint64_t{1} << 20});
  s.base.max_pending_reads = pick(rng_, {size_t{4}, size_t{4096}});
  s.faults.drop = pick(rng_, {0.0, 0.01, 0.05, 0.15});
  s.faults.duplicate = chance(0.5) ? 0.02 : 0.0;
  s.faults.delay = chance(0.5) ? 0.1 : 0.02;
  s.faults.max_delay_ticks = chance(0.5) ? 3 : 2 * static_cast<uint64_t>(s.base.election_tick);
  s.lost_sync = chance(0.5) ? 0.005 : 0.0;
  s.crash = chance(0.7) ? 0.03 : 0.0;
  s.restart = 0.1;
  s.fault_change = chance(0.5) ? 0.04 : 0.1;
  s.fault_mid_tick = chance(0.5) ? 0.002 : 0.0;
  s.send_early = chance(0.5) ? 0.5 : 0.0;
  s.defer_sync = chance(0.5) ? 0.5 : 0.0;
  s.save_applied = pick(rng_, {0.0, 0.3, 1.0});
  s.snapshot_every = pick(rng_, {uint64_t{0}, uint64_t{10}, uint64_t{40}});
  s.keep_entries = pick(rng_, {uint64_t{0}, uint64_t{5}});
  s.conf_change = chance(0.6) ? 0.01 : 0.0;
  s.transfer = chance(0.5) ? 0.01 : 0.0;
  s.read = chance(0.7) ? 0.3 : 0.0;
  return s;
}

Config Simulation::config_for(const SimMember& m) {
  Config c = shape_.base;
  c.id = m.id;
  c.seed = mix(mix(options_.seed, m.id), m.incarnation);
  c.applied = m.sm.applied();
  return c;
}

SimResult Simulation::run() {
  std::snprintf(current_run, sizeof current_run, "%s (library CHECK failed)\n",
                result_.replay.c_str());
  for (int t = 0; t < options_.chaos_ticks && result_.ok; ++t) chaos_tick();
  if (result_.ok) heal_and_require_progress();
  current_run[0] = '\0';
  result_.steps = step_;
  result_.committed = checker_.max_committed();
  return result_;
}

void Simulation::chaos_tick() {
  change_faults();
  if (chance(0.6)) {
    if (SimMember* m = random_live()) propose(*m, next_put());
  }
  if (chance(0.3)) {
    if (SimMember* m = random_live()) propose(*m, next_put());
  }
  if (chance(shape_.read)) {
    if (SimMember* m = random_live()) issue_read(*m);
  }
  if (chance(shape_.conf_change)) change_membership();
  if (chance(shape_.transfer)) transfer_leadership();
  tick_all();
  deliver_all_due();
  ++now_;
}

void Simulation::heal_and_require_progress() {
  network_.heal();
  network_.set_faults({});
  shape_.lost_sync = 0;
  shape_.fault_mid_tick = 0;
  for (auto& [id, m] : members_) {
    if (!m.node && !m.removed) restart(m);
  }
  // The marker is the only write of its key, so a member holds it once it applied it, from an
  // entry or a snapshot.
  const std::string marker = encode_put({next_op_++, "marker", "done"});
  for (int t = 0; t < options_.heal_ticks && result_.ok; ++t) {
    // Every member of the configuration the most advanced member applied must apply the marker.
    const SimMember* ahead = nullptr;
    bool anywhere = false;
    for (auto& [id, m] : members_) {
      if (!m.node) continue;
      anywhere |= marker_applied(m);
      if (ahead == nullptr || m.sm.applied() > ahead->sm.applied()) ahead = &m;
    }
    bool everywhere = true;
    for (uint64_t id : ahead->conf.voters()) everywhere &= marker_applied(members_.at(id));
    for (uint64_t id : ahead->conf.learners()) everywhere &= marker_applied(members_.at(id));
    if (everywhere && anywhere) return;
    if (!anywhere && t % 5 == 0) {
      if (SimMember* m = random_live()) propose(*m, marker);
    }
    tick_all();
    deliver_all_due();
    ++now_;
  }
  if (!result_.ok) return;
  // Say where each straggler stands, and what the leader thinks of it.
  std::string missing;
  SimMember* leader = live_leader();
  for (auto& [id, m] : members_) {
    if (!m.node || marker_applied(m)) continue;
    const Status st = m.node->status();
    missing +=
        fmt::format(" {} ({} term {} last {} commit {} applied {} {}", id, to_string(st.role),
                    st.term, st.last_index, st.commit, m.sm.applied(), describe(st.conf_state));
    if (leader != nullptr) {
      const Status ls = leader->node->status();
      auto it = ls.progress.find(id);
      if (it != ls.progress.end()) {
        missing += fmt::format("; leader {}: {} match {} next {} pending snapshot {}", leader->id,
                               to_string(it->second.state), it->second.match, it->second.next,
                               it->second.pending_snapshot);
      }
    }
    missing += ")";
  }
  fail(fmt::format("liveness: {} ticks after healing, a new proposal was not applied on members{}",
                   options_.heal_ticks, missing));
}

void Simulation::change_faults() {
  if (chance(shape_.fault_change)) change_links();
  const size_t alive = current_ids().size();
  if (chance(shape_.crash) && crashed_count() + 1 <= (alive - 1) / 2) {
    // Half the crashes hit the leader: that is where elections, divergent logs and commit-rule
    // mistakes are made.
    SimMember* m = chance(0.5) ? live_leader() : nullptr;
    if (m == nullptr) m = random_live();
    if (m != nullptr) crash(*m);
  }
  for (auto& [id, m] : members_) {
    if (!m.node && !m.removed && chance(shape_.restart)) restart(m);
  }
}

void Simulation::change_links() {
  const std::vector<uint64_t> ids = current_ids();
  const int kind = std::uniform_int_distribution<int>(0, 9)(rng_);
  if (kind < 3) {
    network_.heal();
    after_step([&] { return std::string("network healed"); });
  } else if (kind < 5) {
    std::vector<std::vector<uint64_t>> groups(2);
    for (uint64_t id : ids) groups[rng_() % 2].push_back(id);
    network_.partition(groups);
    after_step([&] {
      return fmt::format("partition {} | {}", fmt::join(groups[0], ","), fmt::join(groups[1], ","));
    });
  } else if (kind < 8) {
    SimMember* leader = kind == 7 ? live_leader() : nullptr;
    const uint64_t id = leader != nullptr ? leader->id : ids[rng_() % ids.size()];
    network_.isolate(id, ids);
    after_step([&] { return fmt::format("isolate {}", id); });
  } else {
    const uint64_t from = ids[rng_() % ids.size()];
    const uint64_t to = ids[rng_() % ids.size()];
    network_.cut(from, to);
    after_step([&] { return fmt::format("cut one way {} -> {}", from, to); });
  }
}

void Simulation::tick_all() {
  decommission_removed();
  for (auto& [id, m] : members_) {
    // An occasional skipped tick is a member whose clock runs slow.
    if (m.node && !chance(0.05)) tick(m);
    if (!result_.ok) return;
  }
}

void Simulation::deliver_all_due() {
  // Messages are fast compared with a tick: everything due is delivered before the next tick,
  // including what the deliveries themselves produce.
  constexpr int kMaxDeliveriesPerTick = 200000;
  for (int n = 0; result_.ok; ++n) {
    if (n > kMaxDeliveriesPerTick) {
      fail("livelock: messages keep flowing without a tick");
      return;
    }
    if (auto message = network_.take_due(now_)) {
      // A leader's deferred disk write completes at a random point among the deliveries.
      if (SimMember* m = random_pending(); m != nullptr && chance(0.3)) complete_pending(*m);
      deliver(*message);
      continue;
    }
    bool moved = false;
    for (auto& [id, m] : members_) {
      if (m.pending) {
        complete_pending(m);
        moved = true;
      } else if (m.node && m.node->has_ready()) {
        process(m);
        moved = true;
      }
    }
    if (!moved) return;
  }
}

void Simulation::tick(SimMember& m) {
  m.node->tick();
  after_step([&] { return fmt::format("tick {}", m.id); });
  if (chance(0.85)) process(m);
}

void Simulation::deliver(const pb::Message& message) {
  auto it = members_.find(message.to());
  if (it == members_.end() || !it->second.node || !network_.linked(message.from(), message.to())) {
    if (options_.trace) fmt::print(stderr, "  lost {}\n", describe(message));
    return;
  }
  SimMember& m = it->second;
  if (chance(shape_.fault_mid_tick)) {
    // Faults at tick boundaries leave whole exchanges intact; these cut one in the middle, e.g.
    // between a new leader's first appends and its no-op reaching a quorum.
    if (chance(0.5) && crashed_count() + 1 <= (current_ids().size() - 1) / 2) {
      crash(m);
      return;
    }
    change_links();
  }
  auto stepped = m.node->step(message);
  after_step([&] {
    return fmt::format("deliver {}{}", describe(message),
                       stepped ? "" : fmt::format(" ({})", to_string(stepped.error())));
  });
  // Sometimes a member handles several messages before its next Ready: batching.
  if (chance(0.85)) process(m);
}

void Simulation::propose(SimMember& m, std::string data) {
  auto proposed = m.node->propose(data);
  after_step([&] {
    return fmt::format("propose {} \"{}\"{}", m.id, data,
                       proposed ? "" : fmt::format(" ({})", to_string(proposed.error())));
  });
  if (chance(0.85)) process(m);
}

void Simulation::issue_read(SimMember& m) {
  const std::string context = fmt::format("r{}", next_read_++);
  const std::string key = fmt::format("k{}", rng_() % 5);
  auto asked = m.node->read_index(context);
  // Linearizability: the read must see every write committed before it was issued, so its read
  // index must be at least the highest commit index any member has at this moment.
  if (asked) reads_.emplace(context, Read{key, checker_.max_committed()});
  after_step([&] {
    return fmt::format("read-index {} {} {}{}", m.id, context, key,
                       asked ? "" : fmt::format(" ({})", to_string(asked.error())));
  });
  if (chance(0.85)) process(m);
}

void Simulation::change_membership() {
  SimMember* leader = live_leader();
  if (leader == nullptr) return;
  const pb::ConfState conf = leader->node->conf_state();
  const size_t size =
      static_cast<size_t>(conf.voters_size()) + static_cast<size_t>(conf.learners_size());
  pb::ConfChange change;
  // Voters are removed only from three or more: a leader removing itself from two voters applies
  // the change, steps down and stops campaigning, and if the other voter missed the commit it
  // still counts the old leader's vote, which refuses it when its log is longer (the old leader
  // may have appended after the change): no election can ever succeed. Seen with SIM_SEED=7772
  // SIM_MEMBERS=3 before this rule; reported to the library owner. Learners may always go.
  std::vector<uint64_t> candidates(conf.learners().begin(), conf.learners().end());
  if (conf.voters_size() >= 3)
    candidates.insert(candidates.end(), conf.voters().begin(), conf.voters().end());
  if (size >= static_cast<size_t>(options_.members) && !candidates.empty()) {
    // Remove any member, the leader included.
    change.set_type(pb::ConfChangeRemoveNode);
    change.set_node_id(candidates[rng_() % candidates.size()]);
  } else if (joinable()) {
    change.set_type(pb::ConfChangeAddNode);
    change.set_node_id(next_id_);
  } else {
    return;
  }
  auto proposed = leader->node->propose_conf_change(change);
  if (proposed && change.type() == pb::ConfChangeAddNode) {
    // The new member starts empty, with no configuration: it must be brought up by a snapshot,
    // which carries the configuration as of its index (see joinable()).
    add_member(next_id_++, pb::ConfState());
  }
  after_step([&] {
    return fmt::format("conf-change {} {} {}{}", leader->id, pb::ConfChangeType_Name(change.type()),
                       change.node_id(),
                       proposed ? "" : fmt::format(" ({})", to_string(proposed.error())));
  });
  if (chance(0.85)) process(*leader);
}

void Simulation::transfer_leadership() {
  SimMember* m = random_live();
  if (m == nullptr) return;
  const pb::ConfState conf = m->node->conf_state();
  if (conf.voters_size() == 0) return;
  const uint64_t to =
      conf.voters(static_cast<int>(rng_() % static_cast<uint64_t>(conf.voters_size())));
  auto asked = m->node->transfer_leadership(to);
  ++result_.transfers;
  after_step([&] {
    return fmt::format("transfer-leader {} to {}{}", m->id, to,
                       asked ? "" : fmt::format(" ({})", to_string(asked.error())));
  });
  if (chance(0.85)) process(*m);
}

void Simulation::check_all() {
  for (auto& [id, m] : members_) {
    if (m.node) checker_.observe_commit(id, m.node->term(), m.node->log(), m.seen_commit);
  }
  for (auto& [id, m] : members_) {
    if (m.node) checker_.observe_role(id, m.node->role(), m.node->term(), m.node->log());
  }
  checker_.end_step();
  if (checker_.failed() && result_.ok) {
    result_.ok = false;
    result_.failure = checker_.failure();
    result_.step = step_;
  }
}

SimMember* Simulation::random_live() {
  std::vector<SimMember*> live;
  for (auto& [id, m] : members_) {
    if (m.node) live.push_back(&m);
  }
  if (live.empty()) return nullptr;
  return live[std::uniform_int_distribution<size_t>(0, live.size() - 1)(rng_)];
}

SimMember* Simulation::random_pending() {
  std::vector<SimMember*> pending;
  for (auto& [id, m] : members_) {
    if (m.pending) pending.push_back(&m);
  }
  if (pending.empty()) return nullptr;
  return pending[std::uniform_int_distribution<size_t>(0, pending.size() - 1)(rng_)];
}

SimMember* Simulation::live_leader() {
  SimMember* found = nullptr;
  for (auto& [id, m] : members_) {
    if (m.node && m.node->role() == Role::Leader &&
        (found == nullptr || m.node->term() > found->node->term())) {
      found = &m;
    }
  }
  return found;
}

// A new member must start from a snapshot: the configuration a conf change entry yields depends on
// the configuration it is applied to, and the bootstrap configuration is not in the log, so a
// member replaying the log from index 1 (from no configuration, or from the configuration it was
// added to) ends up with a configuration of its own. The leader sends a snapshot only if the
// entries are compacted; so members are added only once every member that could lead has compacted
// its log past index 1.
bool Simulation::joinable() const {
  for (const auto& [id, m] : members_) {
    if (!m.removed && m.storage->first_index() <= 1) return false;
  }
  return true;
}

std::vector<uint64_t> Simulation::current_ids() const {
  std::vector<uint64_t> ids;
  for (const auto& [id, m] : members_) {
    if (!m.removed) ids.push_back(id);
  }
  return ids;
}

size_t Simulation::crashed_count() const {
  size_t n = 0;
  for (const auto& [id, m] : members_) n += (!m.node && !m.removed) ? 1 : 0;
  return n;
}

std::string Simulation::next_put() {
  const uint64_t op = next_op_++;
  return encode_put({op, fmt::format("k{}", rng_() % 5), fmt::format("v{}", op)});
}

SimResult run_simulation(const SimOptions& options) {
  install_abort_handler();
  Simulation sim(options);
  return sim.run();
}

bool options_from_env(SimOptions& options) {
  auto number = [](const char* name) -> std::optional<uint64_t> {
    const char* v = std::getenv(name);
    if (v == nullptr || *v == '\0') return std::nullopt;
    return std::strtoull(v, nullptr, 10);
  };
  if (auto members = number("SIM_MEMBERS")) options.members = static_cast<int>(*members);
  if (auto ticks = number("SIM_CHAOS_TICKS")) options.chaos_ticks = static_cast<int>(*ticks);
  if (auto trace = number("SIM_TRACE")) options.trace = *trace != 0;
  auto seed = number("SIM_SEED");
  if (seed) options.seed = *seed;
  return seed.has_value();
}

}  // namespace raft::sim
