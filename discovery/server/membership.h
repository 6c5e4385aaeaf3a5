#pragma once
// The rules of a runtime membership change (/v2/members add, remove, update) as etcd 3.4 applies
// them, over the cluster records every member keeps (cluster_members.h): whether a change is
// valid when it is applied, which records it writes, and whether it may be proposed at all
// (etcd's strict reconfiguration check). Pure; called on the raft strand.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "discovery/store/store.h"
#include "raft/raft.pb.h"

namespace discovery::server {

enum class MembershipError {
  IdExists,          // "membership: ID exists" (409)
  PeerUrlExists,     // "membership: peerURL exists" (409)
  IdRemoved,         // "Member permanently removed: <id>" (410)
  IdNotFound,        // "No such member: <id>" (404)
  NotEnoughStarted,  // etcd's ErrNotEnoughStartedMembers: 500 Internal Server Error
  Unhealthy,         // etcd's ErrUnhealthy (a voting member not connected): 500
  Unavailable,       // no leader to propose to: 500 Internal Server Error
  Timeout,           // not applied in time: 500 Internal Server Error
};

// etcd's ValidateConfigurationChange, decided when the committed change is applied (so every
// member decides alike): a removed id never comes back; an add needs a new id and peer URLs no
// member has; a remove or an update needs a current member, and an update's URLs must not be
// another member's. `conf` is the configuration before the change.
std::optional<MembershipError> validate_member_change(const store::Store& store,
                                                      const raft::pb::ConfState& conf,
                                                      raft::pb::ConfChangeType type,
                                                      std::uint64_t id,
                                                      std::span<const std::string> peer_urls);

// The cluster records a valid change writes, in etcd's order (each takes one index):
// add: create raftAttributes; update: update raftAttributes; remove: delete the member's records
// (one recursive delete) and create "/removed_members/<id>".
std::vector<store::pb::ClusterRecord> member_change_records(raft::pb::ConfChangeType type,
                                                            std::uint64_t id,
                                                            std::span<const std::string> peer_urls);

// Checked by the member that takes the request, before proposing (etcd's strict reconfiguration
// check, which runs there too): adding a voter needs a started quorum of the grown
// configuration and every voting member started (etcd: connected), and removing a voter a started
// quorum of the rest (a member counts as started once its attributes are published).
std::optional<MembershipError> check_proposal(const store::Store& store,
                                              const raft::pb::ConfState& conf,
                                              raft::pb::ConfChangeType type, std::uint64_t id);

// Whether `id` was removed from the cluster ("/removed_members/<id>" exists): it may never come
// back, and its handshakes are refused.
bool was_removed(const store::Store& store, std::uint64_t id);

// {"peerURLs":[…]}: etcd's raftAttributes JSON.
std::string raft_attributes_json(std::span<const std::string> peer_urls);

}  // namespace discovery::server
