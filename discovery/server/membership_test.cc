// The rules of a membership change over the cluster records (etcd 3.4's validation, its strict
// reconfiguration check and the records a change writes).

#include "discovery/server/membership.h"

#include <gtest/gtest.h>

#include "discovery/server/member_id.h"

namespace discovery::server {
namespace {

void apply_record(store::Store& store, const store::pb::ClusterRecord& record) {
  store::pb::Command command;
  *command.mutable_cluster_record() = record;
  ASSERT_TRUE(store.apply(command).has_value());
}

void add_member(store::Store& store, raft::pb::ConfState& conf, std::uint64_t id,
                const std::string& url, bool started) {
  for (const auto& record : member_change_records(raft::pb::ConfChangeAddNode, id, {{url}})) {
    apply_record(store, record);
  }
  if (started) {
    store::pb::ClusterRecord attributes;
    attributes.set_key("/members/" + format_id(id) + "/attributes");
    attributes.set_value(R"({"name":"m","clientURLs":[]})");
    apply_record(store, attributes);
  }
  conf.add_voters(id);
}

TEST(Membership, ValidationFollowsEtcd) {
  store::Store store;
  raft::pb::ConfState conf;
  add_member(store, conf, 0xa, "http://a:1", true);
  add_member(store, conf, 0xb, "http://b:1", true);
  const std::vector<std::string> a_url{"http://a:1"};
  const std::vector<std::string> new_url{"http://n:1"};
  EXPECT_EQ(validate_member_change(store, conf, raft::pb::ConfChangeAddNode, 0xa, new_url),
            MembershipError::IdExists);
  EXPECT_EQ(validate_member_change(store, conf, raft::pb::ConfChangeAddNode, 0xc, a_url),
            MembershipError::PeerUrlExists);
  EXPECT_EQ(validate_member_change(store, conf, raft::pb::ConfChangeAddNode, 0xc, new_url),
            std::nullopt);
  EXPECT_EQ(validate_member_change(store, conf, raft::pb::ConfChangeUpdateNode, 0xc, new_url),
            MembershipError::IdNotFound);
  // A member may keep its own URL in an update, but not take another's.
  EXPECT_EQ(validate_member_change(store, conf, raft::pb::ConfChangeUpdateNode, 0xa, a_url),
            std::nullopt);
  EXPECT_EQ(validate_member_change(store, conf, raft::pb::ConfChangeUpdateNode, 0xb, a_url),
            MembershipError::PeerUrlExists);
  EXPECT_EQ(validate_member_change(store, conf, raft::pb::ConfChangeRemoveNode, 0xc, {}),
            MembershipError::IdNotFound);
  for (const auto& record : member_change_records(raft::pb::ConfChangeRemoveNode, 0xb, {})) {
    apply_record(store, record);
  }
  EXPECT_FALSE(store.cluster_record("/members/b/raftAttributes").has_value());
  EXPECT_TRUE(store.cluster_record("/members/a/raftAttributes").has_value());
  EXPECT_EQ(validate_member_change(store, conf, raft::pb::ConfChangeRemoveNode, 0xb, {}),
            MembershipError::IdRemoved);
  EXPECT_EQ(validate_member_change(store, conf, raft::pb::ConfChangeAddNode, 0xb, new_url),
            MembershipError::IdRemoved);
}

TEST(Membership, RecordsTakeEtcdsIndexes) {
  store::Store store;
  const std::vector<std::string> urls{"http://a:1", "http://b:2"};
  const auto add = member_change_records(raft::pb::ConfChangeAddNode, 0xa, urls);
  ASSERT_EQ(add.size(), 1u);
  EXPECT_EQ(add[0].key(), "/members/a/raftAttributes");
  EXPECT_EQ(add[0].value(), R"({"peerURLs":["http://a:1","http://b:2"]})");
  EXPECT_TRUE(add[0].create());
  const auto update = member_change_records(raft::pb::ConfChangeUpdateNode, 0xa, urls);
  ASSERT_EQ(update.size(), 1u);
  EXPECT_TRUE(update[0].update());
  const auto remove = member_change_records(raft::pb::ConfChangeRemoveNode, 0xa, {});
  ASSERT_EQ(remove.size(), 2u);
  EXPECT_TRUE(remove[0].erase());
  EXPECT_EQ(remove[0].key(), "/members/a");
  EXPECT_EQ(remove[1].key(), "/removed_members/a");
  for (const auto& record : add) apply_record(store, record);
  for (const auto& record : update) apply_record(store, record);
  for (const auto& record : remove) apply_record(store, record);
  EXPECT_EQ(store.index(), 4u);
  EXPECT_EQ(store.stats().create_success, 2u);
  EXPECT_EQ(store.stats().update_success, 1u);
  EXPECT_EQ(store.stats().delete_success, 1u);
}

TEST(Membership, StrictReconfigurationCheck) {
  store::Store store;
  raft::pb::ConfState conf;
  add_member(store, conf, 0xa, "http://a:1", true);
  // One member growing to two: allowed even though the second has not started.
  EXPECT_EQ(check_proposal(store, conf, raft::pb::ConfChangeAddNode, 0xb), std::nullopt);
  add_member(store, conf, 0xb, "http://b:1", false);
  // Two voters, one not started: no quorum of started members for a third.
  EXPECT_EQ(check_proposal(store, conf, raft::pb::ConfChangeAddNode, 0xc),
            MembershipError::NotEnoughStarted);
  EXPECT_EQ(check_proposal(store, conf, raft::pb::ConfChangeRemoveNode, 0xb), std::nullopt);
  add_member(store, conf, 0xc, "http://c:1", true);
  add_member(store, conf, 0xd, "http://d:1", true);
  // Four voters, three started: enough for a fifth, but etcd wants every voter connected.
  EXPECT_EQ(check_proposal(store, conf, raft::pb::ConfChangeAddNode, 0xe),
            MembershipError::Unhealthy);
  EXPECT_EQ(check_proposal(store, conf, raft::pb::ConfChangeRemoveNode, 0xb), std::nullopt);
  // A member that is no voter is removed without any check (etcd: learners, unknown ids).
  EXPECT_EQ(check_proposal(store, conf, raft::pb::ConfChangeRemoveNode, 0x77), std::nullopt);
}

}  // namespace
}  // namespace discovery::server
