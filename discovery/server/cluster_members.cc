#include "discovery/server/cluster_members.h"

#include <boost/json.hpp>

#include "discovery/server/member_id.h"

namespace discovery::server {
namespace {

namespace json = boost::json;

// The strings of array `field` in the JSON object `text`; empty when any of it is not there.
std::vector<std::string> string_list(const json::object& object, std::string_view field) {
  std::vector<std::string> out;
  const json::value* list = object.if_contains(field);
  if (list == nullptr || !list->is_array()) return out;
  for (const json::value& item : list->as_array()) {
    if (item.is_string()) out.emplace_back(item.as_string());
  }
  return out;
}

std::optional<json::object> parse_object(const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  boost::system::error_code ec;
  json::value value = json::parse(*text, ec);
  if (ec || !value.is_object()) return std::nullopt;
  return std::move(value.as_object());
}

api::Member member_of(const store::Store& store, std::uint64_t id) {
  api::Member member;
  member.id = id;
  const std::string prefix = "/members/" + format_id(id);
  if (auto raft = parse_object(store.cluster_record(prefix + "/raftAttributes"))) {
    member.peer_urls = string_list(*raft, "peerURLs");
  }
  if (auto attributes = parse_object(store.cluster_record(prefix + "/attributes"))) {
    if (const json::value* name = attributes->if_contains("name"); name && name->is_string()) {
      member.name = std::string(name->as_string());
    }
    member.client_urls = string_list(*attributes, "clientURLs");
  }
  return member;
}

}  // namespace

std::vector<api::Member> cluster_members(const store::Store& store,
                                         const raft::pb::ConfState& conf) {
  std::vector<api::Member> members;
  for (const std::uint64_t id : conf.voters()) members.push_back(member_of(store, id));
  for (const std::uint64_t id : conf.learners()) members.push_back(member_of(store, id));
  return members;
}

std::optional<api::Member> find_member(const std::vector<api::Member>& members, std::uint64_t id) {
  for (const api::Member& member : members) {
    if (member.id == id) return member;
  }
  return std::nullopt;
}

}  // namespace discovery::server
