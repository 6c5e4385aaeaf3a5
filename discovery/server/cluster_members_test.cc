#include "discovery/server/cluster_members.h"

#include <gtest/gtest.h>

#include "discovery/server/member_id.h"

namespace discovery::server {
namespace {

void write_record(store::Store& store, const std::string& key, const std::string& value) {
  store::pb::Command command;
  command.mutable_cluster_record()->set_key(key);
  command.mutable_cluster_record()->set_value(value);
  ASSERT_TRUE(store.apply(command).has_value());
}

TEST(ClusterMembers, ReadsRecordsOfEveryConfiguredMember) {
  store::Store store;
  write_record(store, "/members/a/raftAttributes", R"({"peerURLs":["http://p1:2380"]})");
  write_record(store, "/members/a/attributes",
               R"({"name":"m1","clientURLs":["http://c1:2379","http://c1:4001"]})");
  write_record(store, "/members/b/raftAttributes", R"({"peerURLs":["http://p2:2380"]})");
  raft::pb::ConfState conf;
  conf.add_voters(0xa);
  conf.add_learners(0xb);

  const std::vector<api::Member> members = cluster_members(store, conf);

  ASSERT_EQ(members.size(), 2u);
  EXPECT_EQ(members[0].id, 0xau);
  EXPECT_EQ(members[0].name, "m1");
  EXPECT_EQ(members[0].peer_urls, std::vector<std::string>{"http://p1:2380"});
  EXPECT_EQ(members[0].client_urls, (std::vector<std::string>{"http://c1:2379", "http://c1:4001"}));
  // Added but not started: no attributes yet, shown with an empty name and no client URLs.
  EXPECT_EQ(members[1].id, 0xbu);
  EXPECT_EQ(members[1].name, "");
  EXPECT_EQ(members[1].peer_urls, std::vector<std::string>{"http://p2:2380"});
  EXPECT_TRUE(members[1].client_urls.empty());
  EXPECT_EQ(find_member(members, 0xb)->id, 0xbu);
  EXPECT_FALSE(find_member(members, 0xc).has_value());
}

TEST(ClusterMembers, MalformedRecordLeavesFieldsEmpty) {
  store::Store store;
  write_record(store, "/members/a/raftAttributes", "not json");
  write_record(store, "/members/a/attributes", R"({"name":7,"clientURLs":"x"})");
  raft::pb::ConfState conf;
  conf.add_voters(0xa);

  const std::vector<api::Member> members = cluster_members(store, conf);

  ASSERT_EQ(members.size(), 1u);
  EXPECT_TRUE(members[0].peer_urls.empty());
  EXPECT_EQ(members[0].name, "");
  EXPECT_TRUE(members[0].client_urls.empty());
}

}  // namespace
}  // namespace discovery::server
