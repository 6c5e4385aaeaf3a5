#include "discovery/server/membership.h"

#include <algorithm>

#include "discovery/api/go_format.h"
#include "discovery/server/cluster_members.h"
#include "discovery/server/member_id.h"

namespace discovery::server {
namespace {

store::pb::ClusterRecord record(std::string key, std::string value) {
  store::pb::ClusterRecord made;
  made.set_key(std::move(key));
  made.set_value(std::move(value));
  return made;
}

std::string member_key(std::uint64_t id) { return "/members/" + format_id(id); }
std::string removed_member_key(std::uint64_t id) { return "/removed_members/" + format_id(id); }

bool is_voter(const raft::pb::ConfState& conf, std::uint64_t id) {
  return std::find(conf.voters().begin(), conf.voters().end(), id) != conf.voters().end();
}

// Voters, and learners that will be promoted by themselves: etcd counts an added member as a
// voter from the start, and so do its quorum checks here.
std::vector<std::uint64_t> voting_ids(const raft::pb::ConfState& conf) {
  std::vector<std::uint64_t> ids(conf.voters().begin(), conf.voters().end());
  ids.insert(ids.end(), conf.learners_to_promote().begin(), conf.learners_to_promote().end());
  return ids;
}

}  // namespace

std::optional<MembershipError> validate_member_change(const store::Store& store,
                                                      const raft::pb::ConfState& conf,
                                                      raft::pb::ConfChangeType type,
                                                      std::uint64_t id,
                                                      std::span<const std::string> peer_urls) {
  if (was_removed(store, id)) return MembershipError::IdRemoved;
  const std::vector<api::Member> members = cluster_members(store, conf);
  const bool exists = find_member(members, id).has_value();
  const auto urls_taken = [&] {
    for (const api::Member& member : members) {
      if (member.id == id) continue;
      for (const std::string& url : member.peer_urls) {
        if (std::find(peer_urls.begin(), peer_urls.end(), url) != peer_urls.end()) return true;
      }
    }
    return false;
  };
  switch (type) {
    case raft::pb::ConfChangeAddNode:
    case raft::pb::ConfChangeAddLearnerNode:
      if (exists) return MembershipError::IdExists;
      if (urls_taken()) return MembershipError::PeerUrlExists;
      return std::nullopt;
    case raft::pb::ConfChangeRemoveNode:
      if (!exists) return MembershipError::IdNotFound;
      return std::nullopt;
    case raft::pb::ConfChangeUpdateNode:
      if (!exists) return MembershipError::IdNotFound;
      if (urls_taken()) return MembershipError::PeerUrlExists;
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

std::vector<store::pb::ClusterRecord> member_change_records(
    raft::pb::ConfChangeType type, std::uint64_t id, std::span<const std::string> peer_urls) {
  std::vector<store::pb::ClusterRecord> records;
  switch (type) {
    case raft::pb::ConfChangeAddNode:
    case raft::pb::ConfChangeAddLearnerNode:
      records.push_back(
          record(member_key(id) + "/raftAttributes", raft_attributes_json(peer_urls)));
      records.back().set_create(true);
      break;
    case raft::pb::ConfChangeUpdateNode:
      records.push_back(
          record(member_key(id) + "/raftAttributes", raft_attributes_json(peer_urls)));
      records.back().set_update(true);
      break;
    case raft::pb::ConfChangeRemoveNode:
      records.push_back(record(member_key(id), ""));
      records.back().set_erase(true);
      records.push_back(record(removed_member_key(id), ""));
      records.back().set_create(true);
      break;
    default:
      break;
  }
  return records;
}

std::optional<MembershipError> check_proposal(const store::Store& store,
                                              const raft::pb::ConfState& conf,
                                              raft::pb::ConfChangeType type, std::uint64_t id) {
  const std::vector<std::uint64_t> voting = voting_ids(conf);
  const std::vector<api::Member> members = cluster_members(store, conf);
  const auto started = [&](std::uint64_t member_id) {
    const auto found = find_member(members, member_id);
    return found && !found->name.empty();
  };
  if (type == raft::pb::ConfChangeAddNode) {
    // etcd's IsReadyToAddVotingMember, with its exception for a one-member cluster growing to two.
    std::size_t started_count = 0;
    for (std::uint64_t voter : voting) started_count += started(voter) ? 1 : 0;
    const std::size_t grown = voting.size() + 1;
    if (started_count == 1 && grown == 2) return std::nullopt;
    if (started_count < grown / 2 + 1) return MembershipError::NotEnoughStarted;
    // etcd then wants every voting member connected for the last 5 s (ErrUnhealthy); a member
    // that has not started cannot be, so a second add waits until the first one has started.
    if (started_count < voting.size()) return MembershipError::Unhealthy;
    return std::nullopt;
  }
  if (type != raft::pb::ConfChangeRemoveNode || !is_voter(conf, id)) return std::nullopt;
  // etcd's IsReadyToRemoveVotingMember.
  std::size_t rest = 0;
  std::size_t started_count = 0;
  for (std::uint64_t voter : voting) {
    if (voter == id) continue;
    ++rest;
    started_count += started(voter) ? 1 : 0;
  }
  if (started_count < rest / 2 + 1) return MembershipError::NotEnoughStarted;
  return std::nullopt;
}

bool was_removed(const store::Store& store, std::uint64_t id) {
  return store.cluster_record(removed_member_key(id)).has_value();
}

std::string raft_attributes_json(std::span<const std::string> peer_urls) {
  std::string out = "{\"peerURLs\":[";
  for (std::size_t i = 0; i < peer_urls.size(); ++i) {
    if (i > 0) out += ',';
    api::append_json_string(out, peer_urls[i]);
  }
  return out + "]}";
}

}  // namespace discovery::server
