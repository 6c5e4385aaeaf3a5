#include "discovery/server/config_flags.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "common/go_text.h"
#include "discovery/server/config.h"

namespace discovery::server::detail {

using common::flags::FlagSpec;
using common::flags::FlagType;
using common::flags::Value;

namespace {

std::optional<std::string> check_urls(std::string_view text, const Value&) {
  // etcd's URL flags accept an empty value and keep their default (flags.UniqueURLs exception "").
  auto urls = parse_url_list(text);
  if (!urls) return urls.error();
  return std::nullopt;
}

std::optional<std::string> check_cors(std::string_view text, const Value& value) {
  if (text == "*") return std::nullopt;
  return check_urls(text, value);
}

template <std::size_t N>
std::optional<std::string> one_of(std::string_view text,
                                  const std::array<std::string_view, N>& ok) {
  if (std::find(ok.begin(), ok.end(), text) != ok.end()) return std::nullopt;
  return std::string("invalid value");  // flags.SelectiveStringValue's text
}

std::optional<std::string> check_cluster_state(std::string_view text, const Value&) {
  return one_of<2>(text, {"new", "existing"});
}
std::optional<std::string> check_fallback(std::string_view text, const Value&) {
  return one_of<2>(text, {"exit", "proxy"});
}
std::optional<std::string> check_proxy(std::string_view text, const Value&) {
  return one_of<3>(text, {"off", "readonly", "on"});
}
std::optional<std::string> check_log_level(std::string_view text, const Value&) {
  // etcd 3.4.23 panics with exit status 2 on an unknown level; a usage error gives the same status
  // with a readable message.
  if (!one_of<6>(text, {"debug", "info", "warn", "error", "panic", "fatal"})) return std::nullopt;
  return fmt::format("unknown level {} (debug, info, warn, error, panic or fatal)",
                     common::go_quote(text));
}
std::optional<std::string> check_uint32(std::string_view text, const Value&) {
  // etcd parses --max-concurrent-streams with strconv.ParseUint(s, 10, 32) and prints Go's error.
  const bool digits = !text.empty() && std::all_of(text.begin(), text.end(),
                                                   [](char c) { return c >= '0' && c <= '9'; });
  const auto quoted = common::go_quote(text);
  if (!digits) return fmt::format("strconv.ParseUint: parsing {}: invalid syntax", quoted);
  if (text.size() > 10 || std::stoull(std::string(text)) > 0xffffffffULL) {
    return fmt::format("strconv.ParseUint: parsing {}: value out of range", quoted);
  }
  return std::nullopt;
}

constexpr FlagType S = FlagType::String;
constexpr FlagType B = FlagType::Bool;
constexpr FlagType U = FlagType::Uint;
constexpr FlagType I = FlagType::Int;
constexpr FlagType D = FlagType::Duration;
constexpr FlagType L = FlagType::StringList;
constexpr FlagType X = FlagType::Ignored;

}  // namespace

// etcd 3.4.23's flag set, with its defaults and types, as `etcd --help` and the flag errors show
// them. Constant-initialized, so it is usable at any time.
using enum Group;
using enum Use;
// One row per flag reads better than clang-format's one field per line.
// clang-format off
constexpr ConfigFlag kConfigFlags[] = {
    {{"name", S, "default", "Human-readable name for this member."}, kMember, kUsed, {}},
    {{"data-dir", S, "", "Path to the data directory."}, kMember, kUsed, "${name}.etcd"},
    {{"wal-dir", S, "", "Path to the dedicated wal directory."}, kMember, kUsed, {}},
    {{"snapshot-count", U, "100000", "Number of committed transactions to trigger a snapshot."},
     kMember, kUsed, {}},
    {{"heartbeat-interval", U, "100", "Time (in milliseconds) of a heartbeat interval."},
     kMember, kUsed, {}},
    {{"election-timeout", U, "1000", "Time (in milliseconds) for an election to timeout."},
     kMember, kUsed, {}},
    {{"initial-election-tick-advance", B, "true",
      "Whether to fast-forward initial election ticks on boot for faster election."},
     kMember, kUsed, {}},
    {{"listen-peer-urls", L, "http://localhost:2380",
      "List of URLs to listen on for peer traffic.", &check_urls},
     kMember, kUsed, {}},
    {{"listen-client-urls", L, "http://localhost:2379",
      "List of URLs to listen on for client traffic.", &check_urls},
     kMember, kUsed, {}},
    {{"max-snapshots", U, "5", "Maximum number of snapshot files to retain."}, kMember, Ignored,
     {}},
    {{"max-wals", U, "5", "Maximum number of wal files to retain."}, kMember, Ignored, {}},
    {{"quota-backend-bytes", I, "0",
      "Raise alarms when backend size exceeds the given quota (0 defaults to low space quota)."},
     kMember, kUsed, {}},
    {{"backend-batch-interval", D, "0", "Maximum time before committing a backend transaction."},
     kMember, Ignored, "''"},
    {{"backend-batch-limit", I, "0", "Maximum operations before committing a backend transaction."},
     kMember, Ignored, {}},
    {{"max-txn-ops", U, "128", "Maximum number of operations permitted in a transaction."},
     kMember, Ignored, {}},
    {{"max-request-bytes", U, "1572864",
      "Maximum client request size in bytes the server will accept."},
     kMember, kUsed, {}},
    {{"max-concurrent-streams", S, "4294967295",
      "Maximum concurrent streams that each client can open at a time.", &check_uint32},
     kMember, Ignored, {}},
    {{"grpc-keepalive-min-time", D, "5s", "Minimum interval a client should wait before pinging."},
     kMember, Ignored, {}},
    {{"grpc-keepalive-interval", D, "2h", "Frequency of server-to-client pings."}, kMember,
     Ignored, {}},
    {{"grpc-keepalive-timeout", D, "20s", "Wait before closing a non-responsive connection."},
     kMember, Ignored, {}},

    {{"initial-advertise-peer-urls", L, "http://localhost:2380",
      "List of this member's peer URLs to advertise to the rest of the cluster.", &check_urls},
     kClustering, kUsed, {}},
    {{"initial-cluster", S, "default=http://localhost:2380",
      "Initial cluster configuration for bootstrapping (name=peerURL,...)."},
     kClustering, kUsed, {}},
    {{"initial-cluster-state", S, "new", "Initial cluster state ('new' or 'existing').",
      &check_cluster_state},
     kClustering, kUsed, {}},
    {{"initial-cluster-token", S, "etcd-cluster",
      "Initial cluster token for the cluster during bootstrap."},
     kClustering, kUsed, {}},
    {{"advertise-client-urls", L, "http://localhost:2379",
      "List of this member's client URLs to advertise to the public.", &check_urls},
     kClustering, kUsed, {}},
    {{"discovery", S, "", "Discovery URL used to bootstrap the cluster."}, kClustering,
     kUnsupported, {}},
    {{"discovery-fallback", S, "proxy", "Behaviour ('exit' or 'proxy') when discovery fails.",
      &check_fallback},
     kClustering, Ignored, {}},
    {{"discovery-proxy", S, "", "HTTP proxy to use for traffic to discovery service."},
     kClustering, Ignored, {}},
    {{"discovery-srv", S, "", "DNS srv domain used to bootstrap the cluster."}, kClustering,
     kUnsupported, {}},
    {{"discovery-srv-name", S, "", "Suffix to the dns srv name queried when bootstrapping."},
     kClustering, Ignored, {}},
    {{"strict-reconfig-check", B, "true",
      "Reject reconfiguration requests that would cause quorum loss."},
     kClustering, kUsed, {}},
    {{"pre-vote", B, "false", "Enable to run an additional Raft election phase."}, kClustering,
     kUsed, {}},
    {{"auto-compaction-retention", S, "0", "Auto compaction retention (v3 only)."}, kClustering,
     Ignored, {}},
    {{"auto-compaction-mode", S, "periodic", "'periodic' or 'revision' (v3 only)."},
     kClustering, Ignored, {}},
    {{"enable-v2", B, "false", "Accept etcd V2 client requests (always on in discovery)."},
     kClustering, Ignored, {}},

    {{"cert-file", S, "", "Path to the client server TLS cert file."}, kSecurity, kUsed, {}},
    {{"key-file", S, "", "Path to the client server TLS key file."}, kSecurity, kUsed, {}},
    {{"client-cert-auth", B, "false", "Enable client cert authentication."}, kSecurity, kUsed,
     {}},
    {{"client-crl-file", S, "", "Path to the client certificate revocation list file."},
     kSecurity, kUsed, {}},
    {{"client-cert-allowed-hostname", S, "",
      "Allowed TLS hostname for client cert authentication."},
     kSecurity, kUsed, {}},
    {{"trusted-ca-file", S, "", "Path to the client server TLS trusted CA cert file."},
     kSecurity, kUsed, {}},
    {{"auto-tls", B, "false", "Client TLS using generated certificates."}, kSecurity, kUsed, {}},
    {{"peer-cert-file", S, "", "Path to the peer server TLS cert file."}, kSecurity, kUsed, {}},
    {{"peer-key-file", S, "", "Path to the peer server TLS key file."}, kSecurity, kUsed, {}},
    {{"peer-client-cert-auth", B, "false", "Enable peer client cert authentication."},
     kSecurity, kUsed, {}},
    {{"peer-trusted-ca-file", S, "", "Path to the peer server TLS trusted CA file."}, kSecurity,
     kUsed, {}},
    {{"peer-cert-allowed-cn", S, "", "Required CN for client certs connecting to the peer."},
     kSecurity, kUsed, {}},
    {{"peer-cert-allowed-hostname", S, "", "Allowed TLS hostname for inter peer authentication."},
     kSecurity, kUsed, {}},
    {{"peer-auto-tls", B, "false", "Peer TLS using self-generated certificates."}, kSecurity,
     kUsed, {}},
    {{"peer-crl-file", S, "", "Path to the peer certificate revocation list file."}, kSecurity,
     kUsed, {}},
    {{"cipher-suites", L, "", "Comma-separated list of supported TLS cipher suites."},
     kSecurity, Ignored, {}},
    {{"cors", L, "*", "Comma-separated whitelist of origins for CORS (empty or * allows all).",
      &check_cors},
     kSecurity, kUsed, {}},
    {{"host-whitelist", L, "*", "Acceptable hostnames from HTTP client requests (* allows all)."},
     kSecurity, kUsed, {}},
    {{"experimental-peer-skip-client-san-verification", B, "false",
      "Skip verification of SAN field in client certificate for peer connections."},
     kSecurity, Ignored, {}},

    {{"auth-token", S, "simple", "v3 authentication token type."}, kAuth, Ignored, {}},
    {{"bcrypt-cost", U, "10", "bcrypt cost for v3 auth passwords."}, kAuth, Ignored, {}},
    {{"auth-token-ttl", U, "300", "Time (in seconds) of the v3 auth-token-ttl."}, kAuth,
     Ignored, {}},

    {{"enable-pprof", B, "false", "Enable Go runtime profiling."}, kMonitoring, Ignored, {}},
    {{"metrics", S, "basic", "Level of detail for exported metrics."}, kMonitoring, Ignored,
     {}},
    {{"listen-metrics-urls", L, "", "List of URLs to listen on for /metrics and /health.",
      &check_urls},
     kMonitoring, kUsed, {}},
    {{"enable-grpc-gateway", B, "true", "Enable the v3 gRPC gateway."}, kMonitoring, Ignored,
     {}},

    {{"logger", S, "capnslog", "'zap' or 'capnslog' (both give the same output here)."},
     kLogging, kUsed, {}},
    {{"log-outputs", L, "default", "'default', 'stderr', 'stdout' or file paths."}, kLogging,
     kUsed, {}},
    {{"log-output", L, "default", "Deprecated form of --log-outputs."}, kLogging, Ignored, {}},
    {{"log-level", S, "info", "debug, info, warn, error, panic, or fatal.", &check_log_level},
     kLogging, kUsed, {}},
    {{"debug", B, "false", "Enable debug-level logging (same as --log-level=debug)."},
     kLogging, kUsed, {}},
    {{"log-package-levels", S, "", "Per-package log levels (capnslog only)."}, kLogging,
     Ignored, {}},

    {{"proxy", S, "off", "v2 proxy mode ('off', 'readonly' or 'on').", &check_proxy}, kProxy,
     kUnsupported, {}},
    {{"proxy-failure-wait", U, "5000", "Time (ms) an endpoint is held in a failed state."},
     kProxy, Ignored, {}},
    {{"proxy-refresh-interval", U, "30000", "Time (ms) of the endpoints refresh interval."},
     kProxy, Ignored, {}},
    {{"proxy-dial-timeout", U, "1000", "Time (ms) for a dial to timeout."}, kProxy, Ignored,
     {}},
    {{"proxy-write-timeout", U, "5000", "Time (ms) for a write to timeout."}, kProxy, Ignored,
     {}},
    {{"proxy-read-timeout", U, "0", "Time (ms) for a read to timeout."}, kProxy, Ignored, {}},

    {{"experimental-initial-corrupt-check", B, "false", "v3 data corruption check on boot."},
     kExperimental, Ignored, {}},
    {{"experimental-corrupt-check-time", D, "0s", "Time between corruption check passes."},
     kExperimental, Ignored, {}},
    {{"experimental-enable-v2v3", S, "", "Serve v2 through v3 under a prefix."}, kExperimental,
     Ignored, {}},
    {{"experimental-backend-bbolt-freelist-type", S, "array", "bbolt freelist type."},
     kExperimental, Ignored, {}},
    {{"experimental-enable-lease-checkpoint", B, "false", "v3 lease checkpoints."},
     kExperimental, Ignored, {}},
    {{"experimental-enable-lease-checkpoint-persist", B, "false", "Persist lease checkpoints."},
     kExperimental, Ignored, {}},
    {{"experimental-compaction-batch-limit", I, "1000", "v3 compaction batch limit."},
     kExperimental, Ignored, {}},
    {{"experimental-watch-progress-notify-interval", D, "10m", "v3 watch progress interval."},
     kExperimental, Ignored, {}},
    {{"experimental-warning-apply-duration", D, "100ms", "Slow apply warning threshold."},
     kExperimental, Ignored, {}},

    {{"unsafe-no-fsync", B, "false", "Disables fsync (discovery always syncs)."}, kUnsafe,
     Ignored, {}},
    {{"force-new-cluster", B, "false", "Force to create a new one-member cluster."}, kUnsafe,
     kUnsupported, {}},

    {{"version", B, "false", "Print the version and exit."}, kMember, kUsed, {}},
    {{"config-file", S, "", "Path to a configuration file (not supported: use flags)."},
     kMember, kUnsupported, {}},

    // Flags of etcd 2 that etcd 3.4 still accepts with a warning.
    {{"cluster-active-size", X, "", ""}, kLegacy, Ignored, {}},
    {{"cluster-remove-delay", X, "", ""}, kLegacy, Ignored, {}},
    {{"cluster-sync-interval", X, "", ""}, kLegacy, Ignored, {}},
    {{"config", X, "", ""}, kLegacy, Ignored, {}},
    {{"force", X, "", ""}, kLegacy, Ignored, {}},
    {{"max-result-buffer", X, "", ""}, kLegacy, Ignored, {}},
    {{"max-retry-attempts", X, "", ""}, kLegacy, Ignored, {}},
    {{"peer-heartbeat-interval", X, "", ""}, kLegacy, Ignored, {}},
    {{"peer-election-timeout", X, "", ""}, kLegacy, Ignored, {}},
    {{"retry-interval", X, "", ""}, kLegacy, Ignored, {}},
    {{"snapshot", X, "", ""}, kLegacy, Ignored, {}},
    {{"v", X, "", ""}, kLegacy, Ignored, {}},
    {{"vv", X, "", ""}, kLegacy, Ignored, {}},
};
// clang-format on

std::span<const ConfigFlag> config_flags() { return kConfigFlags; }

const std::vector<FlagSpec>& flag_specs() {
  static const std::vector<FlagSpec> kSpecs = [] {
    std::vector<FlagSpec> specs;
    for (const ConfigFlag& flag : config_flags()) specs.push_back(flag.spec);
    return specs;
  }();
  return kSpecs;
}

namespace {

std::string_view group_title(Group group) {
  switch (group) {
    case Group::kMember:
      return "Member";
    case Group::kClustering:
      return "Clustering";
    case Group::kSecurity:
      return "Security";
    case Group::kAuth:
      return "Auth (etcd v3 only)";
    case Group::kMonitoring:
      return "Profiling and Monitoring";
    case Group::kLogging:
      return "Logging";
    case Group::kProxy:
      return "v2 Proxy";
    case Group::kExperimental:
      return "Experimental (etcd v3 only)";
    case Group::kUnsafe:
      return "Unsafe";
    case Group::kLegacy:
      return "Legacy";
  }
  return "";
}

constexpr std::string_view kUsageHeader =
    "Usage:\n"
    "\n"
    "  discovery [flags]\n"
    "    Start a discovery member: an etcd v2 API server on Raft.\n"
    "\n"
    "  discovery --version\n"
    "    Show the version of discovery.\n"
    "\n"
    "  discovery -h | --help\n"
    "    Show the help information about discovery.\n";

constexpr std::string_view kUsageFooter =
    "\n"
    "Flags have etcd 3.4's names, meanings and defaults. Those marked [ignored] are accepted so\n"
    "that etcd manifests run unchanged, and have no effect; those marked [unsupported] are an\n"
    "error unless left at their default.\n"
    "Every flag may also be set by an environment variable ETCD_<NAME> (upper case, '-' -> '_',\n"
    "e.g. ETCD_DATA_DIR). Setting the same flag on the command line and in the environment is an\n"
    "error.\n";

void render_flag(std::string& out, const ConfigFlag& flag) {
  const std::string_view shown =
      flag.shown_default.empty() ? flag.spec.default_text : flag.shown_default;
  out += fmt::format("  --{} {}\n", flag.spec.name,
                     shown.starts_with("'") ? std::string(shown) : fmt::format("'{}'", shown));
  std::string_view mark;
  if (flag.use == Use::Ignored) mark = " [ignored]";
  if (flag.use == Use::kUnsupported) mark = " [unsupported]";
  out += fmt::format("    {}{}\n", flag.spec.help, mark);
}

// The etcd 2 flags take one wrapped list instead of one entry each.
void render_legacy(std::string& out) {
  std::size_t column = 0;
  for (const ConfigFlag& flag : config_flags()) {
    if (flag.group != Group::kLegacy) continue;
    if (column == 0 || column + flag.spec.name.size() > 90) {
      out += column == 0 ? " " : "\n ";
      column = 1;
    }
    out += fmt::format(" -{}", flag.spec.name);
    column += flag.spec.name.size() + 2;
  }
  out += "\n    etcd 2 flags, accepted with a warning. [ignored]\n";
}

}  // namespace

std::string render_usage() { return std::string(kUsageHeader); }

std::string render_help() {
  std::string out(kUsageHeader);
  for (int g = 0; g <= static_cast<int>(Group::kLegacy); ++g) {
    const auto group = static_cast<Group>(g);
    out += fmt::format("\n{}:\n", group_title(group));
    if (group == Group::kLegacy) {
      render_legacy(out);
      continue;
    }
    for (const ConfigFlag& flag : config_flags()) {
      if (flag.group == group) render_flag(out, flag);
    }
  }
  out += kUsageFooter;
  return out;
}

}  // namespace discovery::server::detail
