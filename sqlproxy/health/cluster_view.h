#pragma once
// ClusterView: an immutable snapshot of every backend's published health, as HealthMonitor
// publishes it (shared_ptr<const ClusterView>) and routing::route() reads it. Plain data; safe to
// share between threads once built because nobody mutates a published view.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "sqlproxy/health/galera_state.h"

namespace sqlproxy::health {

// "host:port", or "[host]:port" when host is an IPv6 literal (it has a colon), as Go's
// net.JoinHostPort writes it. The one formatter for backend names and discovery URLs.
inline std::string join_host_port(std::string_view host, std::uint16_t port) {
  const std::string port_text = std::to_string(port);
  if (host.find(':') != std::string_view::npos) return "[" + std::string(host) + "]:" + port_text;
  return std::string(host) + ":" + port_text;
}

// A backend to monitor, as backend sources deliver it.
struct BackendSpec {
  std::string host;  // IP address or DNS name
  std::uint16_t port = 3306;
  int weight = 1;  // higher is preferred as writer

  // "host:port", or "[v6]:port" for an IPv6 literal: the backend's identity.
  std::string name() const { return join_host_port(host, port); }
  friend bool operator==(const BackendSpec&, const BackendSpec&) = default;
};

struct BackendStatus {
  std::string name;  // "host:port", the backend's identity everywhere (routing, logs, metrics)
  std::string host;
  std::uint16_t port = 0;
  int weight = 1;              // higher is preferred as writer; ties broken by name
  NodeHealth health;           // published (after failure counting and hysteresis)
  common::SteadyTime since{};  // when health.state last changed
  Sample sample;               // latest successful sample (status fields; default if none yet)
  std::optional<std::string> probe_error;      // latest probe's error, if the latest probe failed
  std::chrono::microseconds probe_latency{0};  // latest probe's round trip (incl. any connect)
  int consecutive_failures = 0;
  std::uint64_t probes = 0;  // samples observed since the backend was added

  bool usable() const { return health.state == State::Writable || health.state == State::ReadOnly; }
};

struct ClusterView {
  std::vector<BackendStatus> backends;  // sorted by name
  std::uint64_t version = 0;            // increases with every published view

  const BackendStatus* find(const std::string& name) const {
    for (const auto& backend : backends) {
      if (backend.name == name) return &backend;
    }
    return nullptr;
  }
};

}  // namespace sqlproxy::health
