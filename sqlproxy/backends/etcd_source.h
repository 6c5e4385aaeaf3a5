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
// delete, expire; the members' 5-second TTL refreshes too), errorCode 401 (index cleared) or a
// watch silent for watch_timeout leads to a fresh GET, so no change between two watches is
// missed. Every listing but the one right after an event adds quorum=true, so that a member that
// lost its leader answers with an error (etcd: 500, errorCode 300) instead of its stale keys.
//
// Several endpoints (members of one discovery cluster, as `etcdctl --endpoints`): a failed
// request (connect refused, timeout, bad answer, any status but 200 and, for the listing, 404)
// moves to the next endpoint at once, keeping the watch's waitIndex, so the watch resumes there
// from the last index seen; a listing is repeated only if the new member says the index was
// cleared or reports an event. Only after a full round of failures does the source wait,
// retry_interval doubling up to retry_interval_max (EndpointRotation). It stays on an endpoint
// that answers (no failing back). Each switch is logged once during the first round of a failure
// streak, then one line when the whole round failed, then nothing until an endpoint answers
// again. The last delivered set stays in force meanwhile.
//
// With a cluster callback, a second coroutine on the same strand also asks the endpoint in use
// about the discovery cluster itself every cluster_interval and at once after a switch (GET
// /v2/members, then GET /v2/members/leader, each bounded by request_timeout) and reports what it
// learned, for the status page. It never delays the member watch: the two hold separate
// connections, and only the watch decides when to switch.
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
#include "sqlproxy/backends/discovery_endpoints.h"

namespace sqlproxy::backends {

// Turns the body of `GET /v2/keys<dir>` into the member set (last key segment of each child).
// Children whose name is not an address are skipped. Errors: errc::bad_message for a body that
// is not an etcd v2 node answer.
common::Result<std::vector<BackendSpec>> members_from_listing(std::string_view body,
                                                              std::uint16_t backend_port);

// What one refresh learned. `members` and `leader_id` are those of the last successful answers
// (kept across a failed refresh); `error` says why this refresh failed, empty when it worked.
// leader_id is empty while /v2/members/leader has no leader to name (an election: 503).
struct DiscoveryCluster {
  std::string endpoint;  // the URL of the endpoint in use ("http://host:port")
  std::vector<DiscoveryMember> members;
  std::string leader_id;
  std::string error;
};

// The body of GET /v2/members ({"members":[{"id","name","peerURLs","clientURLs"}]}); members
// in the order given. Errors: errc::bad_message for anything else.
common::Result<std::vector<DiscoveryMember>> cluster_members_from_json(std::string_view body);

// The leader's id from the body of GET /v2/members/leader (one member object).
// Errors: errc::bad_message.
common::Result<std::string> leader_id_from_json(std::string_view body);

using ClusterCallback = std::function<void(const DiscoveryCluster&)>;

struct EtcdDiscoveryConfig {
  DiscoveryUrl url;
  std::uint16_t backend_port = 3306;                   // --backend-port
  std::chrono::milliseconds retry_interval{1000};      // wait after a full round of failures
  std::chrono::milliseconds retry_interval_max{8000};  // doubled per failed round up to this
  std::chrono::milliseconds request_timeout{5000};     // connect + plain GET
  std::chrono::milliseconds watch_timeout{60000};      // a silent watch is re-established
  std::chrono::milliseconds cluster_interval{2000};    // members/leader refresh (with a callback)
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
