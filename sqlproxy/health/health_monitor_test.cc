#include "sqlproxy/health/health_monitor.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <thread>

namespace sqlproxy::health {
namespace {

using namespace std::chrono_literals;

// A port on 127.0.0.1 where nothing listens (the kernel picked it free, then it was closed).
std::uint16_t closed_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return acceptor.local_endpoint().port();
}

MonitorConfig fast_config() {
  MonitorConfig config;
  config.user = "monitor";
  config.password = "secret";
  config.probe_interval = 10ms;
  return config;
}

// Polls view() until pred holds or 20 s pass.
template <class Pred>
std::shared_ptr<const ClusterView> wait_view(const HealthMonitor& monitor, Pred pred) {
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  auto view = monitor.view();
  while (!pred(*view) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
    view = monitor.view();
  }
  return view;
}

TEST(HealthMonitor, UnreachableBackendIsOfflineWithTheClientError) {
  common::RealClock clock;
  std::atomic<int> notified{0};
  HealthMonitor monitor(fast_config(), clock,
                        [&](const std::shared_ptr<const ClusterView>&) { ++notified; });
  EXPECT_TRUE(monitor.view()->backends.empty());
  const BackendSpec backend{"127.0.0.1", closed_port(), 1};
  monitor.add_backend(backend);
  ASSERT_EQ(monitor.view()->backends.size(), 1u);
  EXPECT_EQ(monitor.view()->backends[0].health.reason, "no probe yet");
  const auto view = wait_view(
      monitor, [](const ClusterView& v) { return v.backends[0].consecutive_failures >= 3; });
  const BackendStatus& status = view->backends[0];
  EXPECT_EQ(status.name, backend.name());
  EXPECT_EQ(status.health.state, State::Offline);
  EXPECT_TRUE(status.health.reason.starts_with("probe failed: connect: ")) << status.health.reason;
  ASSERT_TRUE(status.probe_error.has_value());
  EXPECT_EQ(status.probe_error->find("secret"), std::string::npos);  // secrets never leak
  EXPECT_GE(status.probes, 3u);
  EXPECT_GE(notified.load(), 2);  // the backend set changed, then its first sample
}

TEST(HealthMonitor, BackendsComeAndGo) {
  common::RealClock clock;
  HealthMonitor monitor(fast_config(), clock);
  const BackendSpec a{"127.0.0.1", closed_port(), 1};
  const BackendSpec b{"127.0.0.1", closed_port(), 2};
  monitor.set_backends({b, a, a});
  auto view = monitor.view();
  ASSERT_EQ(view->backends.size(), 2u);
  EXPECT_LT(view->backends[0].name, view->backends[1].name);  // sorted by name
  wait_view(monitor, [](const ClusterView& v) {
    return v.backends.size() == 2 && v.backends[0].probes > 0 && v.backends[1].probes > 0;
  });
  monitor.set_backends({BackendSpec{b.host, b.port, 7}});
  view = monitor.view();
  ASSERT_EQ(view->backends.size(), 1u);
  EXPECT_EQ(view->backends[0].name, b.name());
  EXPECT_EQ(view->backends[0].weight, 7);
  const auto version = view->version;
  monitor.remove_backend(b.name());
  monitor.remove_backend("unknown:1");
  EXPECT_TRUE(monitor.view()->backends.empty());
  EXPECT_GT(monitor.view()->version, version);
}

}  // namespace
}  // namespace sqlproxy::health
