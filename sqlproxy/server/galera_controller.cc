#include "sqlproxy/server/galera_controller.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <set>

namespace sqlproxy::server {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using routing::SessionAction;

namespace {

admin::BackendState admin_state(const health::BackendStatus& b) {
  if (b.probes == 0) return admin::BackendState::Unknown;
  switch (b.health.state) {
    case health::State::Writable:
      return admin::BackendState::Writable;
    case health::State::ReadOnly:
      return admin::BackendState::ReadableOnly;
    case health::State::Draining:
      return admin::BackendState::Draining;
    case health::State::Offline:
      return admin::BackendState::Offline;
  }
  return admin::BackendState::Unknown;
}

std::string on_off(bool value) { return value ? "ON" : "OFF"; }

std::vector<std::pair<std::string, std::string>> details_of(const health::Sample& s) {
  if (!s.ok() || s.wsrep_local_state == health::LocalState::Unknown) return {};
  return {
      {"wsrep_local_state_comment", s.wsrep_local_state_comment},
      {"wsrep_cluster_status", s.wsrep_cluster_status},
      {"wsrep_ready", on_off(s.wsrep_ready)},
      {"wsrep_connected", on_off(s.wsrep_connected)},
      {"wsrep_desync", on_off(s.wsrep_desync)},
      {"wsrep_reject_queries", s.wsrep_reject_queries},
      {"read_only", on_off(s.read_only)},
      {"pxc_maint_mode", s.pxc_maint_mode},
      {"wsrep_cluster_size", std::to_string(s.wsrep_cluster_size)},
      {"wsrep_cluster_conf_id", std::to_string(s.wsrep_cluster_conf_id)},
      {"wsrep_local_recv_queue", std::to_string(s.wsrep_local_recv_queue)},
      {"wsrep_local_index", std::to_string(s.wsrep_local_index)},
      {"wsrep_cluster_state_uuid", s.wsrep_cluster_state_uuid},
  };
}

// Why no backend can serve: each backend's state and reason, for the client's ERR packet.
std::string none_reason(const health::ClusterView& view, std::string_view what) {
  if (view.backends.empty()) return fmt::format("no {}: no backend known yet", what);
  std::string out = fmt::format("no {} (", what);
  for (std::size_t i = 0; i < view.backends.size(); ++i) {
    const auto& b = view.backends[i];
    const std::string_view state =
        b.probes == 0 ? std::string_view("not probed yet") : health::state_name(b.health.state);
    out += fmt::format("{}{}: {}{}{}", i ? "; " : "", b.name, state,
                       b.health.reason.empty() ? "" : ": ", b.probes == 0 ? "" : b.health.reason);
  }
  return out + ")";
}

}  // namespace

GaleraController::GaleraController(GaleraControllerOptions options, const common::Clock& clock)
    : options_(std::move(options)), clock_(clock), router_(options_.routing) {
  source_name_ = !options_.backends.empty() ? "static" : options_.dns ? "dns" : "discovery";
  // Every sample, not only state changes: /status and /metrics show fresh probe latencies.
  options_.monitor.notify_every_sample = true;
  picks_.store(std::make_shared<Picks>(
      Picks{{}, {}, "no probe has completed yet", "no probe has completed yet"}));
  auto snapshot = std::make_shared<admin::StatusSnapshot>();
  snapshot->writer_reason = "no probe has completed yet";
  snapshot->backend_source = source_name_;
  status_.store(std::move(snapshot));
}

GaleraController::~GaleraController() { stop(); }

void GaleraController::start(asio::io_context& io, session::SessionRegistry& registry) {
  io_ = &io;
  registry_ = &registry;
  // The listener runs on a prober thread under the monitor's lock: post, never act there.
  monitor_ = std::make_unique<health::HealthMonitor>(
      options_.monitor, clock_, [this](const std::shared_ptr<const health::ClusterView>&) {
        if (!update_pending_.exchange(true)) asio::post(*io_, [this] { on_view(); });
      });
  auto deliver = [this](const std::vector<health::BackendSpec>& backends) {
    on_backends(backends);
  };
  if (!options_.backends.empty()) {
    on_backends(backends::canonical(options_.backends));
  } else if (options_.dns) {
    dns_ = std::make_unique<backends::DnsSource>(io.get_executor(), *options_.dns, deliver);
    dns_->start();
  } else if (options_.discovery) {
    discovery_ = std::make_unique<backends::EtcdDiscoverySource>(
        io.get_executor(), *options_.discovery, deliver,
        [this](const backends::DiscoveryCluster& cluster) { on_discovery_cluster(cluster); });
    discovery_->start();
  }
}

void GaleraController::stop() {
  if (dns_) dns_->stop();
  if (discovery_) discovery_->stop();
  // Joins the prober threads; a view posted meanwhile finds monitor_ gone and does nothing.
  monitor_.reset();
}

void GaleraController::on_backends(const std::vector<health::BackendSpec>& backends) {
  if (!monitor_) return;
  std::string names;
  for (const auto& b : backends) names += (names.empty() ? "" : ",") + b.name();
  spdlog::info("backends from {}: {}", source_name_, names.empty() ? "none" : names);
  monitor_->set_backends(backends);
  update_pending_ = true;
  asio::post(*io_, [this] { on_view(); });
}

std::optional<tcp::endpoint> GaleraController::endpoint_of(const health::BackendStatus& b) {
  if (auto found = endpoints_.find(b.name); found != endpoints_.end()) return found->second;
  boost::system::error_code ec;
  auto address = asio::ip::make_address(b.host, ec);
  if (ec) {
    // A DNS name from --backends: resolved once here, on the control thread (the prober
    // reached it moments ago, so the resolver answers from its cache in practice).
    tcp::resolver resolver(*io_);
    const auto results = resolver.resolve(b.host, std::to_string(b.port), ec);
    if (ec || results.empty()) {
      spdlog::warn("cannot resolve backend {}: {}", b.name, ec.message());
      return std::nullopt;
    }
    address = results.begin()->endpoint().address();
  }
  const tcp::endpoint endpoint(address, b.port);
  endpoints_.emplace(b.name, endpoint);
  return endpoint;
}

std::shared_ptr<const GaleraController::Picks> GaleraController::make_picks(
    const health::ClusterView& view, const routing::Decision& decision) {
  auto picks = std::make_shared<Picks>();
  for (const std::string& name : decision.readers) {
    const health::BackendStatus* b = view.find(name);
    if (b == nullptr) continue;
    if (auto endpoint = endpoint_of(*b)) picks->readers.push_back({name, *endpoint});
  }
  if (decision.writer) {
    if (const health::BackendStatus* b = view.find(*decision.writer)) {
      if (auto endpoint = endpoint_of(*b))
        picks->writer = session::BackendEndpoint{b->name, *endpoint};
    }
  }
  picks->writer_none_reason = none_reason(view, "writable Galera node");
  picks->readers_none_reason = none_reason(view, "readable Galera node");
  for (auto& r : picks->readers) r.name = reader_key(r.name);
  return picks;
}

void GaleraController::apply(const std::string& key, SessionAction action,
                             const std::string& reason, bool readmit_only) {
  auto [it, inserted] = applied_.try_emplace(key, SessionAction::Keep);
  if (it->second == action || (readmit_only != (action == SessionAction::Keep))) return;
  it->second = action;
  session::SessionRegistry* registry = registry_.load();
  if (registry == nullptr) return;
  switch (action) {
    case SessionAction::Keep:
      registry->readmit(key);
      break;
    case SessionAction::CloseNow:
      if (const std::size_t n = registry->fence(key); n > 0) {
        spdlog::warn("fenced {} sessions on {}: {}", n, key, reason);
      }
      break;
    case SessionAction::CloseWhenIdle:
      if (const std::size_t n = registry->drain(key, options_.drain_grace); n > 0) {
        spdlog::warn("draining {} sessions on {} (grace {} ms): {}", n, key,
                     options_.drain_grace.count(), reason);
      }
      break;
  }
}

void GaleraController::on_view() {
  update_pending_ = false;
  if (!monitor_) return;
  const std::shared_ptr<const health::ClusterView> view = monitor_->view();
  const std::optional<std::string> previous = router_.decision().writer;
  const routing::Decision& decision = router_.update(*view);
  const auto policies = routing::session_policy(*view, decision);
  // Backends no source lists any more are fenced: nothing watches their health now.
  std::set<std::string> gone;
  for (const auto& [key, action] : applied_) {
    const std::string name = key.ends_with("#ro") ? key.substr(0, key.size() - 3) : key;
    if (!policies.contains(name)) gone.insert(key);
  }
  for (const bool readmit_only : {true, false}) {
    if (!readmit_only) picks_.store(make_picks(*view, decision));
    for (const auto& [name, policy] : policies) {
      apply(name, policy.writer_sessions, policy.reason, readmit_only);
      apply(reader_key(name), policy.reader_sessions, policy.reason, readmit_only);
    }
  }
  for (const std::string& key : gone) {
    apply(key, SessionAction::CloseNow, "no longer listed by the backend source", false);
    applied_.erase(key);
  }
  if (decision.writer_changed) {
    if (previous) ++writer_changes_;
    writer_history_.record(
        {clock_.wall_now(), previous.value_or(""), decision.writer.value_or(""), decision.reason});
    spdlog::warn("writer changes from {} to {}: {}", previous.value_or("none"),
                 decision.writer.value_or("none"), decision.reason);
  }
  publish_status(*view, decision);
}

void GaleraController::publish_status(const health::ClusterView& view,
                                      const routing::Decision& decision) {
  auto snapshot = std::make_shared<admin::StatusSnapshot>();
  snapshot->writer = decision.writer.value_or("");
  snapshot->writer_reason =
      decision.writer ? decision.reason
                      : decision.reason + "; " + none_reason(view, "writable Galera node");
  snapshot->writer_changes = writer_changes_;
  snapshot->writer_history = writer_history_.entries();
  snapshot->backend_source = source_name_;
  for (const health::BackendStatus& b : view.backends) {
    admin::BackendStatus s;
    s.name = b.name;
    s.address = b.name;
    s.state = admin_state(b);
    s.reason = b.probes == 0 ? "not probed yet" : b.health.reason;
    s.writer = decision.writer == b.name;
    if (b.probes > 0) s.last_probe_latency = b.probe_latency;
    s.probes_total = b.probes;
    s.probe_failures_total = static_cast<std::uint64_t>(b.consecutive_failures);
    s.details = details_of(b.sample);
    if (b.probe_error) s.details.emplace_back("probe_error", *b.probe_error);
    snapshot->backends.push_back(std::move(s));
  }
  status_.store(std::move(snapshot));
}

session::PickResult GaleraController::pick_writer() const {
  const auto picks = picks_.load();
  if (picks->writer) return *picks->writer;
  return session::PickResult(boost::system::in_place_error, picks->writer_none_reason);
}

session::PickResult GaleraController::pick_reader() const {
  const auto picks = picks_.load();
  if (picks->readers.empty()) {
    return session::PickResult(boost::system::in_place_error, picks->readers_none_reason);
  }
  // Ties go round-robin, so short sessions opened one after another spread too.
  const std::size_t n = picks->readers.size();
  const std::size_t start = next_reader_.fetch_add(1, std::memory_order_relaxed) % n;
  const session::BackendEndpoint* best = &picks->readers[start];
  if (session::SessionRegistry* registry = registry_.load(); registry != nullptr) {
    std::size_t best_count = registry->count(best->name);
    for (std::size_t i = 1; i < n; ++i) {
      const auto& r = picks->readers[(start + i) % n];
      if (const std::size_t c = registry->count(r.name); c < best_count) {
        best = &r;
        best_count = c;
      }
    }
  }
  return *best;
}

void GaleraController::on_discovery_cluster(const backends::DiscoveryCluster& cluster) {
  auto status = std::make_shared<admin::DiscoveryStatus>();
  status->endpoint = cluster.endpoint;
  for (const auto& e : options_.discovery->url.endpoints) status->endpoints.push_back(e.url());
  status->members = cluster.members;
  status->leader_id = cluster.leader_id;
  status->error = cluster.error;
  if (cluster.error.empty()) {
    status->updated_at = clock_.wall_now();
  } else if (const auto previous = discovery_status_.load()) {
    status->updated_at = previous->updated_at;
  }
  discovery_status_.store(std::move(status));
}

std::shared_ptr<const admin::StatusSnapshot> GaleraController::status() const {
  auto snapshot = status_.load();
  auto discovery = discovery_status_.load();
  if (!discovery) return snapshot;
  // The discovery cluster refreshes on its own period, independent of probe results: join the
  // two here, per request (a copy of the snapshot, for admin requests only), rather than
  // republish the backends' snapshot for it.
  auto joined = std::make_shared<admin::StatusSnapshot>(*snapshot);
  joined->discovery = std::move(discovery);
  return joined;
}

}  // namespace sqlproxy::server
