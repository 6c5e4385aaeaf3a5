#include "sqlproxy/admin/admin_server.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "sqlproxy/admin/status_render.h"

namespace sqlproxy::admin {
namespace {

class FakeStatus final : public StatusSource {
 public:
  std::shared_ptr<const StatusSnapshot> status() const override { return snapshot; }
  std::shared_ptr<StatusSnapshot> snapshot = std::make_shared<StatusSnapshot>();
};

class FakeSession final : public session::SessionControl {
 public:
  void fence() override { ++fenced; }
  void drain(std::chrono::steady_clock::time_point d) override { deadline = d; }
  int fenced = 0;
  std::chrono::steady_clock::time_point deadline{};
};

struct Fixture {
  FakeStatus status;
  session::SessionRegistry registry;
  common::metrics::Registry metrics;
  common::ManualClock clock;
  AdminDeps deps{&status, &registry, &metrics, std::chrono::milliseconds(10000), &clock};

  Fixture() {
    status.snapshot->writer = "n1";
    status.snapshot->writer_reason = "first reachable backend";
    status.snapshot->writer_changes = 1;
    status.snapshot->backend_source = "static";
    BackendStatus n1{"n1",
                     "127.0.0.1:3306",
                     BackendState::Writable,
                     "ok",
                     true,
                     std::chrono::microseconds(1500),
                     10,
                     0,
                     {{"wsrep_local_state", "4"}}};
    BackendStatus n2{"n2",
                     "127.0.0.1:3307",
                     BackendState::Offline,
                     "connect: refused",
                     false,
                     std::nullopt,
                     10,
                     10,
                     {}};
    status.snapshot->backends = {n1, n2};
    metrics.counter("sqlproxy_sessions_accepted_total", "Accepted.").inc(3);
  }
};

TEST(AdminTest, HealthAndReadiness) {
  Fixture f;
  EXPECT_EQ(handle_admin_request("GET", "/health", f.deps).status, 200u);
  EXPECT_EQ(handle_admin_request("GET", "/ready", f.deps).status, 200u);
  f.status.snapshot->writer.clear();
  f.status.snapshot->writer_reason = "no backend reachable";
  const AdminAnswer a = handle_admin_request("GET", "/ready", f.deps);
  EXPECT_EQ(a.status, 503u);
  EXPECT_NE(a.body.find("no backend reachable"), std::string::npos);
  EXPECT_EQ(handle_admin_request("GET", "/health", f.deps).status, 200u);
}

TEST(AdminTest, StatusJson) {
  Fixture f;
  auto s = std::make_shared<FakeSession>();
  f.registry.register_session("n1", s);
  const AdminAnswer a = handle_admin_request("GET", "/status", f.deps);
  EXPECT_EQ(a.content_type, "application/json");
  const auto doc = boost::json::parse(a.body).as_object();
  EXPECT_EQ(doc.at("writer").as_string(), "n1");
  EXPECT_EQ(doc.at("ready").as_bool(), true);
  EXPECT_EQ(doc.at("sessions").as_int64(), 1);
  const auto& backends = doc.at("backends").as_array();
  ASSERT_EQ(backends.size(), 2u);
  EXPECT_EQ(backends[0].at("state").as_string(), "writable");
  EXPECT_EQ(backends[0].at("sessions").as_int64(), 1);
  EXPECT_EQ(backends[0].at("probe_latency_ms").as_double(), 1.5);
  EXPECT_EQ(backends[0].at("details").at("wsrep_local_state").as_string(), "4");
  EXPECT_EQ(backends[1].at("state").as_string(), "offline");
  EXPECT_TRUE(backends[1].at("probe_latency_ms").is_null());
  EXPECT_FALSE(doc.contains("discovery"));  // static backends
}

TEST(AdminTest, StatusJsonNamesTheDiscoveryEndpointInUse) {
  Fixture f;
  auto d = std::make_shared<DiscoveryStatus>();
  d->endpoint = "http://127.0.0.1:22379";
  d->endpoints = {"http://127.0.0.1:2379", "http://127.0.0.1:22379", "http://127.0.0.1:32379"};
  d->members = {{"8e9e05c52164694d", "m2", {"http://127.0.0.1:22379"}, {}}};
  d->error = "GET /v2/members/leader: HTTP 503";
  f.status.snapshot->discovery = d;
  const auto doc = boost::json::parse(handle_admin_request("GET", "/status", f.deps).body);
  const auto& discovery = doc.at("discovery");
  EXPECT_EQ(discovery.at("endpoint").as_string(), "http://127.0.0.1:22379");
  ASSERT_EQ(discovery.at("endpoints").as_array().size(), 3u);
  EXPECT_EQ(discovery.at("endpoints").at(2).as_string(), "http://127.0.0.1:32379");
  EXPECT_TRUE(discovery.at("leader_id").is_null());
  EXPECT_EQ(discovery.at("members").at(0).at("name").as_string(), "m2");
  EXPECT_EQ(discovery.at("members").at(0).at("client_urls").at(0).as_string(),
            "http://127.0.0.1:22379");
  EXPECT_EQ(discovery.at("error").as_string(), "GET /v2/members/leader: HTTP 503");
}

TEST(AdminTest, MetricsJoinRegistryAndSnapshot) {
  Fixture f;
  const AdminAnswer a = handle_admin_request("GET", "/metrics", f.deps);
  EXPECT_EQ(a.status, 200u);
  for (const char* line : {"sqlproxy_sessions_accepted_total 3\n",
                           "sqlproxy_backend_state{backend=\"n1\",state=\"writable\"} 1\n",
                           "sqlproxy_backend_state{backend=\"n2\",state=\"offline\"} 1\n",
                           "sqlproxy_backend_state{backend=\"n2\",state=\"writable\"} 0\n",
                           "sqlproxy_backend_writer{backend=\"n1\"} 1\n",
                           "sqlproxy_backend_sessions{backend=\"n2\"} 0\n",
                           "sqlproxy_backend_probe_latency_seconds{backend=\"n1\"} 0.0015\n",
                           "sqlproxy_writer_changes_total 1\n", "sqlproxy_has_writer 1\n"}) {
    EXPECT_NE(a.body.find(line), std::string::npos) << line;
  }
}

TEST(AdminTest, StatusPageAtRoot) {
  Fixture f;
  const AdminAnswer a = handle_admin_request("GET", "/", f.deps);
  EXPECT_EQ(a.status, 200u);
  EXPECT_EQ(a.content_type, "text/html; charset=utf-8");
  EXPECT_NE(a.body.find(R"(data-writer="n1")"), std::string::npos);
  EXPECT_NE(a.body.find(R"(data-backend="n2" data-state="offline")"), std::string::npos);
  bool csp = false;
  for (const auto& [name, value] : a.headers) {
    if (name == "Content-Security-Policy") csp = value.starts_with("default-src 'none'");
  }
  EXPECT_TRUE(csp);
  EXPECT_EQ(handle_admin_request("GET", "/?refresh=1", f.deps).status, 200u);
  EXPECT_EQ(handle_admin_request("POST", "/", f.deps).status, 405u);
}

TEST(AdminTest, OperatorActions) {
  Fixture f;
  auto s = std::make_shared<FakeSession>();
  f.registry.register_session("n1", s);
  EXPECT_EQ(handle_admin_request("GET", "/fence?backend=n1", f.deps).status, 405u);
  EXPECT_EQ(handle_admin_request("POST", "/fence", f.deps).status, 400u);
  EXPECT_EQ(handle_admin_request("POST", "/fence?backend=n1", f.deps).status, 200u);
  EXPECT_EQ(s->fenced, 1);
  f.registry.readmit("n1");
  const auto before = std::chrono::steady_clock::now();
  EXPECT_EQ(handle_admin_request("POST", "/drain?backend=n1&grace=2s", f.deps).status, 200u);
  EXPECT_GE(s->deadline, before + std::chrono::seconds(2));
  EXPECT_LT(s->deadline, before + std::chrono::seconds(10));
  EXPECT_EQ(handle_admin_request("POST", "/drain?backend=n1&grace=soon", f.deps).status, 400u);
  EXPECT_EQ(handle_admin_request("POST", "/readmit?backend=n%31", f.deps).status, 200u);
  EXPECT_EQ(handle_admin_request("GET", "/nope", f.deps).status, 404u);
  EXPECT_EQ(handle_admin_request("DELETE", "/status", f.deps).status, 405u);
}

}  // namespace
}  // namespace sqlproxy::admin
