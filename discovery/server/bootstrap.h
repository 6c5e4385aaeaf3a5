#pragma once
// The cluster records a new cluster starts with, as etcd 3.4 writes them when it bootstraps:
// every initial member's raftAttributes (counted as creates), then this member's attributes and
// the cluster version (counted as sets). Pure.

#include <vector>

#include "discovery/server/config.h"
#include "discovery/store/command.pb.h"

namespace discovery::server {

// The cluster version a new cluster agrees on (etcd 3.4's /version "etcdcluster").
inline constexpr std::string_view kClusterVersion = "3.4.0";

// `member_id`: this member's id (its attributes record).
std::vector<store::pb::ClusterRecord> bootstrap_records(const Config& config,
                                                        std::uint64_t member_id);

// How a member starts: with its data (a restart), founding a new cluster (empty data directory,
// --initial-cluster-state new), or joining a running one (empty, existing).
enum class StartKind { Restart, Bootstrap, Join };

// The member's raft setup: its id, its attributes and the version record, and, for Bootstrap,
// the initial members' ids with their raftAttributes records.
struct MemberSetup;
MemberSetup member_setup(const Config& config, std::uint64_t member_id, StartKind start);

}  // namespace discovery::server
