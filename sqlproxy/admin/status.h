#pragma once
// The control plane's view of the backends, as the admin endpoints show it. The control plane
// (server/galera_controller, or server/static_controller with -plain-mysql) builds a fresh
// immutable StatusSnapshot on every change and publishes it; the admin server reads the latest
// one per request. Nothing here is computed on the data path.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sqlproxy::admin {

// The classifier's verdict on one node (health/ names the same four; Unknown before a probe).
enum class BackendState { Writable, ReadableOnly, Draining, Offline, Unknown };
std::string_view backend_state_name(BackendState s);  // "writable", "readable_only", ...

struct BackendStatus {
  std::string name;     // identity used by the session registry and the pickers
  std::string address;  // host:port as configured or discovered
  BackendState state = BackendState::Unknown;
  std::string reason;   // why this state, e.g. "wsrep_desync=ON" or "connect: Connection refused"
  bool writer = false;  // the one node new writer-port sessions go to
  std::optional<std::chrono::microseconds> last_probe_latency;
  std::uint64_t probes_total = 0;
  std::uint64_t probe_failures_total = 0;
  // Raw wsrep values of the last good probe when known (empty otherwise), for /status only.
  std::vector<std::pair<std::string, std::string>> details;
};

struct StatusSnapshot {
  std::string writer;         // empty when there is no writable node
  std::string writer_reason;  // why this writer, or why none
  std::uint64_t writer_changes = 0;
  std::string backend_source;  // "static", "dns" or "discovery"
  std::vector<BackendStatus> backends;
};

// Implemented by the control plane. Thread-safe; returns the latest snapshot (never null).
class StatusSource {
 public:
  virtual ~StatusSource() = default;
  virtual std::shared_ptr<const StatusSnapshot> status() const = 0;
};

}  // namespace sqlproxy::admin
