#pragma once
// How a member started with --initial-cluster-state existing and an empty data directory learns
// the cluster it joins, as etcd fetches the member list from the peers it is given: it asks the
// other members of --initial-cluster over the peer port (MembersQuery, peer.proto) and takes its
// own id and the cluster id from the first answer (its peer URLs name it, since no two members
// share one). Runs at start, before the io loop; blocking.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "discovery/server/member_id.h"
#include "discovery/server/peer_transport.h"

namespace discovery::server {

struct RemoteMember {
  std::uint64_t id = 0;
  std::vector<std::string> peer_urls;  // sorted
};

struct RemoteCluster {
  std::uint64_t cluster_id = 0;
  std::vector<RemoteMember> members;
};

// Asks each address in turn, again until `deadline_after` has passed, and returns the first
// answer. Error: nobody answered (the text names the last failure).
common::Result<RemoteCluster, std::string> fetch_cluster(const std::vector<PeerAddress>& peers,
                                                         std::chrono::milliseconds deadline_after);

// This member's identity in `cluster`: the member whose peer URLs equal `local_peer_urls`
// (sorted). Error: none has them (it was not added, or was added with other URLs), as etcd's
// "error validating peerURLs".
common::Result<Identity, std::string> identity_in(const RemoteCluster& cluster,
                                                  const std::vector<std::string>& local_peer_urls);

}  // namespace discovery::server
