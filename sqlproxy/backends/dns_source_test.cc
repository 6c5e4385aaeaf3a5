#include "sqlproxy/backends/dns_source.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

namespace sqlproxy::backends {
namespace {

TEST(DnsSource, ResolvesLocalhostAndDeliversOnlyChanges) {
  boost::asio::io_context io;
  std::vector<std::vector<BackendSpec>> delivered;
  DnsSource source(io.get_executor(), {"localhost", 3307, std::chrono::milliseconds(1)},
                   [&](std::vector<BackendSpec> backends) { delivered.push_back(backends); });
  source.start();
  // Several resolution rounds of the same answer give one delivery.
  for (int i = 0; i < 200 && io.run_one_for(std::chrono::seconds(5)) > 0; ++i) {
  }
  source.stop();
  io.run_for(std::chrono::seconds(5));
  ASSERT_EQ(delivered.size(), 1u);
  bool has_loopback = false;
  for (const auto& b : delivered[0]) has_loopback = has_loopback || b.name() == "127.0.0.1:3307";
  EXPECT_TRUE(has_loopback);
}

}  // namespace
}  // namespace sqlproxy::backends
