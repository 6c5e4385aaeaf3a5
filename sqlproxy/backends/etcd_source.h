#pragma once
// EtcdDiscoverySource: backends registered by Percona XtraDB Cluster containers under
// `/pxc-cluster/<cluster>/<name>/` in an etcd v2 keys API (etcd 3.4 with --enable-v2, or our
// discovery service).
//
// Each node's entrypoint and clustercheck loop keep a directory `/pxc-cluster/<cluster>/<ip>`
// (ttl 30, children ipaddr and hostname) alive while the node is Synced or an allowed donor, and
// delete it otherwise. The directory names are the members: a name `host:port` gives that
// address (several nodes on one test machine), any other name (an IP, a DNS name, an IPv6
// literal) is the host with config.backend_port.
//
// Protocol: GET <dir> (non-recursive; a 404 errorCode 100 means no member yet), deliver the set,
// then GET <dir>?wait=true&recursive=true&waitIndex=<X-Etcd-Index + 1>; any event (set, update,
// delete, expire; the members' 5-second TTL refreshes too) or errorCode 401 (index cleared)
// leads to a fresh GET, so no change between two watches is missed. Errors (connection refused,
// timeouts, bad JSON) are logged once per failure streak and retried every retry_interval; the
// last delivered set stays in force meanwhile.
//
// Owner: the proxy's server. Runs as a coroutine on a strand of the given executor; the
// callback runs there after the first successful GET and then only when the member set changes.
// stop() (also the destructor) cancels the outstanding request; the callback must stay valid
// until the executor has run the cancellation.

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"
#include "sqlproxy/backends/backend_list.h"

namespace sqlproxy::backends {

struct DiscoveryUrl {
  std::string host;
  std::uint16_t port = 2379;
  std::string dir;  // key path without a trailing slash, e.g. "/pxc-cluster/percona"
};

// Parses `http://host[:port]/pxc-cluster/<cluster>` (--backends-discovery). Only plain http;
// the path must name a directory below the root. Errors: errc::invalid_argument.
common::Result<DiscoveryUrl> parse_discovery_url(std::string_view url);

// Turns the body of `GET /v2/keys<dir>` into the member set (last key segment of each child).
// Children whose name is not an address are skipped. Errors: errc::bad_message for a body that
// is not an etcd v2 node answer.
common::Result<std::vector<BackendSpec>> members_from_listing(std::string_view body,
                                                              std::uint16_t backend_port);

struct EtcdDiscoveryConfig {
  DiscoveryUrl url;
  std::uint16_t backend_port = 3306;  // --backend-port
  std::chrono::milliseconds retry_interval{1000};
  std::chrono::milliseconds request_timeout{5000};  // connect + plain GET
  std::chrono::milliseconds watch_timeout{60000};   // a silent watch is re-established
};

class EtcdDiscoverySource {
 public:
  EtcdDiscoverySource(const boost::asio::any_io_executor& executor, EtcdDiscoveryConfig config,
                      BackendsCallback callback);
  ~EtcdDiscoverySource();
  EtcdDiscoverySource(const EtcdDiscoverySource&) = delete;
  EtcdDiscoverySource& operator=(const EtcdDiscoverySource&) = delete;

  void start();  // at most once
  void stop();   // thread-safe, idempotent

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace sqlproxy::backends
