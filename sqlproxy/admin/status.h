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

#include "common/clock.h"
#include "sqlproxy/backends/discovery_endpoints.h"

namespace sqlproxy::admin {

// Sessions of the read-only port are registered under the backend name plus this suffix (the
// writer port's under the name alone); the status page shows both counts.
inline constexpr std::string_view kReaderKeySuffix = "#ro";

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

// One change of the writer (including to or from none), as the controller decided it.
struct WriterChange {
  common::WallTime at;
  std::string from;  // empty: there was no writer
  std::string to;    // empty: no writer any more
  std::string reason;
};

// A member of the discovery cluster sqlproxy reads its backends from (GET /v2/members), as the
// discovery source parsed it.
using backends::DiscoveryMember;

// What sqlproxy last learned of its discovery cluster. Members and leader are those of the last
// successful refresh; `error` says why the latest refresh failed (empty when it succeeded).
struct DiscoveryStatus {
  std::string endpoint;                // "http://host:port" sqlproxy asks now
  std::vector<std::string> endpoints;  // every endpoint configured, in order (endpoint is one)
  std::vector<DiscoveryMember> members;
  std::string leader_id;  // empty: no leader known (an election, or /v2/members/leader failed)
  std::string error;
  std::optional<common::WallTime> updated_at;  // last successful refresh
};

struct StatusSnapshot {
  std::string writer;         // empty when there is no writable node
  std::string writer_reason;  // why this writer, or why none
  std::uint64_t writer_changes = 0;
  std::vector<WriterChange> writer_history;  // newest first, bounded by the controller
  std::string backend_source;                // "static", "dns" or "discovery"
  std::vector<BackendStatus> backends;
  // Set only when backends come from discovery; shared by snapshots until it changes.
  std::shared_ptr<const DiscoveryStatus> discovery;

  // When the current writer was chosen (or the writer was lost): the newest change's time, which
  // the history's bound never drops; nullopt before any decision.
  std::optional<common::WallTime> writer_since() const {
    if (writer_history.empty()) return std::nullopt;
    return writer_history.front().at;
  }
};

// Implemented by the control plane. Thread-safe; returns the latest snapshot (never null).
class StatusSource {
 public:
  virtual ~StatusSource() = default;
  virtual std::shared_ptr<const StatusSnapshot> status() const = 0;
};

}  // namespace sqlproxy::admin
