#include "sqlproxy/server/config.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sqlproxy::server {
namespace {

using Args = std::vector<std::string>;

common::Result<Config, ConfigError> parse(Args args, Args env = {}) {
  return parse_config(args, env);
}

TEST(ConfigTest, DefaultsSuitAPod) {
  auto c = parse({"--backends", "10.0.0.1:3306,db2:3307"});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->listen, (HostPort{"0.0.0.0", 3306, "0.0.0.0:3306"}));
  EXPECT_EQ(c->admin_listen.port, 8080);
  EXPECT_FALSE(c->read_only_listen);
  ASSERT_EQ(c->backends.size(), 2u);
  EXPECT_EQ(c->backends[1], (HostPort{"db2", 3307, "db2:3307"}));
  EXPECT_EQ(c->probe_interval, std::chrono::milliseconds(250));
  EXPECT_EQ(c->drain_grace, std::chrono::seconds(10));
  EXPECT_EQ(c->backend_port, 3306);
  EXPECT_FALSE(c->allow_donor);
  EXPECT_EQ(c->log_level, "info");
}

TEST(ConfigTest, EveryFlagAlsoFromTheEnvironment) {
  auto c = parse({}, {"SQLPROXY_BACKENDS=a:1", "SQLPROXY_LISTEN=127.0.0.1:0",
                      "SQLPROXY_READ_ONLY_LISTEN=127.0.0.1:3307", "SQLPROXY_DRAIN_GRACE=2s",
                      "SQLPROXY_PROBE_INTERVAL=100ms", "SQLPROXY_ALLOW_DONOR=true",
                      "SQLPROXY_MONITOR_USER=monitor", "SQLPROXY_LOG_LEVEL=debug",
                      "SQLPROXY_BACKEND_PORT=4406", "SQLPROXY_ADMIN_LISTEN=[::1]:9090"});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->listen.port, 0);
  EXPECT_EQ(c->read_only_listen->port, 3307);
  EXPECT_EQ(c->drain_grace, std::chrono::seconds(2));
  EXPECT_EQ(c->probe_interval, std::chrono::milliseconds(100));
  EXPECT_TRUE(c->allow_donor);
  EXPECT_EQ(c->monitor_user, "monitor");
  EXPECT_EQ(c->log_level, "debug");
  EXPECT_EQ(c->backend_port, 4406);
  EXPECT_EQ(c->admin_listen.host, "::1");
}

TEST(ConfigTest, PasswordFromEnvironmentIsNeverEchoed) {
  auto c = parse({"--backends", "a:1"},
                 {"SQLPROXY_MONITOR_PASSWORD=hunter2", "SQLPROXY_MONITOR_PASSWD=hunter3"});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->monitor_password, "hunter2");
  ASSERT_EQ(c->warnings.size(), 1u);  // the misspelt variable
  EXPECT_EQ(c->warnings[0].find("hunter"), std::string::npos) << c->warnings[0];
  auto both = parse({"--backends", "a:1", "--monitor-password-file", "/x"},
                    {"SQLPROXY_MONITOR_PASSWORD=hunter2"});
  ASSERT_FALSE(both);
  EXPECT_EQ(both.error().message.find("hunter"), std::string::npos);
}

TEST(ConfigTest, BadFlagsExitTwoWithAClearMessage) {
  const std::vector<std::pair<Args, std::string>> cases = {
      {{"--backends", "a:1", "--nope"}, "flag provided but not defined: -nope"},
      {{}, "give exactly one of -backends, -backends-dns or -backends-discovery"},
      {{"--backends", "a:1", "--backends-dns", "db:3306"}, "give exactly one"},
      {{"--backends", "a"}, "invalid -backends entry: \"a\": want host:port"},
      {{"--backends", "a:70000"}, "bad port"},
      {{"--backends", "a:0"}, "bad port"},
      {{"--backends", "a:1", "--listen", "nohost"}, "invalid -listen"},
      {{"--backends", "a:1", "--probe-interval", "0"}, "must be more than zero"},
      {{"--backends", "a:1", "--probe-interval", "fast"}, "-probe-interval"},
      {{"--backends", "a:1", "--drain-grace", "-1s"}, "must be zero or more"},
      {{"--backends", "a:1", "--log-level", "loud"}, "-log-level"},
      {{"--backends", "a:1", "--backend-port", "0"}, "-backend-port"},
      {{"--backends-discovery", "etcd:2379/x"}, "want http://"},
      {{"--backends", "a:1", "extra"}, "unexpected argument"},
  };
  for (const auto& [args, want] : cases) {
    auto c = parse(args);
    ASSERT_FALSE(c) << want;
    EXPECT_EQ(c.error().exit_code, 2) << want;
    EXPECT_NE(c.error().message.find(want), std::string::npos) << c.error().message;
  }
}

TEST(ConfigTest, HelpExitsZero) {
  auto c = parse({"--help"});
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().exit_code, 0);
  EXPECT_NE(c.error().help_text.find("--drain-grace"), std::string::npos);
}

TEST(ConfigTest, VersionExitsZeroWithNameAndVersion) {
  auto c = parse({"--version"});
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().exit_code, 0);
  EXPECT_TRUE(c.error().help_text.starts_with("sqlproxy "));
  EXPECT_EQ(c.error().help_text, version_text());
}

TEST(ConfigTest, HostPort) {
  EXPECT_EQ(*parse_host_port("[fe80::1]:3306"), (HostPort{"fe80::1", 3306, "[fe80::1]:3306"}));
  EXPECT_FALSE(parse_host_port("fe80::1:3306"));
  EXPECT_FALSE(parse_host_port(":3306"));
  EXPECT_FALSE(parse_host_port("h:33x"));
  EXPECT_TRUE(parse_host_port("h:0", true));
}

}  // namespace
}  // namespace sqlproxy::server
