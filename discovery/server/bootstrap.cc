#include "discovery/server/bootstrap.h"

#include "common/check.h"
#include "discovery/api/go_format.h"
#include "discovery/server/member.h"
#include "discovery/server/member_id.h"

namespace discovery::server {
namespace {

std::string json_string_list(const std::vector<Url>& urls) {
  std::string out = "[";
  for (const Url& url : urls) {
    if (out.size() > 1) out += ',';
    api::append_json_string(out, url.text);
  }
  return out + "]";
}

store::pb::ClusterRecord record(std::string key, std::string value, bool create) {
  store::pb::ClusterRecord made;
  made.set_key(std::move(key));
  made.set_value(std::move(value));
  made.set_create(create);
  return made;
}

}  // namespace

std::vector<store::pb::ClusterRecord> bootstrap_records(const Config& config,
                                                        std::uint64_t member_id) {
  std::vector<store::pb::ClusterRecord> records;
  for (const InitialMember& member : config.initial_cluster) {
    const std::uint64_t id =
        compute_member_id(url_texts(member.peer_urls), config.initial_cluster_token);
    records.push_back(record("/members/" + format_id(id) + "/raftAttributes",
                             "{\"peerURLs\":" + json_string_list(member.peer_urls) + "}", true));
  }
  std::string attributes = "{\"name\":";
  api::append_json_string(attributes, config.name);
  attributes += ",\"clientURLs\":" + json_string_list(config.advertise_client_urls) + "}";
  records.push_back(record("/members/" + format_id(member_id) + "/attributes", attributes, false));
  records.push_back(record("/version", std::string(kClusterVersion), false));
  return records;
}

MemberSetup member_setup(const Config& config, std::uint64_t member_id, StartKind start) {
  std::vector<store::pb::ClusterRecord> records = bootstrap_records(config, member_id);
  const std::size_t members = config.initial_cluster.size();
  CHECK(records.size() == members + 2, "bootstrap records: {} for {} members", records.size(),
        members);
  MemberSetup setup;
  setup.self_id = member_id;
  setup.seed = member_id;
  setup.join = start == StartKind::Join;
  if (start == StartKind::Bootstrap) {
    for (std::size_t i = 0; i < members; ++i) {
      setup.initial_members.emplace_back(
          compute_member_id(url_texts(config.initial_cluster[i].peer_urls),
                            config.initial_cluster_token),
          records[i]);
    }
  }
  setup.attributes = records[members];
  setup.version = records[members + 1];
  return setup;
}

}  // namespace discovery::server
