#include "common/metrics.h"

#include <gtest/gtest.h>

#include <limits>
#include <thread>
#include <vector>

namespace common::metrics {
namespace {

TEST(MetricsTest, FormatValueIsGoShortestG) {
  // Expected strings are Go's strconv.FormatFloat(v, 'g', -1, 64).
  const std::vector<std::pair<double, std::string>> cases = {
      {0, "0"},
      {1, "1"},
      {20480, "20480"},
      {999999, "999999"},
      {1e6, "1e+06"},
      {1234567, "1.234567e+06"},
      {0.005, "0.005"},
      {0.0001, "0.0001"},
      {0.00001, "1e-05"},
      {0.1 + 0.2, "0.30000000000000004"},
      {-2.5, "-2.5"},
      {1.5e300, "1.5e+300"},
      {std::numeric_limits<double>::infinity(), "+Inf"},
      {-std::numeric_limits<double>::infinity(), "-Inf"},
      {std::numeric_limits<double>::quiet_NaN(), "NaN"},
  };
  for (const auto& [v, want] : cases) EXPECT_EQ(format_value(v), want) << want;
}

TEST(MetricsTest, RendersStableExposition) {
  Registry registry;
  // Registered out of order: families come out sorted by name, series by label text.
  registry.gauge("etcd_server_has_leader", "Whether or not a leader exists. 1 is existence.")
      .set(1);
  Counter& b = registry.counter("discovery_http_requests_total", "HTTP requests by method.",
                                {{"method", "PUT"}});
  Counter& a = registry.counter("discovery_http_requests_total", "HTTP requests by method.",
                                {{"method", "GET"}});
  a.inc();
  a.inc(2);
  b.inc();
  EXPECT_EQ(&a, &registry.counter("discovery_http_requests_total", "HTTP requests by method.",
                                  {{"method", "GET"}}));
  Histogram& h =
      registry.histogram("discovery_apply_duration_seconds", "Apply latency.\nSecond line \\ end.",
                         {0.001, 0.01, 0.1}, {{"member", "a\"b"}});
  h.observe(0.001);  // on a bound: counted in that bucket (le is inclusive)
  h.observe(0.05);
  h.observe(3);
  registry.gauge_callback("discovery_store_keys", "Keys in the store.", [] { return 42.0; });

  EXPECT_EQ(registry.render(),
            "# HELP discovery_apply_duration_seconds Apply latency.\\nSecond line \\\\ end.\n"
            "# TYPE discovery_apply_duration_seconds histogram\n"
            "discovery_apply_duration_seconds_bucket{member=\"a\\\"b\",le=\"0.001\"} 1\n"
            "discovery_apply_duration_seconds_bucket{member=\"a\\\"b\",le=\"0.01\"} 1\n"
            "discovery_apply_duration_seconds_bucket{member=\"a\\\"b\",le=\"0.1\"} 2\n"
            "discovery_apply_duration_seconds_bucket{member=\"a\\\"b\",le=\"+Inf\"} 3\n"
            "discovery_apply_duration_seconds_sum{member=\"a\\\"b\"} 3.051\n"
            "discovery_apply_duration_seconds_count{member=\"a\\\"b\"} 3\n"
            "# HELP discovery_http_requests_total HTTP requests by method.\n"
            "# TYPE discovery_http_requests_total counter\n"
            "discovery_http_requests_total{method=\"GET\"} 3\n"
            "discovery_http_requests_total{method=\"PUT\"} 1\n"
            "# HELP discovery_store_keys Keys in the store.\n"
            "# TYPE discovery_store_keys gauge\n"
            "discovery_store_keys 42\n"
            "# HELP etcd_server_has_leader Whether or not a leader exists. 1 is existence.\n"
            "# TYPE etcd_server_has_leader gauge\n"
            "etcd_server_has_leader 1\n");
}

TEST(MetricsTest, EmptyRegistryRendersNothing) {
  Registry registry;
  EXPECT_EQ(registry.render(), "");
}

TEST(MetricsTest, GaugeMovesBothWays) {
  Registry registry;
  Gauge& g = registry.gauge("g", "A gauge.");
  g.inc();
  g.inc();
  g.dec();
  g.add(0.5);
  EXPECT_EQ(registry.render(), "# HELP g A gauge.\n# TYPE g gauge\ng 1.5\n");
}

TEST(MetricsTest, ExponentialBuckets) {
  EXPECT_EQ(exponential_buckets(0.001, 2, 4), (std::vector<double>{0.001, 0.002, 0.004, 0.008}));
}

// Updates from many threads are all counted; the totals are exact once the threads are joined.
TEST(MetricsTest, ConcurrentUpdatesAreAllCounted) {
  Registry registry;
  Counter& c = registry.counter("c_total", "c");
  Gauge& g = registry.gauge("g", "g");
  Histogram& h = registry.histogram("h", "h", {1, 2});
  constexpr std::uint64_t kThreads = 4;
  constexpr std::uint64_t kPerThread = 10000;
  constexpr std::uint64_t kTotal = kThreads * kPerThread;
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (std::uint64_t t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (std::uint64_t i = 0; i < kPerThread; ++i) {
        c.inc();
        g.inc();
        h.observe(1.5);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), kTotal);
  EXPECT_EQ(g.value(), static_cast<double>(kTotal));
  EXPECT_EQ(h.bucket_counts(), (std::vector<std::uint64_t>{0, kTotal, 0}));
  EXPECT_EQ(h.sum(), 1.5 * static_cast<double>(kTotal));
}

TEST(MetricsDeathTest, MisuseIsABrokenInvariant) {
  Registry registry;
  registry.counter("x_total", "x");
  EXPECT_DEATH(registry.gauge("x_total", "x"), "two types");
  EXPECT_DEATH(registry.counter("bad name", "x"), "invalid metric name");
  EXPECT_DEATH(Histogram({2, 1}), "must increase");
}

}  // namespace
}  // namespace common::metrics
