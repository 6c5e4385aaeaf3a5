#include "discovery/server/config.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "discovery/server/member_id.h"

namespace discovery::server {
namespace {

using namespace std::chrono_literals;
using Args = std::vector<std::string>;

common::Result<Config, ConfigError> run(const Args& args, const Args& env = {}) {
  return parse_config(args, env);
}

std::vector<std::string> texts(const std::vector<Url>& urls) {
  std::vector<std::string> out;
  out.reserve(urls.size());
  for (const Url& url : urls) out.push_back(url.text);
  return out;
}

TEST(ConfigTest, NoFlagsIsEtcdsDefaultSingleMember) {
  auto c = run({}, {"PATH=/bin", "HOME=/root"});
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->name, "default");
  EXPECT_EQ(c->data_dir, "default.etcd");
  EXPECT_EQ(c->wal_dir, "");
  EXPECT_EQ(texts(c->listen_client_urls), Args{"http://localhost:2379"});
  EXPECT_EQ(texts(c->advertise_client_urls), Args{"http://localhost:2379"});
  EXPECT_EQ(texts(c->listen_peer_urls), Args{"http://localhost:2380"});
  EXPECT_EQ(texts(c->initial_advertise_peer_urls), Args{"http://localhost:2380"});
  EXPECT_TRUE(c->listen_metrics_urls.empty());
  ASSERT_EQ(c->initial_cluster.size(), 1u);
  EXPECT_EQ(c->initial_cluster[0].name, "default");
  EXPECT_EQ(texts(c->initial_cluster[0].peer_urls), Args{"http://localhost:2380"});
  EXPECT_EQ(c->initial_cluster_state, ClusterState::New);
  EXPECT_EQ(c->initial_cluster_token, "etcd-cluster");
  EXPECT_EQ(c->heartbeat_interval, 100ms);
  EXPECT_EQ(c->election_timeout, 1000ms);
  EXPECT_EQ(c->snapshot_count, 100000u);
  EXPECT_EQ(c->max_request_bytes, 1572864u);
  EXPECT_EQ(c->quota_backend_bytes, 0);
  EXPECT_FALSE(c->enable_v2);
  EXPECT_EQ(c->log_level, "info");
  EXPECT_EQ(c->logger, "capnslog");
  EXPECT_EQ(c->log_outputs, Args{"default"});
  EXPECT_EQ(c->cors, Args{"*"});
  EXPECT_TRUE(c->client_tls.empty());
  EXPECT_TRUE(c->warnings.empty());
  // The well-known IDs of a default etcd member.
  EXPECT_EQ(format_id(c->member_id()), "8e9e05c52164694d");
  EXPECT_EQ(format_id(c->cluster_id()), "cdf818194e3a8c32");
  EXPECT_TRUE(verify_bootstrap(*c).has_value());
}

TEST(ConfigTest, ThreeMemberManifestFlags) {
  const Args args = {
      "--name=m0",
      "--data-dir",
      "/var/lib/discovery",
      "--listen-client-urls",
      "http://0.0.0.0:2379",
      "--advertise-client-urls",
      "http://m0.etcd:2379",
      "--listen-peer-urls",
      "http://0.0.0.0:2380",
      "--initial-advertise-peer-urls",
      "http://127.0.0.1:58599",
      "--initial-cluster",
      "m0=http://127.0.0.1:58599,m1=http://127.0.0.1:41771,m2=http://127.0.0.1:42401",
      "--initial-cluster-token",
      "tok-xyz",
      "--initial-cluster-state",
      "new",
      "--enable-v2=true",
      "--heartbeat-interval",
      "200",
      "--election-timeout=2000",
      "-snapshot-count=0x10",
      "--debug",
  };
  auto c = run(args);
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->name, "m0");
  EXPECT_EQ(c->data_dir, "/var/lib/discovery");
  EXPECT_EQ(texts(c->listen_client_urls), Args{"http://0.0.0.0:2379"});
  EXPECT_EQ(c->listen_client_urls[0].host, "0.0.0.0");
  EXPECT_EQ(c->listen_client_urls[0].port, "2379");
  EXPECT_TRUE(c->enable_v2);
  EXPECT_EQ(c->heartbeat_interval, 200ms);
  EXPECT_EQ(c->election_timeout, 2000ms);
  EXPECT_EQ(c->snapshot_count, 16u);
  EXPECT_EQ(c->log_level, "debug");
  ASSERT_EQ(c->initial_cluster.size(), 3u);
  EXPECT_EQ(c->initial_cluster[2].name, "m2");
  // Observed on a real 3-member etcd 3.4.23 started with these cluster flags.
  EXPECT_EQ(format_id(c->member_id()), "b75c01ae5fa06b4c");
  EXPECT_EQ(format_id(c->cluster_id()), "f0e6e2a10c41d0ae");
  EXPECT_TRUE(verify_bootstrap(*c).has_value());
}

TEST(ConfigTest, EnvironmentAsEtcd) {
  auto c =
      run({"--name", "m1"}, {"ETCD_DATA_DIR=/data", "ETCD_INITIAL_CLUSTER=m1=http://127.0.0.1:2380",
                             "ETCD_INITIAL_ADVERTISE_PEER_URLS=http://127.0.0.1:2380",
                             "ETCD_ENABLE_V2=true", "ETCD_UNKNOWN_THING=1"});
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->name, "m1");
  EXPECT_EQ(c->data_dir, "/data");
  EXPECT_TRUE(c->enable_v2);
  EXPECT_EQ(c->warnings, Args{"unrecognized environment variable ETCD_UNKNOWN_THING=1"});
  EXPECT_EQ(c->env_used.size(), 4u);
  EXPECT_TRUE(verify_bootstrap(*c).has_value());
}

TEST(ConfigTest, DataDirDefaultsToNameDotEtcd) {
  auto c = run({"--name", "node7"});
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->data_dir, "node7.etcd");
  EXPECT_FALSE(verify_bootstrap(*c).has_value());
  EXPECT_EQ(verify_bootstrap(*c).error(),
            "couldn't find local name \"node7\" in the initial cluster configuration");
}

struct ErrorCase {
  Args args;
  Args env;
  ConfigError::Kind kind;
  std::string message;
};

// Messages and exit statuses as printed by etcd 3.4.23 for the same input. Usage errors exit 2;
// "error verifying flags" errors exit 1.
TEST(ConfigTest, ErrorsMatchEtcd) {
  using K = ConfigError::Kind;
  const std::vector<ErrorCase> cases = {
      {{"--foo"}, {}, K::Usage, "flag provided but not defined: -foo"},
      {{"--heartbeat-interval", "abc"},
       {},
       K::Usage,
       "invalid value \"abc\" for flag -heartbeat-interval: parse error"},
      {{"-heartbeat-interval=-5"},
       {},
       K::Usage,
       "invalid value \"-5\" for flag -heartbeat-interval: parse error"},
      {{"--enable-v2=yes"},
       {},
       K::Usage,
       "invalid boolean value \"yes\" for -enable-v2: parse error"},
      {{"--name"}, {}, K::Usage, "flag needs an argument: -name"},
      {{"---name=x"}, {}, K::Usage, "bad flag syntax: ---name=x"},
      {{"--initial-cluster-state", "foo"},
       {},
       K::Usage,
       "invalid value \"foo\" for flag -initial-cluster-state: invalid value"},
      {{"--listen-client-urls=foo"},
       {},
       K::Usage,
       "invalid value \"foo\" for flag -listen-client-urls: URL scheme must be http, https, unix, "
       "or unixs: foo"},
      {{"--listen-client-urls=http://localhost:abc"},
       {},
       K::Usage,
       "invalid value \"http://localhost:abc\" for flag -listen-client-urls: parse "
       "\"http://localhost:abc\": invalid port \":abc\" after host"},
      {{"--listen-client-urls", "http://127.0.0.1:0/path"},
       {},
       K::Usage,
       "invalid value \"http://127.0.0.1:0/path\" for flag -listen-client-urls: URL must not "
       "contain a path: http://127.0.0.1:0/path"},
      {{"--listen-client-urls", "http://127.0.0.1"},
       {},
       K::Usage,
       "invalid value \"http://127.0.0.1\" for flag -listen-client-urls: URL address does not "
       "have the form \"host:port\": http://127.0.0.1"},
      {{"--max-concurrent-streams", "-1"},
       {},
       K::Usage,
       "invalid value \"-1\" for flag -max-concurrent-streams: strconv.ParseUint: parsing "
       "\"-1\": invalid syntax"},
      {{"--snapshot-count", "99999999999999999999999"},
       {},
       K::Usage,
       "invalid value \"99999999999999999999999\" for flag -snapshot-count: value out of range"},
      {{"--heartbeat-interval", "500"},
       {},
       K::Invalid,
       "--election-timeout[1000ms] should be at least as 5 times as --heartbeat-interval[500ms]"},
      {{"--election-timeout", "50001"},
       {},
       K::Invalid,
       "--election-timeout[50001ms] is too long, and should be set less than 50000ms"},
      {{"--heartbeat-interval", "0"},
       {},
       K::Invalid,
       "--heartbeat-interval must be >0 (set to 0ms)"},
      {{"x", "--foo"}, {}, K::Invalid, "'x' is not a valid flag"},
      {{"--enable-v2", "false"}, {}, K::Invalid, "'false' is not a valid flag"},
      {{"--", "--foo"}, {}, K::Invalid, "'--foo' is not a valid flag"},
      {{"--listen-client-urls", "http://example.com:2379", "--advertise-client-urls",
        "http://example.com:2379"},
       {},
       K::Invalid,
       "expected IP in URL for binding (http://example.com:2379)"},
      {{"--advertise-client-urls", "http://:2379"},
       {},
       K::Invalid,
       "--advertise-client-urls \"http://:2379\" must be \"host:port\" (unexpected empty host "
       "(http://:2379))"},
      {{"--listen-client-urls", "http://127.0.0.1:1"},
       {},
       K::Invalid,
       "--advertise-client-urls is required when --listen-client-urls is set explicitly"},
      {{},
       {"ETCD_LISTEN_CLIENT_URLS=http://127.0.0.1:1"},
       K::Invalid,
       "--advertise-client-urls is required when --listen-client-urls is set explicitly"},
      {{"--logger", "bad"}, {}, K::Invalid, "unknown logger option \"bad\""},
      {{"--auto-compaction-mode", "bad"}, {}, K::Invalid, "unknown auto-compaction-mode \"bad\""},
      {{"--initial-cluster", "foo"},
       {},
       K::Invalid,
       "error setting up initial cluster: URL scheme must be http, https, unix, or unixs: "},
      {{"--initial-cluster", "default=foo"},
       {},
       K::Invalid,
       "error setting up initial cluster: URL scheme must be http, https, unix, or unixs: foo"},
      {{"--snapshot-count", "7"},
       {"ETCD_SNAPSHOT_COUNT=5"},
       K::Invalid,
       "conflicting environment variable \"ETCD_SNAPSHOT_COUNT\" is shadowed by corresponding "
       "command-line flag (either unset environment variable or disable flag)"},
      {{},
       {"ETCD_SNAPSHOT_COUNT=abc"},
       K::Invalid,
       "invalid value \"abc\" for ETCD_SNAPSHOT_COUNT: parse error"},
      {{},
       {"ETCD_ENABLE_V2=yes"},
       K::Invalid,
       "invalid value \"yes\" for ETCD_ENABLE_V2: parse error"},
      // Not etcd behaviour: features discovery does not have are refused clearly.
      {{"--config-file", "/etc/etcd.yaml"},
       {},
       K::Invalid,
       "--config-file (ETCD_CONFIG_FILE) is not supported; pass flags or ETCD_* environment "
       "variables instead"},
      {{},
       {"ETCD_CONFIG_FILE=/x"},
       K::Invalid,
       "--config-file (ETCD_CONFIG_FILE) is not supported; pass flags or ETCD_* environment "
       "variables instead"},
      {{"--discovery", "https://discovery.etcd.io/x"},
       {},
       K::Invalid,
       "--discovery and --discovery-srv are not supported; bootstrap with --initial-cluster"},
      {{"--proxy", "on"},
       {},
       K::Invalid,
       "--proxy=on is not supported; discovery always runs as a member"},
      {{"--log-level", "bad"},
       {},
       K::Usage,
       "invalid value \"bad\" for flag -log-level: unknown level \"bad\" (debug, info, warn, "
       "error, panic or fatal)"},
      {{"--listen-client-urls", "https://127.0.0.1:1", "--advertise-client-urls",
        "https://127.0.0.1:1"},
       {},
       K::Invalid,
       "TLS key/cert (--cert-file, --key-file) must be provided for client url "
       "https://127.0.0.1:1 with HTTPS scheme"},
  };
  for (const auto& c : cases) {
    auto got = run(c.args, c.env);
    const std::string label = c.args.empty() ? c.env[0] : c.args[0];
    ASSERT_FALSE(got.has_value()) << label;
    EXPECT_EQ(got.error().message, c.message) << label;
    EXPECT_EQ(got.error().kind, c.kind) << label;
    EXPECT_EQ(got.error().exit_code, c.kind == K::Usage ? 2 : 1) << label;
    EXPECT_TRUE(got.error().stdout_text.empty()) << label;
    EXPECT_NE(got.error().stderr_text.find(c.message), std::string::npos) << label;
  }
}

TEST(ConfigTest, ErrorOutputShapes) {
  auto usage = run({"--foo"});
  ASSERT_FALSE(usage.has_value());
  EXPECT_TRUE(usage.error().stderr_text.starts_with(
      "flag provided but not defined: -foo\nUsage:\n\n  discovery [flags]\n"));
  auto invalid = run({"x"});
  ASSERT_FALSE(invalid.has_value());
  EXPECT_EQ(invalid.error().stderr_text,
            "discovery: error verifying flags, 'x' is not a valid flag. See 'discovery --help'.\n");
}

TEST(ConfigTest, HelpAndVersionExitZero) {
  for (const Args& args : {Args{"-h"}, Args{"--help"}, Args{"-help", "--foo"}}) {
    auto got = run(args);
    ASSERT_FALSE(got.has_value());
    EXPECT_EQ(got.error().kind, ConfigError::Kind::Help);
    EXPECT_EQ(got.error().exit_code, 0);
    const std::string& help = got.error().stdout_text;
    EXPECT_NE(help.find("  --name 'default'\n"), std::string::npos);
    EXPECT_NE(help.find("  --data-dir '${name}.etcd'\n"), std::string::npos);
    EXPECT_NE(help.find("  --initial-cluster 'default=http://localhost:2380'\n"),
              std::string::npos);
    EXPECT_NE(help.find("Accept etcd V2 client requests (always on in discovery). [ignored]"),
              std::string::npos);
    EXPECT_NE(help.find("[unsupported]"), std::string::npos);
  }
  // etcd prints the version even when the environment conflicts: it is checked first.
  auto version = run({"--name", "a", "--version"}, {"ETCD_NAME=b"});
  ASSERT_FALSE(version.has_value());
  EXPECT_EQ(version.error().kind, ConfigError::Kind::Version);
  EXPECT_EQ(version.error().exit_code, 0);
  EXPECT_TRUE(version.error().stdout_text.starts_with("discovery Version: "));
  EXPECT_NE(version.error().stdout_text.find("\netcd Version: 3.4.23\n"), std::string::npos);
  // ETCD_VERSION does not print the version (etcd reads the environment after that check).
  EXPECT_TRUE(run({}, {"ETCD_VERSION=true"}).has_value());
}

TEST(ConfigTest, EmptyUrlFlagKeepsDefaultAsEtcd) {
  auto c = run({"--listen-peer-urls="});
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(texts(c->listen_peer_urls), Args{"http://localhost:2380"});
}

TEST(ConfigTest, UrlListsAreSorted) {
  auto c = run({"--advertise-client-urls", "http://b:2,HTTP://a:1"});
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(texts(c->advertise_client_urls), (Args{"http://a:1", "http://b:2"}));
}

TEST(ConfigTest, ParseUrlAcceptsEtcdForms) {
  const std::vector<std::pair<std::string, std::string>> ok = {
      {"http://127.0.0.1:2379", "127.0.0.1"},
      {" https://host.example:443 ", "host.example"},
      {"http://[::1]:2379", "::1"},
      {"unix://sock:1", "sock"},
      {"http://user@h:1", "h"},
  };
  for (const auto& [text, host] : ok) {
    auto url = parse_url(text);
    ASSERT_TRUE(url.has_value()) << text << ": " << url.error();
    EXPECT_EQ(url->host, host);
  }
  for (const std::string bad : {"", "foo", "ftp://h:1", "http://h", "http://h:1/", "http://::1:2",
                                "http:h:1", ":foo", "http://h\x01:1"}) {
    EXPECT_FALSE(parse_url(bad).has_value()) << bad;
  }
}

TEST(ConfigTest, VerifyBootstrapAsEtcd) {
  auto mismatch = run({"--initial-cluster", "default=http://127.0.0.1:1"});
  ASSERT_TRUE(mismatch.has_value());
  EXPECT_EQ(verify_bootstrap(*mismatch).error(),
            "--initial-cluster has default=http://127.0.0.1:1 but missing from "
            "--initial-advertise-peer-urls=http://localhost:2380");
  auto duplicate =
      run({"--initial-cluster", "default=http://localhost:2380,other=http://localhost:2380"});
  ASSERT_TRUE(duplicate.has_value());
  EXPECT_EQ(verify_bootstrap(*duplicate).error(),
            "initial cluster default=http://localhost:2380,other=http://localhost:2380 has "
            "duplicate url");
  // A joining member is not compared with its advertised URLs.
  auto existing = run(
      {"--initial-cluster", "default=http://127.0.0.1:1", "--initial-cluster-state", "existing"});
  ASSERT_TRUE(existing.has_value());
  EXPECT_TRUE(verify_bootstrap(*existing).has_value());
}

TEST(ConfigTest, IgnoredAndLegacyFlagsAreAccepted) {
  auto c = run({"--max-txn-ops", "256", "--auto-compaction-retention", "1", "--metrics",
                "extensive", "--grpc-keepalive-min-time", "10s", "--enable-pprof",
                "--experimental-initial-corrupt-check=true", "--unsafe-no-fsync", "-v",
                "--cipher-suites", "TLS_AES_128_GCM_SHA256"});
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->warnings, Args{"flag \"-v\" is no longer supported - ignoring."});
}

}  // namespace
}  // namespace discovery::server
