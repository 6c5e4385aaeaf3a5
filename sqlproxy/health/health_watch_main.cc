// galera_health_watch: runs a HealthMonitor and a routing::Router over its views, and prints
// each view with its routing decision as one JSON line whenever a backend's state changes (with
// --every-sample: after every probe), plus a heartbeat line each second, until SIGTERM or
// SIGINT. A test tool: the integration test reads these lines while it breaks the cluster.
//
// Usage: galera_health_watch --backends host:port,... --user U --password-file F
//        [--probe-interval-ms 250] [--offline-after 3] [--recover-after 3] [--allow-donor]
//        [--suspect-ms 5000] [--every-sample]

#include <boost/json.hpp>
#include <charconv>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "common/go_text.h"
#include "sqlproxy/health/health_monitor.h"
#include "sqlproxy/routing/router.h"

namespace {

using sqlproxy::health::BackendSpec;
using sqlproxy::health::ClusterView;
using sqlproxy::health::HealthMonitor;
using sqlproxy::health::MonitorConfig;

std::optional<int> to_int(const std::string& text) {
  int value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<std::vector<BackendSpec>> parse_backends(const std::string& list) {
  std::vector<BackendSpec> backends;
  for (const std::string_view piece : common::go_split(list, ',')) {
    const std::string item(piece);
    const size_t colon = item.rfind(':');
    if (colon == std::string::npos) return std::nullopt;
    const auto port = to_int(item.substr(colon + 1));
    if (!port || *port <= 0 || *port > 65535) return std::nullopt;
    backends.push_back({item.substr(0, colon), static_cast<std::uint16_t>(*port), 1});
  }
  return backends;
}

// One line: the view, and (for views the listener saw) the routing decision for it. Heartbeat
// lines carry "heartbeat": true and no decision.
std::string view_json(const ClusterView& view, const sqlproxy::routing::Decision* decision) {
  boost::json::array backends;
  for (const auto& b : view.backends) {
    backends.push_back(boost::json::object{
        {"name", b.name},
        {"state", std::string(sqlproxy::health::state_name(b.health.state))},
        {"reason", b.health.reason},
        {"cluster_state_uuid", b.sample.wsrep_cluster_state_uuid},
        {"local_state_comment", b.sample.wsrep_local_state_comment},
        {"cluster_status", b.sample.wsrep_cluster_status},
        {"desync", b.sample.wsrep_desync},
        {"read_only", b.sample.read_only},
        {"reject_queries", b.sample.wsrep_reject_queries},
        {"cluster_size", b.sample.wsrep_cluster_size},
        {"cluster_conf_id", b.sample.wsrep_cluster_conf_id},
        {"consecutive_failures", b.consecutive_failures},
        {"probe_error", b.probe_error ? *b.probe_error : std::string()},
        {"probe_latency_us", b.probe_latency.count()},
        {"probes", b.probes},
    });
  }
  boost::json::object line{{"version", view.version}, {"backends", std::move(backends)}};
  if (decision == nullptr) {
    line["heartbeat"] = true;
  } else {
    line["writer"] = decision->writer ? boost::json::value(*decision->writer) : nullptr;
    boost::json::array readers;
    for (const auto& reader : decision->readers) readers.emplace_back(reader);
    line["readers"] = std::move(readers);
    line["writer_changed"] = decision->writer_changed;
    line["reason"] = decision->reason;
  }
  return boost::json::serialize(line);
}

int usage(const char* why) {
  std::cerr << "galera_health_watch: " << why
            << "\nusage: galera_health_watch --backends host:port,... --user U --password-file F"
               " [--probe-interval-ms N] [--offline-after N] [--recover-after N] [--allow-donor]"
               " [--suspect-ms N] [--every-sample]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  MonitorConfig config;
  std::vector<BackendSpec> backends;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--allow-donor" || flag == "--every-sample") {
      if (flag == "--allow-donor") config.tracker.classifier.allow_donor = true;
      if (flag == "--every-sample") config.notify_every_sample = true;
      continue;
    }
    if (i + 1 >= argc) return usage("flag needs a value");
    const std::string value = argv[++i];
    if (flag == "--backends") {
      auto parsed = parse_backends(value);
      if (!parsed) return usage("bad --backends");
      backends = *parsed;
    } else if (flag == "--user") {
      config.user = value;
    } else if (flag == "--password-file") {
      std::ifstream file(value);
      if (!std::getline(file, config.password)) return usage("cannot read --password-file");
    } else if (auto number = to_int(value); number && *number > 0) {
      if (flag == "--probe-interval-ms")
        config.probe_interval = std::chrono::milliseconds(*number);
      else if (flag == "--offline-after")
        config.tracker.offline_after_failures = *number;
      else if (flag == "--recover-after")
        config.tracker.recover_after_samples = *number;
      else
        return usage("unknown flag");
    } else {
      return usage("unknown flag or bad number");
    }
  }
  if (backends.empty()) return usage("--backends is required");

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // inherited by the prober threads

  common::RealClock clock;
  // The listener runs under the monitor's lock, one call at a time: the Router needs no lock.
  sqlproxy::routing::Router router({});
  HealthMonitor monitor(config, clock, [&router](const std::shared_ptr<const ClusterView>& view) {
    std::printf("%s\n", view_json(*view, &router.update(*view)).c_str());
    std::fflush(stdout);
  });
  monitor.set_backends(backends);
  // The main thread waits for SIGTERM/SIGINT; a heartbeat line each second shows probes flowing.
  std::mutex mutex;
  std::condition_variable done_changed;
  bool done = false;
  std::thread heartbeat([&] {
    std::unique_lock lock(mutex);
    while (!done_changed.wait_for(lock, std::chrono::seconds(1), [&] { return done; })) {
      std::printf("%s\n", view_json(*monitor.view(), nullptr).c_str());
      std::fflush(stdout);
    }
  });
  int received = 0;
  sigwait(&signals, &received);
  {
    std::lock_guard lock(mutex);
    done = true;
  }
  done_changed.notify_all();
  heartbeat.join();
  return 0;
}
