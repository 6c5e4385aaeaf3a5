#include "sqlproxy/backends/backend_list.h"

#include <gtest/gtest.h>

#include "sqlproxy/backends/etcd_source.h"

namespace sqlproxy::backends {
namespace {

std::vector<std::string> names(const std::vector<BackendSpec>& backends) {
  std::vector<std::string> out;
  for (const auto& b : backends) out.push_back(b.name());
  return out;
}

TEST(ParseAddress, Forms) {
  EXPECT_EQ(parse_address("10.0.0.5:3307")->name(), "10.0.0.5:3307");
  EXPECT_EQ(parse_address("db-0.galera:3306")->host, "db-0.galera");
  EXPECT_EQ(parse_address("[fd00::1]:3306")->host, "fd00::1");
  EXPECT_EQ(parse_address("[fd00::1]:3306")->name(), "[fd00::1]:3306");
  EXPECT_EQ(parse_address("10.0.0.5", 3306)->name(), "10.0.0.5:3306");
  EXPECT_EQ(parse_address("fd00::1", 3306)->name(), "[fd00::1]:3306");
  EXPECT_EQ(parse_address("[fd00::1]", 3306)->port, 3306);
  for (const char* bad :
       {"", "10.0.0.5", ":3306", "h:", "h:0", "h:65536", "h:x", "[::1", "[]:1", "[::1]x"}) {
    EXPECT_FALSE(parse_address(bad).has_value()) << bad;
  }
}

TEST(ParseBackendList, SortedAndStrict) {
  auto list = parse_backend_list("b:3306,a:3307,[::1]:3308");
  ASSERT_TRUE(list.has_value());
  EXPECT_EQ(names(*list), (std::vector<std::string>{"[::1]:3308", "a:3307", "b:3306"}));
  EXPECT_FALSE(parse_backend_list("a:1,a:1").has_value());
  EXPECT_FALSE(parse_backend_list("a:1,").has_value());
  EXPECT_FALSE(parse_backend_list("").has_value());
  EXPECT_FALSE(parse_backend_list("a").has_value());
}

TEST(MembersFromListing, EtcdDirectoryAnswer) {
  // As etcd 3.4 answers GET /v2/keys/pxc-cluster/percona/ after two PXC entrypoints ran.
  const char* body =
      R"({"action":"get","node":{"key":"/pxc-cluster/percona","dir":true,"nodes":[)"
      R"({"key":"/pxc-cluster/percona/10.0.0.6","dir":true,"expiration":"2026-11-27T10:00:00Z",)"
      R"("ttl":30,"modifiedIndex":9,"createdIndex":5},)"
      R"({"key":"/pxc-cluster/percona/127.0.0.1:3307","dir":true,"modifiedIndex":7,)"
      R"("createdIndex":7},{"key":"/pxc-cluster/percona/not an address:x","dir":true}],)"
      R"("modifiedIndex":5,"createdIndex":5}})";
  auto members = members_from_listing(body, 3306);
  ASSERT_TRUE(members.has_value());
  EXPECT_EQ(names(*members), (std::vector<std::string>{"10.0.0.6:3306", "127.0.0.1:3307"}));
  // etcd omits "nodes" for an empty directory.
  auto empty = members_from_listing(
      R"({"action":"get","node":{"key":"/pxc-cluster/p","dir":true,"modifiedIndex":5,"createdIndex":5}})",
      3306);
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE(empty->empty());
  EXPECT_FALSE(members_from_listing("{", 3306).has_value());
  EXPECT_FALSE(members_from_listing(R"({"errorCode":100})", 3306).has_value());
}

}  // namespace
TEST(ClusterMembersFromJson, EtcdMembersAnswer) {
  // As etcd 3.4 answers GET /v2/members for a 2-member cluster, one added but not started.
  const char* body =
      R"({"members":[{"id":"8e9e05c52164694d","name":"m1","peerURLs":["http://127.0.0.1:2380"],)"
      R"("clientURLs":["http://127.0.0.1:2379","http://10.0.0.1:2379"]},)"
      R"({"id":"91bc3c398fb3c146","name":"","peerURLs":["http://127.0.0.1:22380"],)"
      R"("clientURLs":[]}]})";
  auto members = cluster_members_from_json(body);
  ASSERT_TRUE(members.has_value());
  ASSERT_EQ(members->size(), 2u);
  EXPECT_EQ((*members)[0], (DiscoveryMember{"8e9e05c52164694d",
                                            "m1",
                                            {"http://127.0.0.1:2379", "http://10.0.0.1:2379"},
                                            {"http://127.0.0.1:2380"}}));
  EXPECT_EQ((*members)[1].name, "");
  EXPECT_TRUE((*members)[1].client_urls.empty());
  for (const char* bad : {"{", "[]", R"({"members":{}})", R"({"members":[{"name":"x"}]})"}) {
    EXPECT_FALSE(cluster_members_from_json(bad).has_value()) << bad;
  }
}

TEST(LeaderIdFromJson, EtcdLeaderAnswer) {
  auto id = leader_id_from_json(
      R"({"id":"8e9e05c52164694d","name":"m1","peerURLs":["http://127.0.0.1:2380"],)"
      R"("clientURLs":["http://127.0.0.1:2379"]})");
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(*id, "8e9e05c52164694d");
  EXPECT_FALSE(leader_id_from_json(R"({"message":"During election"})").has_value());
  EXPECT_FALSE(leader_id_from_json("").has_value());
}

}  // namespace sqlproxy::backends
