#pragma once
// GaleraController: the proxy's control plane. Backends come from one source (a static list, a
// DNS name re-resolved periodically, or the discovery service's /pxc-cluster/<cluster>/ keys);
// a health::HealthMonitor probes each over Connector/C and classifies it; a routing::Router picks
// the one writer and the readers; routing::session_policy() says what open sessions must do.
//
// On every new view, in the order controller.h asks for:
//   1. readmit the registry keys that may serve again (before a picker can return them);
//   2. publish the new picks (writer; readers for the read-only port);
//   3. fence (close now) the keys whose policy turned CloseNow, drain (close when idle, at the
//      latest after drain_grace) those that turned CloseWhenIdle;
//   4. log a writer change once with the router's reason; publish a StatusSnapshot.
// Actions are applied on transitions only, so a drain deadline is not pushed back by every probe.
//
// Registry keys: sessions of the writer port register under the backend name ("host:port"),
// those of the read-only port under reader_key(name). The two roles get different policies (a
// demoted writer is fenced for writer-port sessions while its read-only sessions keep going).
//
// For the status page the controller also keeps the last WriterHistory entries and, with
// discovery backends, what the source last learned of the discovery cluster (members, leader).
//
// Threads: the monitor's listener runs on prober threads under the monitor's lock; it only posts
// to the control io_context (coalesced: at most one pending update). Everything else but the
// pickers and status() runs on the control io_context's single thread. Pickers and status() read
// immutable snapshots through atomic shared_ptrs and never block.
//
// Owner: main() (or a test); the control io_context outlives it. stop() (also the destructor)
// stops the sources and the probers; the pickers keep answering from the last picks.

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "sqlproxy/admin/writer_history.h"
#include "sqlproxy/backends/dns_source.h"
#include "sqlproxy/backends/etcd_source.h"
#include "sqlproxy/health/health_monitor.h"
#include "sqlproxy/routing/router.h"
#include "sqlproxy/routing/session_policy.h"
#include "sqlproxy/server/controller.h"

namespace sqlproxy::server {

struct GaleraControllerOptions {
  // Exactly one source is used: static backends, else dns, else discovery.
  std::vector<health::BackendSpec> backends;
  std::optional<backends::DnsSourceConfig> dns;
  std::optional<backends::EtcdDiscoveryConfig> discovery;
  health::MonitorConfig monitor;  // credentials, probe interval, classifier (allow_donor)
  routing::RoutingConfig routing;
  std::chrono::milliseconds drain_grace{10000};
};

class GaleraController final : public Controller {
 public:
  // `clock` outlives the controller.
  GaleraController(GaleraControllerOptions options, const common::Clock& clock);
  ~GaleraController() override;
  GaleraController(const GaleraController&) = delete;
  GaleraController& operator=(const GaleraController&) = delete;

  void start(boost::asio::io_context& io, session::SessionRegistry& registry) override;
  void stop() override;
  session::PickResult pick_writer() const override;
  session::PickResult pick_reader() const override;
  std::shared_ptr<const admin::StatusSnapshot> status() const override;

  // The registry key of read-only-port sessions on `backend`.
  static std::string reader_key(const std::string& backend) {
    return backend + std::string(admin::kReaderKeySuffix);
  }

 private:
  struct Picks {
    std::optional<session::BackendEndpoint> writer;
    std::vector<session::BackendEndpoint> readers;
    std::string writer_none_reason;
    std::string readers_none_reason;
  };

  void on_backends(const std::vector<health::BackendSpec>& backends);
  void on_view();
  std::optional<boost::asio::ip::tcp::endpoint> endpoint_of(const health::BackendStatus& b);
  std::shared_ptr<const Picks> make_picks(const health::ClusterView& view,
                                          const routing::Decision& decision);
  // Applies `action` to registry key `key` when it differs from the last one applied. With
  // `readmit_only`, only a change to Keep is applied (step 1); otherwise only the others.
  void apply(const std::string& key, routing::SessionAction action, const std::string& reason,
             bool readmit_only);
  void publish_status(const health::ClusterView& view, const routing::Decision& decision);
  void on_discovery_cluster(const backends::DiscoveryCluster& cluster);

  GaleraControllerOptions options_;
  const common::Clock& clock_;
  std::string source_name_;
  boost::asio::io_context* io_ = nullptr;
  std::atomic<session::SessionRegistry*> registry_{nullptr};
  std::unique_ptr<health::HealthMonitor> monitor_;
  std::unique_ptr<backends::DnsSource> dns_;
  std::unique_ptr<backends::EtcdDiscoverySource> discovery_;
  std::atomic<bool> update_pending_{false};
  mutable std::atomic<std::size_t> next_reader_{0};  // round-robin among equally loaded readers

  // Control thread only.
  routing::Router router_;
  std::map<std::string, routing::SessionAction> applied_;            // registry key -> last action
  std::map<std::string, boost::asio::ip::tcp::endpoint> endpoints_;  // resolved names
  std::uint64_t writer_changes_ = 0;
  admin::WriterHistory writer_history_;

  std::atomic<std::shared_ptr<const Picks>> picks_;
  std::atomic<std::shared_ptr<const admin::StatusSnapshot>> status_;
  // Written on the control thread by the discovery source; null without discovery backends.
  std::atomic<std::shared_ptr<const admin::DiscoveryStatus>> discovery_status_;
};

}  // namespace sqlproxy::server
