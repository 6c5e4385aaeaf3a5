#include "sqlproxy/routing/router.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace sqlproxy::routing {
namespace {

using health::BackendStatus;
using health::State;

BackendStatus node(const std::string& name, State state, const std::string& uuid = "u1",
                   int weight = 1, std::int64_t cluster_size = 3) {
  BackendStatus b;
  b.name = name;
  b.weight = weight;
  b.health = {state, std::string(health::state_name(state))};
  b.sample.wsrep_cluster_state_uuid = uuid;
  b.sample.wsrep_cluster_status = "Primary";
  b.sample.wsrep_cluster_size = cluster_size;
  b.probes = 1;
  return b;
}

ClusterView view(std::vector<BackendStatus> backends) {
  ClusterView v;
  v.backends = std::move(backends);
  return v;
}

const std::optional<std::string> kNone;

TEST(Route, PicksFirstWritableByWeightThenName) {
  const auto v = view({node("c:3306", State::Writable), node("a:3306", State::Writable),
                       node("b:3306", State::Writable, "u1", 5)});
  const Decision d = route(v, kNone, {});
  EXPECT_EQ(d.writer, "b:3306");
  EXPECT_TRUE(d.writer_changed);
  EXPECT_EQ(d.readers, (std::vector<std::string>{"b:3306", "a:3306", "c:3306"}));
  EXPECT_EQ(d.reason, "first writable by weight and name");
  EXPECT_EQ(d.cluster_state_uuid, "u1");
}

TEST(Route, DeterministicWhateverTheViewOrder) {
  std::vector<BackendStatus> backends = {
      node("n1:1", State::Writable),       node("n2:1", State::ReadOnly),
      node("n3:1", State::Writable),       node("n4:1", State::Offline),
      node("n5:1", State::Writable, "u2"), node("n6:1", State::Draining)};
  const Decision first = route(view(backends), kNone, {});
  std::mt19937 random(42);
  for (int i = 0; i < 50; ++i) {
    std::shuffle(backends.begin(), backends.end(), random);
    const Decision d = route(view(backends), kNone, {});
    EXPECT_EQ(d.writer, first.writer);
    EXPECT_EQ(d.readers, first.readers);
    EXPECT_EQ(d.reason, first.reason);
  }
  EXPECT_EQ(first.writer, "n1:1");
  EXPECT_EQ(first.readers, (std::vector<std::string>{"n1:1", "n2:1", "n3:1"}));
}

TEST(Route, StickyWriterStaysWhenABetterNodeReturns) {
  // a is best by name but was offline; b became writer. a comes back: b stays.
  const auto v = view(
      {node("a:1", State::Writable), node("b:1", State::Writable), node("c:1", State::Writable)});
  const Decision d = route(v, std::string("b:1"), {});
  EXPECT_EQ(d.writer, "b:1");
  EXPECT_FALSE(d.writer_changed);
  EXPECT_EQ(d.reason, "previous writer still writable");
}

TEST(Route, FailbackAndPreferAreTheOperatorsChoice) {
  const auto v = view(
      {node("a:1", State::Writable), node("b:1", State::Writable), node("c:1", State::Writable)});
  RoutingConfig failback;
  failback.failback = true;
  EXPECT_EQ(route(v, std::string("b:1"), failback).writer, "a:1");
  RoutingConfig prefer;
  prefer.prefer_writer = "c:1";
  const Decision d = route(v, std::string("b:1"), prefer);
  EXPECT_EQ(d.writer, "c:1");
  EXPECT_TRUE(d.writer_changed);
  EXPECT_EQ(d.reason, "preferred by configuration");
  // A preferred node that is not writable is passed over; stickiness applies again.
  prefer.prefer_writer = "d:1";
  EXPECT_EQ(route(v, std::string("b:1"), prefer).writer, "b:1");
}

TEST(Route, UnhealthyWriterIsReplacedWithTheReason) {
  auto v = view(
      {node("a:1", State::Draining), node("b:1", State::Writable), node("c:1", State::Writable)});
  v.backends[0].health.reason = "wsrep_desync=ON";
  const Decision d = route(v, std::string("a:1"), {});
  EXPECT_EQ(d.writer, "b:1");
  EXPECT_TRUE(d.writer_changed);
  EXPECT_EQ(d.reason, "previous writer a:1 is draining: wsrep_desync=ON");
  EXPECT_EQ(d.readers, (std::vector<std::string>{"b:1", "c:1"}));
}

TEST(Route, ReadOnlyNodesReadButNeverWrite) {
  const auto v = view({node("a:1", State::ReadOnly), node("b:1", State::ReadOnly)});
  const Decision d = route(v, std::string("a:1"), {});
  EXPECT_FALSE(d.writer.has_value());
  EXPECT_TRUE(d.writer_changed);
  EXPECT_EQ(d.readers, (std::vector<std::string>{"a:1", "b:1"}));
  EXPECT_EQ(d.reason, "no writable backend");
}

TEST(Route, NoWriterAtStartUntilEveryBackendWasProbed) {
  // b answered first; a (better by name) has not been probed yet.
  auto v = view({node("a:1", State::Offline), node("b:1", State::Writable)});
  v.backends[0].probes = 0;
  v.backends[0].health.reason = "no probe yet";
  Decision d = route(v, kNone, {});
  EXPECT_FALSE(d.writer.has_value());
  EXPECT_EQ(d.reason, "waiting for the first probe of every backend");
  EXPECT_EQ(d.readers, (std::vector<std::string>{"b:1"}));
  v.backends[0] = node("a:1", State::Writable);
  EXPECT_EQ(route(v, kNone, {}).writer, "a:1");
  // With a writer in place, a newly added backend does not hold anything up.
  v.backends.push_back(node("c:1", State::Offline));
  v.backends.back().probes = 0;
  EXPECT_EQ(route(v, std::string("b:1"), {}).writer, "b:1");
}

TEST(Route, NothingUsable) {
  const auto v = view({node("a:1", State::Offline), node("b:1", State::Draining)});
  const Decision d = route(v, std::string("a:1"), {});
  EXPECT_FALSE(d.writer.has_value());
  EXPECT_TRUE(d.readers.empty());
  EXPECT_EQ(d.reason, "no usable backend (previous writer a:1 is offline: offline)");
  EXPECT_FALSE(route(v, kNone, {}).writer_changed);
}

TEST(Route, RemovedWriterIsReplaced) {
  const auto v = view({node("b:1", State::Writable)});
  const Decision d = route(v, std::string("gone:1"), {});
  EXPECT_EQ(d.writer, "b:1");
  EXPECT_EQ(d.reason, "previous writer gone:1 removed");
}

TEST(Route, ReadersWithoutWriter) {
  const auto v = view({node("a:1", State::Writable), node("b:1", State::ReadOnly)});
  RoutingConfig config;
  config.readers_include_writer = false;
  EXPECT_EQ(route(v, kNone, config).readers, (std::vector<std::string>{"b:1"}));
  // The writer still serves reads when it is the only usable node.
  EXPECT_EQ(route(view({node("a:1", State::Writable)}), kNone, config).readers,
            (std::vector<std::string>{"a:1"}));
}

TEST(SplitBrain, TheLargerGroupWinsAndGroupsNeverMix) {
  const auto v = view({node("a:1", State::Writable, "u-small", 9), node("b:1", State::Writable),
                       node("c:1", State::ReadOnly)});
  const Decision d = route(v, kNone, {});
  EXPECT_EQ(d.writer, "b:1");  // a has the larger weight but sits in the smaller group
  EXPECT_EQ(d.readers, (std::vector<std::string>{"b:1", "c:1"}));
  EXPECT_EQ(d.cluster_state_uuid, "u1");
  EXPECT_EQ(d.reason, "first writable by weight and name (cluster u1 chosen of 2 state UUIDs)");
}

TEST(SplitBrain, ThePreviousWritersGroupWinsWhileItIsUsable) {
  const auto v = view({node("a:1", State::Writable, "u-small"), node("b:1", State::Writable),
                       node("c:1", State::Writable)});
  const Decision d = route(v, std::string("a:1"), {});
  EXPECT_EQ(d.writer, "a:1");
  EXPECT_EQ(d.readers, (std::vector<std::string>{"a:1"}));
  // Even when the operator prefers a node of the other history, histories are not mixed.
  RoutingConfig prefer;
  prefer.prefer_writer = "b:1";
  EXPECT_EQ(route(v, std::string("a:1"), prefer).writer, "a:1");
}

TEST(SplitBrain, TiesGoToTheLargerClusterSizeThenTheSmallerUuid) {
  auto v =
      view({node("a:1", State::Writable, "u2", 1, 2), node("b:1", State::Writable, "u1", 1, 1)});
  EXPECT_EQ(route(v, kNone, {}).writer, "a:1");
  v = view({node("a:1", State::Writable, "u2"), node("b:1", State::Writable, "u1")});
  EXPECT_EQ(route(v, kNone, {}).writer, "b:1");
}

TEST(SplitBrain, NodesWithoutAStateUuidAreNotEligible) {
  const auto v = view({node("a:1", State::Writable, ""), node("b:1", State::Writable)});
  EXPECT_EQ(route(v, kNone, {}).readers, (std::vector<std::string>{"b:1"}));
}

TEST(Router, RemembersTheWriterAcrossViews) {
  Router router({});
  const auto all = view({node("a:1", State::Writable), node("b:1", State::Writable)});
  EXPECT_TRUE(router.update(all).writer_changed);
  EXPECT_EQ(router.decision().writer, "a:1");
  EXPECT_FALSE(router.update(all).writer_changed);
  // a desyncs: b takes over; a comes back: b stays (no failback), no change reported.
  EXPECT_EQ(
      router.update(view({node("a:1", State::Draining), node("b:1", State::Writable)})).writer,
      "b:1");
  EXPECT_TRUE(router.decision().writer_changed);
  EXPECT_EQ(router.update(all).writer, "b:1");
  EXPECT_FALSE(router.decision().writer_changed);
}

}  // namespace
}  // namespace sqlproxy::routing
