#pragma once
// The cluster's members as the /v2/members API shows them, read from the cluster records that
// every member applies (bootstrap.h: "/members/<id>/raftAttributes" and ".../attributes", etcd's
// JSON) for each id of the raft configuration. Pure over the store; called on the io thread.

#include <cstdint>
#include <optional>
#include <vector>

#include "discovery/api/render.h"
#include "discovery/store/store.h"
#include "raft/raft.pb.h"

namespace discovery::server {

// Every voter and learner of `conf`, with the peer URLs of its raftAttributes record and the name
// and client URLs of its attributes record (empty until the member published them, as etcd shows
// a member that was added but has not started). A record that is missing or not the expected
// JSON leaves its fields empty.
std::vector<api::Member> cluster_members(const store::Store& store,
                                         const raft::pb::ConfState& conf);

// The member with `id` among `members`, if any.
std::optional<api::Member> find_member(const std::vector<api::Member>& members, std::uint64_t id);

}  // namespace discovery::server
