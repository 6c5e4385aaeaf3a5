#include "sqlproxy/health/health_monitor.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

namespace sqlproxy::health {

struct HealthMonitor::Entry {
  std::uint64_t id = 0;
  BackendSpec spec;
  HealthTracker tracker;
  common::SteadyTime added{};
  std::uint64_t probes = 0;
  std::unique_ptr<Prober> prober;  // last member: destroyed (joined) first

  Entry(BackendSpec s, TrackerConfig config) : spec(std::move(s)), tracker(config) {}
};

HealthMonitor::HealthMonitor(MonitorConfig config, const common::Clock& clock, Listener listener)
    : config_(std::move(config)),
      clock_(clock),
      listener_(std::move(listener)),
      view_(std::make_shared<const ClusterView>()) {}

HealthMonitor::~HealthMonitor() {
  std::map<std::string, std::unique_ptr<Entry>> entries;
  {
    std::lock_guard lock(mutex_);
    entries.swap(entries_);
  }
  // Probers are joined here, outside the lock, so a sample in flight can finish on_sample (which
  // then finds no entry and drops it).
  entries.clear();
}

std::unique_ptr<HealthMonitor::Entry> HealthMonitor::make_entry(const BackendSpec& backend) {
  auto entry = std::make_unique<Entry>(backend, config_.tracker);
  entry->id = next_id_++;
  entry->added = clock_.steady_now();
  ProberConfig prober_config{backend.host,         backend.port,           config_.user,
                             config_.password,     config_.probe_interval, config_.connect_timeout,
                             config_.read_timeout, config_.read_timeout};
  const std::uint64_t id = entry->id;
  entry->prober = std::make_unique<Prober>(
      std::move(prober_config), clock_,
      [this, id](const Sample& sample, common::SteadyTime taken) { on_sample(id, sample, taken); });
  return entry;
}

void HealthMonitor::set_backends(const std::vector<BackendSpec>& backends) {
  std::vector<std::unique_ptr<Entry>> removed;
  std::vector<Prober*> added;
  {
    std::lock_guard lock(mutex_);
    std::map<std::string, const BackendSpec*> wanted;
    for (const auto& backend : backends) wanted.emplace(backend.name(), &backend);
    for (auto it = entries_.begin(); it != entries_.end();) {
      auto found = wanted.find(it->first);
      if (found == wanted.end()) {
        removed.push_back(std::move(it->second));
        it = entries_.erase(it);
        continue;
      }
      it->second->spec.weight = found->second->weight;
      ++it;
    }
    for (const auto& [name, backend] : wanted) {
      if (entries_.contains(name)) continue;
      auto entry = make_entry(*backend);
      added.push_back(entry->prober.get());
      entries_.emplace(name, std::move(entry));
    }
    publish_locked(!removed.empty() || !added.empty());
    // Started under the lock so that a concurrent removal cannot destroy a prober being started;
    // start() only spawns the thread, whose first sample waits for this lock.
    for (Prober* prober : added) prober->start();
  }
  removed.clear();  // joins the removed probers outside the lock
}

void HealthMonitor::add_backend(const BackendSpec& backend) {
  std::lock_guard lock(mutex_);
  if (entries_.contains(backend.name())) return;
  auto entry = make_entry(backend);
  Prober* prober = entry->prober.get();
  entries_.emplace(backend.name(), std::move(entry));
  publish_locked(true);
  prober->start();
}

void HealthMonitor::remove_backend(const std::string& name) {
  std::unique_ptr<Entry> removed;
  {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(name);
    if (it == entries_.end()) return;
    removed = std::move(it->second);
    entries_.erase(it);
    publish_locked(true);
  }
}

std::shared_ptr<const ClusterView> HealthMonitor::view() const {
  std::lock_guard lock(view_mutex_);
  return view_;
}

void HealthMonitor::on_sample(std::uint64_t id, const Sample& sample, common::SteadyTime taken) {
  std::lock_guard lock(mutex_);
  Entry* entry = nullptr;
  for (auto& [name, candidate] : entries_) {
    if (candidate->id == id) entry = candidate.get();
  }
  if (entry == nullptr) return;  // removed while this probe ran
  ++entry->probes;
  // The newest view the other usable members of this node's cluster know (see observe()).
  std::int64_t peers_conf_id = -1;
  for (const auto& [name, other] : entries_) {
    const HealthTracker& peer = other->tracker;
    const State peer_state = peer.health().state;
    if (other.get() == entry || (peer_state != State::Writable && peer_state != State::ReadOnly) ||
        peer.last_ok_sample().wsrep_cluster_state_uuid != sample.wsrep_cluster_state_uuid) {
      continue;
    }
    peers_conf_id = std::max(peers_conf_id, peer.last_ok_sample().wsrep_cluster_conf_id);
  }
  const bool changed = entry->tracker.observe(sample, taken, peers_conf_id);
  publish_locked(changed);
}

void HealthMonitor::publish_locked(bool state_changed) {
  auto view = std::make_shared<ClusterView>();
  view->version = ++version_;
  view->backends.reserve(entries_.size());
  for (const auto& [name, entry] : entries_) {
    const HealthTracker& tracker = entry->tracker;
    BackendStatus status;
    status.name = name;
    status.host = entry->spec.host;
    status.port = entry->spec.port;
    status.weight = entry->spec.weight;
    status.health = tracker.health();
    status.since = entry->probes == 0 ? entry->added : tracker.since();
    status.sample = tracker.last_ok_sample();
    status.probe_error = tracker.last_sample().probe_error;
    status.probe_latency = tracker.last_sample().probe_latency;
    status.consecutive_failures = tracker.consecutive_failures();
    status.probes = entry->probes;
    view->backends.push_back(std::move(status));
  }
  std::shared_ptr<const ClusterView> published = std::move(view);
  {
    std::lock_guard view_lock(view_mutex_);
    view_ = published;
  }
  if ((state_changed || config_.notify_every_sample) && listener_) listener_(published);
}

}  // namespace sqlproxy::health
