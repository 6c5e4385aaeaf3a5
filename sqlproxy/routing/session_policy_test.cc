#include "sqlproxy/routing/session_policy.h"

#include <gtest/gtest.h>

namespace sqlproxy::routing {
namespace {

using health::BackendStatus;
using health::State;

BackendStatus node(const std::string& name, State state, const std::string& uuid = "u1") {
  BackendStatus b;
  b.name = name;
  b.health = {state, std::string(health::state_name(state))};
  b.sample.wsrep_cluster_state_uuid = uuid;
  b.probes = 1;
  return b;
}

ClusterView view(std::vector<BackendStatus> backends) {
  ClusterView v;
  v.backends = std::move(backends);
  return v;
}

TEST(SessionPolicy, EachStateAndRole) {
  auto v = view({node("a:1", State::Draining), node("b:1", State::Writable),
                 node("c:1", State::ReadOnly), node("d:1", State::Offline),
                 node("e:1", State::Writable, "u-other")});
  v.backends[0].health.reason = "wsrep_desync=ON";
  const Decision d = route(v, std::string("a:1"), {});
  ASSERT_EQ(d.writer, "b:1");
  const auto p = session_policy(v, d);
  // The desynced old writer: its open transactions may still commit.
  EXPECT_EQ(p.at("a:1").writer_sessions, SessionAction::CloseWhenIdle);
  EXPECT_EQ(p.at("a:1").reader_sessions, SessionAction::CloseWhenIdle);
  EXPECT_EQ(p.at("a:1").reason, "draining: wsrep_desync=ON");
  EXPECT_EQ(p.at("b:1").writer_sessions, SessionAction::Keep);
  EXPECT_EQ(p.at("b:1").reader_sessions, SessionAction::Keep);
  EXPECT_EQ(p.at("b:1").reason, "");
  // A read-only reader keeps its read sessions; writer-port sessions there are fenced.
  EXPECT_EQ(p.at("c:1").writer_sessions, SessionAction::CloseNow);
  EXPECT_EQ(p.at("c:1").reader_sessions, SessionAction::Keep);
  EXPECT_EQ(p.at("d:1").writer_sessions, SessionAction::CloseNow);
  EXPECT_EQ(p.at("d:1").reader_sessions, SessionAction::CloseNow);
  EXPECT_EQ(p.at("d:1").reason, "offline: offline");
  // Another cluster history: nothing of it is used.
  EXPECT_EQ(p.at("e:1").writer_sessions, SessionAction::CloseNow);
  EXPECT_EQ(p.at("e:1").reader_sessions, SessionAction::CloseNow);
  EXPECT_EQ(p.at("e:1").reason, "not in the chosen cluster group");
}

TEST(SessionPolicy, ADemotedWritableWriterIsFenced) {
  const auto v = view({node("a:1", State::Writable), node("b:1", State::Writable)});
  RoutingConfig prefer;
  prefer.prefer_writer = "b:1";
  const Decision d = route(v, std::string("a:1"), prefer);
  const auto p = session_policy(v, d);
  EXPECT_EQ(p.at("a:1").writer_sessions, SessionAction::CloseNow);
  EXPECT_EQ(p.at("a:1").reader_sessions, SessionAction::Keep);
  EXPECT_EQ(p.at("a:1").reason, "not the writer (preferred by configuration)");
}

}  // namespace
}  // namespace sqlproxy::routing
