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
// With a cluster callback, a second coroutine on the same strand also asks the endpoint about the
// discovery cluster itself every cluster_interval (GET /v2/members, then GET /v2/members/leader,
// each bounded by request_timeout) and reports what it learned, for the status page. It never
// delays the member watch: the two hold separate connections.
//
// Owner: the proxy's server. Runs as coroutines on a strand of the given executor; the backends
// callback runs there after the first successful GET and then only when the member set changes,
// the cluster callback after every refresh. stop() (also the destructor) cancels the outstanding
// requests; the callbacks must stay valid until the executor has run the cancellation.

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

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

// One member of the discovery cluster, as GET /v2/members lists it.
struct DiscoveryMemberInfo {
  std::string id;
  std::string name;
  std::vector<std::string> client_urls;
  std::vector<std::string> peer_urls;
  bool operator==(const DiscoveryMemberInfo&) const = default;
};

// What one refresh learned. `members` and `leader_id` are those of the last successful answers
// (kept across a failed refresh); `error` says why this refresh failed, empty when it worked.
// leader_id is empty while /v2/members/leader has no leader to name (an election: 503).
struct DiscoveryCluster {
  std::vector<DiscoveryMemberInfo> members;
  std::string leader_id;
  std::string error;
};

// The body of GET /v2/members ({"members":[{"id","name","peerURLs","clientURLs"}]}); members
// in the order given. Errors: errc::bad_message for anything else.
common::Result<std::vector<DiscoveryMemberInfo>> cluster_members_from_json(std::string_view body);

// The leader's id from the body of GET /v2/members/leader (one member object).
// Errors: errc::bad_message.
common::Result<std::string> leader_id_from_json(std::string_view body);

using ClusterCallback = std::function<void(const DiscoveryCluster&)>;

struct EtcdDiscoveryConfig {
  DiscoveryUrl url;
  std::uint16_t backend_port = 3306;  // --backend-port
  std::chrono::milliseconds retry_interval{1000};
  std::chrono::milliseconds request_timeout{5000};   // connect + plain GET
  std::chrono::milliseconds watch_timeout{60000};    // a silent watch is re-established
  std::chrono::milliseconds cluster_interval{2000};  // members/leader refresh (with a callback)
};

class EtcdDiscoverySource {
 public:
  // `on_cluster` may be empty: then the cluster itself is never asked about.
  EtcdDiscoverySource(const boost::asio::any_io_executor& executor, EtcdDiscoveryConfig config,
                      BackendsCallback callback, ClusterCallback on_cluster = {});
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
