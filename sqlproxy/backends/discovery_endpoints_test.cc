#include "sqlproxy/backends/discovery_endpoints.h"

#include <gtest/gtest.h>

namespace sqlproxy::backends {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> urls(const DiscoveryUrl& url) {
  std::vector<std::string> out;
  for (const auto& e : url.endpoints) out.push_back(e.url());
  return out;
}

TEST(ParseDiscoveryUrl, SingleUrlAsBefore) {
  auto url = parse_discovery_url("http://etcd:2379/pxc-cluster/percona/");
  ASSERT_TRUE(url.has_value()) << url.error();
  ASSERT_EQ(url->endpoints.size(), 1u);
  EXPECT_EQ(url->endpoints[0].host, "etcd");
  EXPECT_EQ(url->endpoints[0].port, 2379);
  EXPECT_EQ(url->dir, "/pxc-cluster/percona");
  EXPECT_EQ(parse_discovery_url("http://10.1.2.3/pxc-cluster/x")->endpoints[0].port, 2379);
  EXPECT_EQ(urls(*parse_discovery_url("http://[fd00::1]:2379/pxc-cluster/x")),
            std::vector<std::string>{"http://[fd00::1]:2379"});
}

TEST(ParseDiscoveryUrl, ListWithThePathOnceOrOnEveryUrl) {
  using Urls = std::vector<std::string>;
  const Urls three{"http://127.0.0.1:2379", "http://127.0.0.1:22379", "http://127.0.0.1:32379"};
  for (const char* text :
       {"http://127.0.0.1:2379,http://127.0.0.1:22379,http://127.0.0.1:32379/pxc-cluster/hawp",
        "http://127.0.0.1:2379/pxc-cluster/hawp,http://127.0.0.1:22379/pxc-cluster/hawp,"
        "http://127.0.0.1:32379/pxc-cluster/hawp/",
        "http://127.0.0.1:2379/,http://127.0.0.1:22379,http://127.0.0.1:32379/pxc-cluster/hawp"}) {
    auto url = parse_discovery_url(text);
    ASSERT_TRUE(url.has_value()) << text << ": " << url.error();
    EXPECT_EQ(urls(*url), three) << text;
    EXPECT_EQ(url->dir, "/pxc-cluster/hawp") << text;
  }
  // Kubernetes names, default port.
  auto url = parse_discovery_url(
      "http://discovery-0.discovery,http://discovery-1.discovery/pxc-cluster/percona");
  ASSERT_TRUE(url.has_value()) << url.error();
  EXPECT_EQ(urls(*url),
            (Urls{"http://discovery-0.discovery:2379", "http://discovery-1.discovery:2379"}));
}

TEST(ParseDiscoveryUrl, ErrorsSayWhy) {
  const auto error_of = [](const char* text) {
    auto url = parse_discovery_url(text);
    EXPECT_FALSE(url.has_value()) << text;
    return url ? std::string() : url.error();
  };
  EXPECT_EQ(error_of("http://a:2379/pxc-cluster/one,http://b:2379/pxc-cluster/two"),
            "\"http://a:2379/pxc-cluster/one\" and \"http://b:2379/pxc-cluster/two\" name "
            "different cluster paths; every endpoint must serve the same one");
  EXPECT_EQ(error_of("http://a:2379,http://a:2379/pxc-cluster/x"),
            "\"http://a:2379/pxc-cluster/x\": endpoint given twice");
  EXPECT_EQ(error_of("http://a:2379,,http://b:2379/pxc-cluster/x"), "empty URL in the list");
  EXPECT_EQ(error_of("http://a:2379,https://b:2379/pxc-cluster/x"),
            "\"https://b:2379/pxc-cluster/x\": want http://host:port (plain http only)");
  EXPECT_TRUE(error_of("http://a:2379,http://b:2379").starts_with("no cluster path"));
  for (const char* bad :
       {"https://etcd:2379/pxc-cluster/x", "http://etcd:2379", "http://etcd:2379/",
        "http://etcd:2379/a?b", "etcd:2379/pxc-cluster/x", "http://etcd:0/x", "http://:2379/x",
        "http://a:2379/x,", ",http://a:2379/x", "http://a:2379//"}) {
    error_of(bad);
  }
}

TEST(EndpointRotation, MovesOnAtOnceAndWaitsOnlyAfterAFullRound) {
  EndpointRotation r(3, 100ms, 350ms);
  EXPECT_EQ(r.current(), 0u);
  struct Want {
    std::size_t from, to;
    std::chrono::milliseconds delay;
    bool first_round;
  };
  const Want wants[] = {
      {0, 1, 0ms, true},  {1, 2, 0ms, true},  {2, 0, 100ms, true},   // round 1
      {0, 1, 0ms, false}, {1, 2, 0ms, false}, {2, 0, 200ms, false},  // round 2: doubled
      {0, 1, 0ms, false}, {1, 2, 0ms, false}, {2, 0, 350ms, false},  // capped
      {0, 1, 0ms, false}, {1, 2, 0ms, false}, {2, 0, 350ms, false},
  };
  for (const Want& want : wants) {
    const auto step = r.on_failure();
    EXPECT_EQ(step.from, want.from);
    EXPECT_EQ(step.to, want.to);
    EXPECT_EQ(step.delay, want.delay) << "failure " << r.failures();
    EXPECT_EQ(step.first_round, want.first_round) << "failure " << r.failures();
    EXPECT_EQ(r.current(), want.to);
  }
}

TEST(EndpointRotation, SuccessKeepsTheEndpointAndResetsTheStreak) {
  EndpointRotation r(3, 100ms, 1000ms);
  r.on_failure();  // 0 failed: ask 1
  EXPECT_TRUE(r.on_success());
  EXPECT_EQ(r.current(), 1u);  // no failing back to 0
  EXPECT_FALSE(r.on_success());
  // A new streak starts from the endpoint in use, with a full round before any wait.
  auto step = r.on_failure();
  EXPECT_EQ(step.from, 1u);
  EXPECT_EQ(step.to, 2u);
  EXPECT_TRUE(step.first_round);
  EXPECT_EQ(r.on_failure().delay, 0ms);
  EXPECT_EQ(r.on_failure().delay, 100ms);  // 1, 2, 0 failed
  EXPECT_EQ(r.on_failure().delay, 0ms);
  EXPECT_EQ(r.on_failure().delay, 0ms);
  EXPECT_EQ(r.on_failure().delay, 200ms);
  r.on_success();
  r.on_failure();
  r.on_failure();
  EXPECT_EQ(r.on_failure().delay, 100ms);  // backoff starts over after a success
}

TEST(EndpointRotation, OneEndpointWaitsAfterEveryFailure) {
  EndpointRotation r(1, 1000ms, 8000ms);
  std::vector<std::chrono::milliseconds> delays;
  std::vector<bool> logged;
  for (int i = 0; i < 6; ++i) {
    const auto step = r.on_failure();
    EXPECT_EQ(step.to, 0u);
    delays.push_back(step.delay);
    logged.push_back(step.first_round);
  }
  EXPECT_EQ(delays, (std::vector<std::chrono::milliseconds>{1000ms, 2000ms, 4000ms, 8000ms, 8000ms,
                                                            8000ms}));
  EXPECT_EQ(logged, (std::vector<bool>{true, false, false, false, false, false}));
}

}  // namespace
}  // namespace sqlproxy::backends
