#pragma once
// discovery::server::Config: the immutable start-up configuration of one discovery member, built
// from etcd 3.4 flags and ETCD_* environment variables with etcd's names, meanings, defaults and
// validation (observed against etcd 3.4.23; see config_test.cc for the pinned texts).
//
// With no flags the member is "default", a single-member cluster on http://localhost:2379
// (client) and http://localhost:2380 (peer), with data in ./default.etcd, as etcd.
//
// Ownership and threads: main() calls parse_config() once and keeps the Config (or a
// shared_ptr<const Config>); it is a plain value, safe to read from any thread.

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace discovery::server {

// The etcd release whose flags and API we mimic; `--version` prints it.
inline constexpr std::string_view kEtcdVersion = "3.4.23";

// A URL accepted by etcd's URL flags: scheme http, https, unix or unixs, "host:port", no path.
struct Url {
  std::string scheme;  // lower case
  std::string host;    // without port; IPv6 without brackets
  std::string port;    // digits, may be empty ("http://h:")
  std::string text;    // canonical text: scheme lower-cased, otherwise as given (Go url.String)

  friend bool operator==(const Url&, const Url&) = default;
};

// The canonical texts of `urls`, in order (what member ids are computed from).
std::vector<std::string> url_texts(const std::vector<Url>& urls);

// Parses one URL as etcd's types.NewURLs does (leading and trailing spaces trimmed). The error is
// etcd's text, e.g. "URL scheme must be http, https, unix, or unixs: foo".
common::Result<Url, std::string> parse_url(std::string_view text);

// Parses a comma-separated list; the result is sorted by text, as etcd sorts URL lists. An empty
// text is the empty list.
common::Result<std::vector<Url>, std::string> parse_url_list(std::string_view text);

enum class ClusterState { New, Existing };

// TLS settings of one side (client or peer). Paths are not opened here.
struct TlsConfig {
  std::string cert_file;
  std::string key_file;
  std::string trusted_ca_file;
  std::string crl_file;
  std::string allowed_hostname;
  std::string allowed_cn;  // peer only
  bool client_cert_auth = false;
  bool auto_tls = false;  // self-signed certificates when no cert/key is given
  // etcd's TLSInfo.Empty(): no cert and no key file.
  bool empty() const { return cert_file.empty() && key_file.empty(); }
};

// One entry of --initial-cluster: a member name and its peer URLs (sorted).
struct InitialMember {
  std::string name;
  std::vector<Url> peer_urls;
  friend bool operator==(const InitialMember&, const InitialMember&) = default;
};

struct Config {
  // Member.
  std::string name = "default";
  std::string data_dir = "default.etcd";  // "<name>.etcd" when --data-dir is not given
  std::string wal_dir;                    // empty: inside data_dir
  std::uint64_t snapshot_count = 100000;
  std::chrono::milliseconds heartbeat_interval{100};
  std::chrono::milliseconds election_timeout{1000};
  bool initial_election_tick_advance = true;
  std::vector<Url> listen_peer_urls;     // default http://localhost:2380
  std::vector<Url> listen_client_urls;   // default http://localhost:2379
  std::vector<Url> listen_metrics_urls;  // default none
  std::uint64_t max_request_bytes = 1572864;
  std::int64_t quota_backend_bytes = 0;  // 0: the default quota

  // Clustering.
  std::vector<Url> initial_advertise_peer_urls;  // default http://localhost:2380
  std::vector<Url> advertise_client_urls;        // default http://localhost:2379
  std::vector<InitialMember> initial_cluster;    // sorted by name
  ClusterState initial_cluster_state = ClusterState::New;
  std::string initial_cluster_token = "etcd-cluster";
  bool strict_reconfig_check = true;
  bool pre_vote = false;
  bool enable_v2 = false;  // accepted for compatibility; the v2 API is always served

  // Security.
  TlsConfig client_tls;
  TlsConfig peer_tls;
  std::vector<std::string> cors{"*"};            // allowed origins; "*" allows all
  std::vector<std::string> host_whitelist{"*"};  // "*" allows all

  // Logging.
  std::string logger = "capnslog";                  // "zap" or "capnslog" (same output here)
  std::vector<std::string> log_outputs{"default"};  // "default", "stderr", "stdout" or paths
  std::string log_level = "info";  // debug, info, warn, error, panic, fatal; "debug" if --debug
  bool debug = false;

  // Notes gathered while parsing, for main to log once logging is set up (etcd logs them too):
  // warnings ("unrecognized environment variable ETCD_X=1", ignored legacy flags) and the
  // environment variables that set flags ("ETCD_NAME=x").
  std::vector<std::string> warnings;
  std::vector<std::string> env_used;

  // The peer URLs of this member in initial_cluster (empty if the name is absent).
  std::vector<std::string> local_peer_urls() const;
  // This member's ID at bootstrap, as etcd derives it from --initial-cluster and the token.
  std::uint64_t member_id() const;
  // The cluster ID at bootstrap, from every member of --initial-cluster.
  std::uint64_t cluster_id() const;
};

// Why parse_config did not produce a Config, and what main() should do about it.
struct ConfigError {
  enum class Kind {
    Help,     // --help / -h: print stdout_text, exit 0
    Version,  // --version: print stdout_text, exit 0
    Usage,    // bad command-line syntax or value (etcd: message + usage, exit 2)
    Invalid,  // bad combination, environment or unsupported feature (etcd: exit 1)
  };
  Kind kind;
  int exit_code;            // 0, 2 or 1 as above
  std::string message;      // the bare reason, e.g. "flag provided but not defined: -foo"
  std::string stdout_text;  // what to print on stdout (help or version text)
  std::string stderr_text;  // what to print on stderr (message, usage hint), newline-terminated
};

// Builds the Config from the command line (args without the program name) and the environment
// ("KEY=VALUE" entries, as environ). Order, as etcd: command line (help/usage errors), positional
// arguments, --version, environment, then validation.
common::Result<Config, ConfigError> parse_config(std::span<const std::string> args,
                                                 std::span<const std::string> env);

// Convenience for main(argc, argv, environ).
common::Result<Config, ConfigError> parse_config(int argc, const char* const* argv,
                                                 const char* const* envp);

// Checks that --initial-cluster can bootstrap this member, as etcd does when its data directory
// is empty: the name is present, its URLs equal --initial-advertise-peer-urls (for state "new";
// compared as strings, without DNS resolution) and no peer URL appears twice. Call it only when
// starting without existing data; a restarted member ignores --initial-cluster, as in etcd.
common::Result<void, std::string> verify_bootstrap(const Config& config);

// The --help text (flags with defaults; ignored and unsupported flags marked).
std::string help_text();
// The --version text.
std::string version_text();

}  // namespace discovery::server
