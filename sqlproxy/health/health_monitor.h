#pragma once
// HealthMonitor: one Prober per backend, a HealthTracker per backend, and the latest ClusterView.
//
// Owner: the proxy's server (or a test). Backends come and go at runtime (set_backends from a
// backend source; add/remove). Every sample updates that backend's tracker and publishes a new
// immutable ClusterView; readers call view() (a shared_ptr copy under a short lock, never blocked
// by a probe) and keep it as long as they like.
//
// Thread model: all public functions are thread-safe. Samples arrive on the probers' threads;
// the optional listener runs on those threads, under the monitor's lock, once per published view
// in which some backend's State changed or the backend set changed. The listener must be quick
// and must not call set_backends/add_backend/remove_backend (it may call view() and post work to
// its own executor). Removing a backend stops its prober (joins its thread, up to one probe's
// timeouts) outside the lock; samples it still delivers are dropped.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "sqlproxy/health/cluster_view.h"
#include "sqlproxy/health/health_tracker.h"
#include "sqlproxy/health/prober.h"

namespace sqlproxy::health {

struct MonitorConfig {
  std::string user;      // the monitor user
  std::string password;  // never logged
  std::chrono::milliseconds probe_interval{250};
  std::chrono::seconds connect_timeout{1};
  std::chrono::seconds read_timeout{1};
  TrackerConfig tracker;
  // Call the listener for every published view, not only when a State changed (tools, tests).
  bool notify_every_sample = false;
};

class HealthMonitor {
 public:
  using Listener = std::function<void(const std::shared_ptr<const ClusterView>& view)>;

  // `clock` must outlive the monitor.
  HealthMonitor(MonitorConfig config, const common::Clock& clock, Listener listener = {});
  ~HealthMonitor();  // stops every prober
  HealthMonitor(const HealthMonitor&) = delete;
  HealthMonitor& operator=(const HealthMonitor&) = delete;

  // Makes the monitored set equal to `backends` (by name): starts probers for new names, stops
  // removed ones; a changed weight is applied in place. Duplicate names: the first wins.
  void set_backends(const std::vector<BackendSpec>& backends);
  void add_backend(const BackendSpec& backend);  // no-op when the name is already monitored
  void remove_backend(const std::string& name);  // no-op when unknown

  // The latest view: never null (empty before any backend is added).
  std::shared_ptr<const ClusterView> view() const;

 private:
  struct Entry;

  void on_sample(std::uint64_t id, const Sample& sample, common::SteadyTime taken);
  void publish_locked(bool state_changed);
  std::unique_ptr<Entry> make_entry(const BackendSpec& backend);

  MonitorConfig config_;
  const common::Clock& clock_;
  Listener listener_;

  mutable std::mutex mutex_;  // guards entries_, next_id_, version_; held by on_sample
  std::map<std::string, std::unique_ptr<Entry>> entries_;
  std::uint64_t next_id_ = 1;
  std::uint64_t version_ = 0;

  mutable std::mutex view_mutex_;  // guards view_ only; never held while probing
  std::shared_ptr<const ClusterView> view_;
};

}  // namespace sqlproxy::health
