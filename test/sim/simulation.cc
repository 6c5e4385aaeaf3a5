#include "test/sim/simulation.h"

#include <fmt/format.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <random>

#include "raft/node.h"
#include "test/sim/checker.h"
#include "test/sim/format.h"
#include "test/sim/kv_state_machine.h"
#include "test/sim/sim_network.h"
#include "test/sim/sim_storage.h"

namespace raft::sim {

namespace {

// A CHECK inside the library aborts the process; the handler below prints the replay line of the
// run the aborting thread was in, so a library invariant caught by the simulation still comes with
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

struct Member {
  uint64_t id = 0;
  std::unique_ptr<SimStorage> storage;
  std::unique_ptr<Node> node;  // null while crashed
  KvStateMachine sm;
  uint64_t incarnation = 0;
  uint64_t seen_commit = 0;     // the highest commit index observed in this life
  uint64_t durable_commit = 0;  // the highest commit index synced to storage
  bool marker_applied = false;
};

// The per-seed shape of a run: the same seed always draws the same configuration and fault rates.
struct RunShape {
  Config base;
  NetworkFaults faults;
  double lost_sync = 0;  // probability a Ready's writes are lost to a crash before the sync
  double crash = 0;      // per tick
  double restart = 0;    // per tick and crashed member
  double fault_change = 0;
  double fault_mid_tick = 0;  // per delivery: a fault strikes between two messages
};

class Simulation {
 public:
  explicit Simulation(const SimOptions& options);
  SimResult run();

 private:
  RunShape draw_shape();
  Config config_for(const Member& m);

  void chaos_tick();
  void heal_and_require_progress();
  void change_faults();
  void change_links();
  void tick_all();
  void deliver_all_due();

  void tick(Member& m);
  void deliver(const pb::Message& message);
  void propose(Member& m, std::string data);
  void crash(Member& m);
  void restart(Member& m);
  void process(Member& m);
  bool handle_ready(Member& m, const Ready& rd);
  void apply(Member& m, const pb::Entry& entry);

  template <class Describe>
  void after_step(Describe&& describe);
  void check_all();

  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  Member* random_live();
  Member* live_leader();
  size_t crashed_count() const;
  std::string next_put();

  SimOptions options_;
  std::mt19937_64 rng_;
  RunShape shape_;
  SimNetwork network_;
  Checker checker_;
  std::map<uint64_t, Member> members_;
  std::vector<uint64_t> ids_;
  uint64_t now_ = 0;
  uint64_t step_ = 0;
  uint64_t next_op_ = 1;
  uint64_t marker_op_ = 0;
  SimResult result_;
};

Simulation::Simulation(const SimOptions& options)
    : options_(options), rng_(options.seed), shape_(draw_shape()), network_(rng_) {
  network_.set_faults(shape_.faults);
  pb::ConfState conf;
  for (int i = 1; i <= options.members; ++i) {
    ids_.push_back(static_cast<uint64_t>(i));
    conf.add_voters(static_cast<uint64_t>(i));
  }
  for (uint64_t id : ids_) {
    Member& m = members_[id];
    m.id = id;
    m.storage = std::make_unique<SimStorage>(conf);
    m.node = std::make_unique<Node>(config_for(m), *m.storage);
  }
  result_.replay = fmt::format("SIM_SEED={} SIM_MEMBERS={}", options.seed, options.members);
}

RunShape Simulation::draw_shape() {
  RunShape s;
  s.base.election_tick = 10;
  s.base.heartbeat_tick = 1;
  s.base.pre_vote = chance(0.8);
  s.base.check_quorum = chance(0.8);
  // Small limits exercise batching cut-offs and the inflight window; large ones the fast path.
  const uint64_t msg_bytes[] = {1, 256, 1 << 20};
  s.base.max_size_per_msg = msg_bytes[std::uniform_int_distribution<int>(0, 2)(rng_)];
  const size_t inflight[] = {1, 4, 256};
  s.base.max_inflight_msgs = inflight[std::uniform_int_distribution<int>(0, 2)(rng_)];
  const double drop[] = {0.0, 0.01, 0.05, 0.15};
  s.faults.drop = drop[std::uniform_int_distribution<int>(0, 3)(rng_)];
  s.faults.duplicate = chance(0.5) ? 0.02 : 0.0;
  s.faults.delay = chance(0.5) ? 0.1 : 0.02;
  s.faults.max_delay_ticks = chance(0.5) ? 3 : 2 * s.base.election_tick;
  s.lost_sync = chance(0.5) ? 0.005 : 0.0;
  s.crash = chance(0.7) ? 0.03 : 0.0;
  s.restart = 0.1;
  s.fault_mid_tick = chance(0.5) ? 0.002 : 0.0;
  s.fault_change = chance(0.5) ? 0.04 : 0.1;
  return s;
}

Config Simulation::config_for(const Member& m) {
  Config c = shape_.base;
  c.id = m.id;
  c.seed = mix(mix(options_.seed, m.id), m.incarnation);
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
    if (Member* m = random_live()) propose(*m, next_put());
  }
  if (chance(0.3)) {
    if (Member* m = random_live()) propose(*m, next_put());
  }
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
    if (!m.node) restart(m);
  }
  marker_op_ = next_op_++;
  const std::string marker = encode_put({marker_op_, "marker", "done"});
  for (int t = 0; t < options_.heal_ticks && result_.ok; ++t) {
    bool anywhere = false;
    bool everywhere = true;
    for (auto& [id, m] : members_) {
      anywhere |= m.marker_applied;
      everywhere &= m.marker_applied;
    }
    if (everywhere) return;
    if (!anywhere && t % 5 == 0) {
      if (Member* m = random_live()) propose(*m, marker);
    }
    tick_all();
    deliver_all_due();
    ++now_;
  }
  if (!result_.ok) return;
  std::string missing;
  for (auto& [id, m] : members_) {
    if (!m.marker_applied) missing += fmt::format(" {}", id);
  }
  checker_.fail(fmt::format("liveness: {} ticks after healing, a new proposal was not applied on"
                            " members{}",
                            options_.heal_ticks, missing));
  check_all();
}

void Simulation::change_faults() {
  if (chance(shape_.fault_change)) change_links();
  if (chance(shape_.crash) && crashed_count() < (ids_.size() - 1) / 2) {
    // Half the crashes hit the leader: that is where elections, divergent logs and commit-rule
    // mistakes are made.
    Member* m = chance(0.5) ? live_leader() : nullptr;
    if (m == nullptr) m = random_live();
    if (m != nullptr) crash(*m);
  }
  for (auto& [id, m] : members_) {
    if (!m.node && chance(shape_.restart)) restart(m);
  }
}

void Simulation::change_links() {
  const int kind = std::uniform_int_distribution<int>(0, 9)(rng_);
  if (kind < 3) {
    network_.heal();
    after_step([&] { return std::string("network healed"); });
  } else if (kind < 5) {
    std::vector<std::vector<uint64_t>> groups(2);
    for (uint64_t id : ids_) groups[rng_() % 2].push_back(id);
    network_.partition(groups);
    after_step([&] {
      return fmt::format("partition {} | {}", fmt::join(groups[0], ","), fmt::join(groups[1], ","));
    });
  } else if (kind < 8) {
    Member* leader = kind == 7 ? live_leader() : nullptr;
    const uint64_t id = leader != nullptr ? leader->id : ids_[rng_() % ids_.size()];
    network_.isolate(id, ids_);
    after_step([&] { return fmt::format("isolate {}", id); });
  } else {
    const uint64_t from = ids_[rng_() % ids_.size()];
    const uint64_t to = ids_[rng_() % ids_.size()];
    network_.cut(from, to);
    after_step([&] { return fmt::format("cut one way {} -> {}", from, to); });
  }
}

void Simulation::tick_all() {
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
      checker_.fail("livelock: messages keep flowing without a tick");
      check_all();
      return;
    }
    if (auto message = network_.take_due(now_)) {
      deliver(*message);
      continue;
    }
    bool pending = false;
    for (auto& [id, m] : members_) {
      if (m.node && m.node->has_ready()) {
        process(m);
        pending = true;
      }
    }
    if (!pending) return;
  }
}

void Simulation::tick(Member& m) {
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
  Member& m = it->second;
  if (shape_.fault_mid_tick > 0 && chance(shape_.fault_mid_tick)) {
    // Faults at tick boundaries leave whole exchanges intact; these cut one in the middle, e.g.
    // between a new leader's first appends and its no-op reaching a quorum.
    if (chance(0.5) && crashed_count() < (ids_.size() - 1) / 2) {
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

void Simulation::propose(Member& m, std::string data) {
  auto proposed = m.node->propose(data);
  after_step([&] {
    return fmt::format("propose {} \"{}\"{}", m.id, data,
                       proposed ? "" : fmt::format(" ({})", to_string(proposed.error())));
  });
  if (chance(0.85)) process(m);
}

void Simulation::crash(Member& m) {
  if (m.storage->has_unsynced()) ++result_.lost_writes;
  m.node.reset();
  m.storage->crash();
  m.sm = KvStateMachine();
  network_.drop_messages_of(m.id);
  ++result_.crashes;
  after_step([&] { return fmt::format("crash {}", m.id); });
}

void Simulation::restart(Member& m) {
  ++m.incarnation;
  m.node = std::make_unique<Node>(config_for(m), *m.storage);
  m.marker_applied = false;
  const uint64_t commit = m.node->log().committed();
  if (commit < m.durable_commit) {
    checker_.fail(fmt::format("member {} restarted with commit {} below its synced commit {}", m.id,
                              commit, m.durable_commit));
  }
  m.seen_commit = commit;
  after_step([&] {
    return fmt::format("restart {} ({}, last index {})", m.id,
                       describe(m.storage->hard_state()), m.storage->last_index());
  });
}

void Simulation::process(Member& m) {
  while (result_.ok && m.node && m.node->has_ready()) {
    const Ready rd = m.node->ready();
    if (!handle_ready(m, rd)) return;
    after_step([&] {
      return fmt::format("ready {}: {} entries, {} committed, {} messages{}", m.id,
                         rd.entries.size(), rd.committed_entries.size(), rd.messages.size(),
                         rd.hard_state ? " hs " + describe(*rd.hard_state) : "");
    });
  }
}

// The Ready contract: persist and sync, then send, then apply, then advance. A crash may strike
// between the write and the sync, losing the write (an fsync that never happened).
bool Simulation::handle_ready(Member& m, const Ready& rd) {
  if (!rd.entries.empty()) {
    const uint64_t prev = rd.entries.front().index() - 1;
    checker_.observe_entries(m.id, m.node->log().term(prev), rd.entries);
  }
  if (rd.hard_state) m.storage->set_hard_state(*rd.hard_state);
  m.storage->append(rd.entries);
  if (shape_.lost_sync > 0 && chance(shape_.lost_sync)) {
    crash(m);
    return false;
  }
  m.storage->sync();
  if (rd.hard_state) {
    if (rd.hard_state->commit() < m.durable_commit) {
      checker_.fail(fmt::format("member {} persisted commit {} below its earlier {}", m.id,
                                rd.hard_state->commit(), m.durable_commit));
    }
    m.durable_commit = std::max(m.durable_commit, rd.hard_state->commit());
  }
  for (const pb::Message& message : rd.messages) network_.send(message, now_);
  for (const pb::Entry& entry : rd.committed_entries) apply(m, entry);
  m.node->advance(rd);
  return true;
}

void Simulation::apply(Member& m, const pb::Entry& entry) {
  if (entry.index() != m.sm.applied() + 1) {
    checker_.fail(fmt::format("member {} was handed entry {} to apply after {}", m.id,
                              entry.index(), m.sm.applied()));
    return;
  }
  m.sm.apply(entry);
  checker_.observe_applied(m.id, entry.index(), entry.term(), m.sm.chain());
  if (marker_op_ != 0 && entry.type() == pb::EntryNormal) {
    auto put = decode_put(entry.data());
    if (put && put->op == marker_op_) m.marker_applied = true;
  }
}

template <class Describe>
void Simulation::after_step(Describe&& describe_step) {
  ++step_;
  if (options_.trace) fmt::print(stderr, "[{} t={}] {}\n", step_, now_, describe_step());
  check_all();
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

Member* Simulation::random_live() {
  std::vector<Member*> live;
  for (auto& [id, m] : members_) {
    if (m.node) live.push_back(&m);
  }
  if (live.empty()) return nullptr;
  return live[std::uniform_int_distribution<size_t>(0, live.size() - 1)(rng_)];
}

Member* Simulation::live_leader() {
  Member* found = nullptr;
  for (auto& [id, m] : members_) {
    if (m.node && m.node->role() == Role::Leader &&
        (found == nullptr || m.node->term() > found->node->term())) {
      found = &m;
    }
  }
  return found;
}

size_t Simulation::crashed_count() const {
  size_t n = 0;
  for (const auto& [id, m] : members_) n += m.node ? 0 : 1;
  return n;
}

std::string Simulation::next_put() {
  const uint64_t op = next_op_++;
  return encode_put({op, fmt::format("k{}", rng_() % 5), fmt::format("v{}", op)});
}

}  // namespace

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
