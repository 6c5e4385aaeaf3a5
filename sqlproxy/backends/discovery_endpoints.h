#pragma once
// The discovery service as sqlproxy addresses it: one or more client endpoints of the same
// cluster (--backends-discovery), and which of them to ask next. Pure code, no I/O or clock.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace sqlproxy::backends {

// One client URL of a discovery member (plain http).
struct DiscoveryEndpoint {
  std::string host;  // name or address; IPv6 without brackets
  std::uint16_t port = 2379;

  std::string url() const;  // "http://host:port", an IPv6 host in brackets
  friend bool operator==(const DiscoveryEndpoint&, const DiscoveryEndpoint&) = default;
};

// One member of the discovery cluster, as GET /v2/members lists it. The etcd source parses it
// and the admin status shows it (admin::DiscoveryMember is this type).
struct DiscoveryMember {
  std::string id;  // hexadecimal, as etcd prints it
  std::string name;
  std::vector<std::string> client_urls;
  std::vector<std::string> peer_urls;
  friend bool operator==(const DiscoveryMember&, const DiscoveryMember&) = default;
};

struct DiscoveryUrl {
  std::vector<DiscoveryEndpoint> endpoints;  // at least one, in the order given, no duplicates
  std::string dir;  // key path without a trailing slash, e.g. "/pxc-cluster/percona"
};

// Parses --backends-discovery: a comma-separated list of `http://host[:port][/path]` (the port
// defaults to 2379). As with `etcdctl --endpoints`, the list names members of ONE cluster; the
// key directory is given either once, naturally on the last URL
// (`http://a:2379,http://b:2379/pxc-cluster/x`), or on every URL with the same path. Mixed cluster
// paths, no path at all, a path of the root, a query, duplicates and non-http schemes are errors;
// the message says which URL and why.
common::Result<DiscoveryUrl, std::string> parse_discovery_url(std::string_view text);

// EndpointRotation: which endpoint the discovery source asks next, and how long it waits first.
// A failed request moves to the next endpoint at once; only when every endpoint has failed since
// the last success (a full round) does the source wait, starting at backoff_initial and doubling
// per further failed round up to backoff_max. A success ends the streak and keeps the endpoint
// that answered (no failing back to the first one). With a single endpoint every failure is a
// full round.
//
// Owner: the discovery source (one per source). Not thread-safe; a plain value.
// Invariants: current() < endpoints; 0 < backoff_initial <= backoff_max.
class EndpointRotation {
 public:
  EndpointRotation(std::size_t endpoints, std::chrono::milliseconds backoff_initial,
                   std::chrono::milliseconds backoff_max);

  std::size_t current() const { return current_; }
  // Consecutive failed requests since the last success.
  std::size_t failures() const { return failures_; }

  struct Step {
    std::size_t from = 0;  // the endpoint that failed
    std::size_t to = 0;    // the endpoint to ask next
    // Zero unless this failure completed a round; then the wait before asking `to`.
    std::chrono::milliseconds delay{0};
    bool first_round = true;  // the failure belongs to the streak's first round (log it)
  };

  // A request to current() failed: move on.
  Step on_failure();
  // A request to current() succeeded. Returns true when it ended a failure streak.
  bool on_success();

 private:
  std::size_t count_;
  std::chrono::milliseconds backoff_initial_;
  std::chrono::milliseconds backoff_max_;
  std::size_t current_ = 0;
  std::size_t failures_ = 0;
  std::chrono::milliseconds backoff_;
};

}  // namespace sqlproxy::backends
