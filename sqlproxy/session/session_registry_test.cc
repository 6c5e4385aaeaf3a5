#include "sqlproxy/session/session_registry.h"

#include <gtest/gtest.h>

#include <memory>

namespace sqlproxy::session {
namespace {

using std::chrono::milliseconds;

// Records what the registry told it.
class FakeSession final : public SessionControl {
 public:
  void fence() override { ++fenced; }
  void drain(std::chrono::steady_clock::time_point d) override {
    ++drained;
    deadline = d;
  }
  int fenced = 0;
  int drained = 0;
  std::chrono::steady_clock::time_point deadline{};
};

TEST(SessionRegistryTest, CountsPerBackend) {
  SessionRegistry registry;
  auto a = std::make_shared<FakeSession>();
  auto b = std::make_shared<FakeSession>();
  auto c = std::make_shared<FakeSession>();
  EXPECT_EQ(registry.register_session("n1", a).admission, SessionRegistry::Admission::Admit);
  registry.register_session("n1", b);
  registry.register_session("n2", c);
  EXPECT_EQ(registry.count("n1"), 2u);
  EXPECT_EQ(registry.count("n2"), 1u);
  EXPECT_EQ(registry.total(), 3u);
  registry.unregister_session("n1", a.get());
  registry.unregister_session("n1", a.get());  // idempotent
  EXPECT_EQ(registry.count("n1"), 1u);
  EXPECT_EQ(registry.total(), 2u);
  EXPECT_EQ(registry.counts(), (std::map<std::string, std::size_t>{{"n1", 1}, {"n2", 1}}));
}

TEST(SessionRegistryTest, FenceTellsOnlyThatBackendAndRefusesLateArrivals) {
  SessionRegistry registry;
  auto a = std::make_shared<FakeSession>();
  auto other = std::make_shared<FakeSession>();
  registry.register_session("n1", a);
  registry.register_session("n2", other);
  EXPECT_EQ(registry.fence("n1"), 1u);
  EXPECT_EQ(a->fenced, 1);
  EXPECT_EQ(other->fenced, 0);
  // A session that picked n1 before the fence and registers after it is refused.
  auto late = std::make_shared<FakeSession>();
  EXPECT_EQ(registry.register_session("n1", late).admission, SessionRegistry::Admission::Refuse);
  // Draining does not weaken a fence.
  registry.drain("n1", milliseconds(100));
  EXPECT_EQ(registry.register_session("n1", late).admission, SessionRegistry::Admission::Refuse);
  registry.readmit("n1");
  EXPECT_EQ(registry.register_session("n1", late).admission, SessionRegistry::Admission::Admit);
}

TEST(SessionRegistryTest, DrainTellsSessionsAndHandsTheDeadlineToLateArrivals) {
  SessionRegistry registry;
  auto a = std::make_shared<FakeSession>();
  registry.register_session("n1", a);
  const auto before = std::chrono::steady_clock::now();
  EXPECT_EQ(registry.drain("n1", milliseconds(5000)), 1u);
  EXPECT_EQ(a->drained, 1);
  EXPECT_GE(a->deadline, before + milliseconds(5000));
  auto late = std::make_shared<FakeSession>();
  const auto r = registry.register_session("n1", late);
  EXPECT_EQ(r.admission, SessionRegistry::Admission::AdmitDraining);
  EXPECT_EQ(r.drain_deadline, a->deadline);
  registry.readmit("n1");
  EXPECT_EQ(registry.count("n1"), 2u);
}

TEST(SessionRegistryTest, DeadSessionsAreNotTold) {
  SessionRegistry registry;
  auto a = std::make_shared<FakeSession>();
  registry.register_session("n1", a);
  a.reset();  // ended without unregistering (a bug elsewhere must not crash the registry)
  EXPECT_EQ(registry.fence("n1"), 0u);
}

}  // namespace
}  // namespace sqlproxy::session
