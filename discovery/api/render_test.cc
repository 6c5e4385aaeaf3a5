#include "discovery/api/render.h"

#include <gtest/gtest.h>

namespace discovery::api {
namespace {

using store::Action;
using store::Event;
using store::NodeView;

WallTime unix_ns(std::int64_t ns) { return WallTime{std::chrono::nanoseconds{ns}}; }

NodeView file(std::string key, std::string value, std::uint64_t modified, std::uint64_t created) {
  NodeView n;
  n.key = std::move(key);
  n.value = std::move(value);
  n.modified_index = modified;
  n.created_index = created;
  return n;
}

// Bodies below are etcd 3.4.23 answers, copied byte for byte.
TEST(RenderEvent, SetWithTtl) {
  Event e;
  e.action = Action::Set;
  e.node = file("/a", "x", 4, 4);
  e.node.expiration = unix_ns(1795761455773149848);
  e.node.ttl = 100;
  EXPECT_EQ(render_event(e),
            "{\"action\":\"set\",\"node\":{\"key\":\"/a\",\"value\":\"x\",\"expiration\":"
            "\"2026-11-27T06:37:35.773149848Z\",\"ttl\":100,\"modifiedIndex\":4,"
            "\"createdIndex\":4}}\n");
}

TEST(RenderEvent, RootListing) {
  Event e;
  e.action = Action::Get;
  e.node.dir = true;
  e.node.nodes.push_back(file("/a", "x", 4, 4));
  e.node.nodes.back().expiration = unix_ns(1795761455773149848);
  e.node.nodes.back().ttl = 81;
  EXPECT_EQ(render_event(e),
            "{\"action\":\"get\",\"node\":{\"dir\":true,\"nodes\":[{\"key\":\"/a\",\"value\":"
            "\"x\",\"expiration\":\"2026-11-27T06:37:35.773149848Z\",\"ttl\":81,"
            "\"modifiedIndex\":4,\"createdIndex\":4}]}}\n");
}

TEST(RenderEvent, DirWithChildAndEmptyRoot) {
  Event e;
  e.node.key = "/x";
  e.node.dir = true;
  e.node.modified_index = e.node.created_index = 24;
  e.node.nodes.push_back(file("/x/y", "1", 24, 24));
  EXPECT_EQ(render_event(e),
            "{\"action\":\"get\",\"node\":{\"key\":\"/x\",\"dir\":true,\"nodes\":[{\"key\":"
            "\"/x/y\",\"value\":\"1\",\"modifiedIndex\":24,\"createdIndex\":24}],"
            "\"modifiedIndex\":24,\"createdIndex\":24}}\n");
  Event root;
  root.node.dir = true;
  EXPECT_EQ(render_event(root), "{\"action\":\"get\",\"node\":{\"dir\":true}}\n");
}

TEST(RenderEvent, DeleteWithPrevNodeAndEmptyValue) {
  Event e;
  e.action = Action::Delete;
  e.node.key = "/b";
  e.node.modified_index = 13;
  e.node.created_index = 12;
  e.prev_node = file("/b", "a b c+", 12, 12);
  EXPECT_EQ(render_event(e),
            "{\"action\":\"delete\",\"node\":{\"key\":\"/b\",\"modifiedIndex\":13,"
            "\"createdIndex\":12},\"prevNode\":{\"key\":\"/b\",\"value\":\"a b c+\","
            "\"modifiedIndex\":12,\"createdIndex\":12}}\n");
  Event empty;
  empty.action = Action::Create;
  empty.node = file("/q/00000000000000000014", "", 14, 14);
  EXPECT_EQ(render_event(empty),
            "{\"action\":\"create\",\"node\":{\"key\":\"/q/00000000000000000014\",\"value\":\"\","
            "\"modifiedIndex\":14,\"createdIndex\":14}}\n");
}

TEST(RenderEvent, NegativeTtlAfterWrappedExpiration) {
  Event e;
  e.action = Action::Update;
  e.node = file("/r", "2", 31, 30);
  e.node.expiration = unix_ns(-6650982518242736397);
  e.node.ttl = -8446744073;
  EXPECT_EQ(render_event(e),
            "{\"action\":\"update\",\"node\":{\"key\":\"/r\",\"value\":\"2\",\"expiration\":"
            "\"1759-03-29T00:51:21.757263603Z\",\"ttl\":-8446744073,\"modifiedIndex\":31,"
            "\"createdIndex\":30}}\n");
}

TEST(RenderEvent, NoValueOnSuccess) {
  Event e;
  e.action = Action::Set;
  e.node = file("/r", "1", 34, 34);
  EXPECT_EQ(render_event(e, true), "{\"action\":\"set\"}\n");
  for (Action a : {Action::Create, Action::Update, Action::CompareAndSwap}) {
    e.action = a;
    EXPECT_EQ(render_event(e, true),
              "{\"action\":\"" + std::string(store::action_name(a)) + "\"}\n");
  }
  // Ignored for delete and get (etcd 3.4.23: DELETE ?noValueOnSuccess=true shows the nodes).
  e.action = Action::Delete;
  e.node.value.reset();
  EXPECT_EQ(render_event(e, true),
            "{\"action\":\"delete\",\"node\":{\"key\":\"/r\",\"modifiedIndex\":34,"
            "\"createdIndex\":34}}\n");
}

TEST(RenderError, WithAndWithoutCause) {
  EXPECT_EQ(render_error(store::Error{store::ErrorCode::KeyNotFound, "/b", 13}),
            "{\"errorCode\":100,\"message\":\"Key not found\",\"cause\":\"/b\",\"index\":13}\n");
  EXPECT_EQ(render_error(
                store::Error{store::ErrorCode::InvalidField, "invalid value for \"recursive\"", 0}),
            "{\"errorCode\":209,\"message\":\"Invalid field\",\"cause\":\"invalid value for "
            "\\\"recursive\\\"\",\"index\":0}\n");
  EXPECT_EQ(render_error(store::Error{store::ErrorCode::KeyNotFound, std::string("/\0", 2), 24}),
            "{\"errorCode\":100,\"message\":\"Key not found\",\"cause\":\"/\\u0000\","
            "\"index\":24}\n");
  EXPECT_EQ(render_error(store::Error{store::ErrorCode::RaftInternal, "", 0}),
            "{\"errorCode\":300,\"message\":\"Raft Internal Error\",\"index\":0}\n");
}

TEST(RenderMembers, ListLeaderAndUnstarted) {
  Member m{0x37713a9a8cb61a64, "default", {"http://127.0.0.1:38807"}, {"http://127.0.0.1:60529"}};
  EXPECT_EQ(render_members({m}),
            "{\"members\":[{\"id\":\"37713a9a8cb61a64\",\"name\":\"default\",\"peerURLs\":"
            "[\"http://127.0.0.1:38807\"],\"clientURLs\":[\"http://127.0.0.1:60529\"]}]}\n");
  EXPECT_EQ(render_member(m),
            "{\"id\":\"37713a9a8cb61a64\",\"name\":\"default\",\"peerURLs\":"
            "[\"http://127.0.0.1:38807\"],\"clientURLs\":[\"http://127.0.0.1:60529\"]}\n");
  Member unstarted{0xa, "", {"http://127.0.0.1:1"}, {}};
  EXPECT_EQ(render_members({m, unstarted}),
            "{\"members\":[{\"id\":\"a\",\"name\":\"\",\"peerURLs\":[\"http://127.0.0.1:1\"],"
            "\"clientURLs\":[]},{\"id\":\"37713a9a8cb61a64\",\"name\":\"default\",\"peerURLs\":"
            "[\"http://127.0.0.1:38807\"],\"clientURLs\":[\"http://127.0.0.1:60529\"]}]}\n");
}

TEST(RenderSmallBodies, MachinesVersionHealthMessage) {
  EXPECT_EQ(render_machines({"http://127.0.0.1:60529"}), "http://127.0.0.1:60529");
  EXPECT_EQ(render_machines({"http://a:1", "http://b:2"}), "http://a:1, http://b:2");
  // A 3-member etcd 3.4.23 (members m3, m2, m1 in id order) answered with sorted URLs.
  EXPECT_EQ(render_machines(
                {"http://127.0.0.1:47551", "http://127.0.0.1:39167", "http://127.0.0.1:45555"}),
            "http://127.0.0.1:39167, http://127.0.0.1:45555, http://127.0.0.1:47551");
  EXPECT_EQ(render_version("3.4.23", "3.4.0"),
            "{\"etcdserver\":\"3.4.23\",\"etcdcluster\":\"3.4.0\"}");
  EXPECT_EQ(render_health(true), "{\"health\":\"true\"}");
  EXPECT_EQ(render_health(false), "{\"health\":\"false\"}");
  EXPECT_EQ(render_message_error("No such member: leader"),
            "{\"message\":\"No such member: leader\"}");
}

TEST(RenderStats, SelfAsEtcd) {
  SelfStats s;
  s.name = "default";
  s.id = 0x37713a9a8cb61a64;
  s.state = RaftRole::Leader;
  s.start_time = unix_ns(1795761348171070496);
  s.leader_id = s.id;
  s.leader_uptime_ns = 7'764'107'857;
  s.leader_start_time = unix_ns(1795761348572059811);
  EXPECT_EQ(render_self_stats(s),
            "{\"name\":\"default\",\"id\":\"37713a9a8cb61a64\",\"state\":\"StateLeader\","
            "\"startTime\":\"2026-11-27T06:35:48.171070496Z\",\"leaderInfo\":{\"leader\":"
            "\"37713a9a8cb61a64\",\"uptime\":\"7.764107857s\",\"startTime\":"
            "\"2026-11-27T06:35:48.572059811Z\"},\"recvAppendRequestCnt\":0,"
            "\"sendAppendRequestCnt\":0}");
  s.state = RaftRole::Follower;
  s.recv_pkg_rate = 10.5;
  s.recv_bandwidth_rate = 1234;
  s.leader_start_time.reset();
  const std::string out = render_self_stats(s);
  EXPECT_NE(out.find("\"state\":\"StateFollower\""), std::string::npos);
  EXPECT_NE(out.find("\"startTime\":\"0001-01-01T00:00:00Z\"}"), std::string::npos);
  EXPECT_NE(out.find("\"recvAppendRequestCnt\":0,\"recvPkgRate\":10.5,\"recvBandwidthRate\":1234,"
                     "\"sendAppendRequestCnt\":0}"),
            std::string::npos);
}

// A 3-member etcd 3.4.23 right after five writes.
TEST(RenderStats, RatesAndLatenciesFromA3MemberCluster) {
  SelfStats s;
  s.name = "m1";
  s.id = 0xbc5dfbf4b9f43c22;
  s.start_time = unix_ns(1795763167543791043);
  s.leader_id = 0xa56e45ccd6fc179c;
  s.leader_uptime_ns = 6'953'336'478;
  s.leader_start_time = unix_ns(1795763168346261474);
  s.recv_append_request_cnt = 18;
  s.recv_pkg_rate = 242.78232428143716;
  s.recv_bandwidth_rate = 18572.84780752994;
  EXPECT_EQ(render_self_stats(s),
            "{\"name\":\"m1\",\"id\":\"bc5dfbf4b9f43c22\",\"state\":\"StateFollower\","
            "\"startTime\":\"2026-11-27T07:06:07.543791043Z\",\"leaderInfo\":{\"leader\":"
            "\"a56e45ccd6fc179c\",\"uptime\":\"6.953336478s\",\"startTime\":"
            "\"2026-11-27T07:06:08.346261474Z\"},\"recvAppendRequestCnt\":18,\"recvPkgRate\":"
            "242.78232428143716,\"recvBandwidthRate\":18572.84780752994,"
            "\"sendAppendRequestCnt\":0}");
  LeaderStats l{
      0xa56e45ccd6fc179c,
      {{0xbc5dfbf4b9f43c22, 0.000597, 0.0011153750000000003, 0.0011127978182828178, 0.000075,
        0.003821, 0, 8},
       {0x5b0d0c40fd9715a1, 0.000626, 0.0023065, 0.002864155358332831, 0.000626, 0.008676, 0, 6}}};
  EXPECT_EQ(render_leader_stats(l),
            "{\"leader\":\"a56e45ccd6fc179c\",\"followers\":{\"5b0d0c40fd9715a1\":{\"latency\":"
            "{\"current\":0.000626,\"average\":0.0023065,\"standardDeviation\":"
            "0.002864155358332831,\"minimum\":0.000626,\"maximum\":0.008676},\"counts\":"
            "{\"fail\":0,\"success\":6}},\"bc5dfbf4b9f43c22\":{\"latency\":{\"current\":"
            "0.000597,\"average\":0.0011153750000000003,\"standardDeviation\":"
            "0.0011127978182828178,\"minimum\":0.000075,\"maximum\":0.003821},\"counts\":"
            "{\"fail\":0,\"success\":8}}}}");
}

TEST(RenderStats, LeaderAndStore) {
  EXPECT_EQ(render_leader_stats({0x37713a9a8cb61a64, {}}),
            "{\"leader\":\"37713a9a8cb61a64\",\"followers\":{}}");
  LeaderStats l{1, {{0x10, 0.5, 0.25, 0, 0.1, 1.5, 2, 30}, {0x9, 1, 1, 0, 1, 1, 0, 1}}};
  EXPECT_EQ(render_leader_stats(l),
            "{\"leader\":\"1\",\"followers\":{\"10\":{\"latency\":{\"current\":0.5,\"average\":"
            "0.25,\"standardDeviation\":0,\"minimum\":0.1,\"maximum\":1.5},\"counts\":{\"fail\":2,"
            "\"success\":30}},\"9\":{\"latency\":{\"current\":1,\"average\":1,"
            "\"standardDeviation\":0,\"minimum\":1,\"maximum\":1},\"counts\":{\"fail\":0,"
            "\"success\":1}}}}");
  StoreStats s;
  s.gets_success = 3;
  s.gets_fail = 4;
  s.sets_success = 3;
  s.create_success = 1;
  EXPECT_EQ(render_store_stats(s),
            "{\"getsSuccess\":3,\"getsFail\":4,\"setsSuccess\":3,\"setsFail\":0,"
            "\"deleteSuccess\":0,\"deleteFail\":0,\"updateSuccess\":0,\"updateFail\":0,"
            "\"createSuccess\":1,\"createFail\":0,\"compareAndSwapSuccess\":0,"
            "\"compareAndSwapFail\":0,\"compareAndDeleteSuccess\":0,\"compareAndDeleteFail\":0,"
            "\"expireCount\":0,\"watchers\":0}");
}

}  // namespace
}  // namespace discovery::api
