#pragma once
// sqlproxy::server::Config: the immutable start-up configuration, from command-line flags (Go
// flag syntax, common/flags.h) and SQLPROXY_<NAME> environment variables (e.g.
// SQLPROXY_DRAIN_GRACE=5s). Defaults suit a pod. SQLPROXY_MONITOR_PASSWORD carries the monitor
// password (the alternative to --monitor-password-file); it is never logged or echoed, and
// neither is any unrecognised SQLPROXY_* value.
//
// parse_config() is pure: it does not read the password file (main does) or resolve names.
// Thread model: a plain value, built once by main() and then only read.

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"

namespace sqlproxy::server {

struct HostPort {
  std::string host;  // name or address; IPv6 without brackets
  std::uint16_t port = 0;
  std::string text;  // as given

  friend bool operator==(const HostPort&, const HostPort&) = default;
};

// "host:port" or "[v6]:port"; the port must be 1..65535 (0 allowed when allow_zero_port, for
// listeners that let the kernel pick). The error names the text.
common::Result<HostPort, std::string> parse_host_port(std::string_view text,
                                                      bool allow_zero_port = false);

struct Config {
  HostPort listen;                           // writer port
  std::optional<HostPort> read_only_listen;  // off unless given
  HostPort admin_listen;
  std::vector<HostPort> backends;
  std::optional<HostPort> backends_dns;  // name:port of a headless Service
  std::string backends_discovery;        // http://host:2379/pxc-cluster/<cluster>
  std::uint16_t backend_port = 3306;
  std::string monitor_user;
  std::string monitor_password_file;
  std::string monitor_password;  // SECRET: from SQLPROXY_MONITOR_PASSWORD; never log
  std::chrono::milliseconds probe_interval{250};
  bool allow_donor = false;
  bool plain_mysql = false;  // not Galera: the reachability-only controller (tests)
  std::chrono::milliseconds drain_grace{10000};
  std::string log_level = "info";
  std::vector<std::string> warnings;  // secret-free
};

struct ConfigError {
  int exit_code = 2;      // 2: bad flags; 0: help or the version was asked for
  std::string message;    // for stderr (empty with help)
  std::string help_text;  // for stdout when help or the version was asked for
};

// `args` without the program name; `env` as in environ ("KEY=VALUE").
common::Result<Config, ConfigError> parse_config(std::span<const std::string> args,
                                                 std::span<const std::string> env);
std::string help_text();
std::string version_text();  // "sqlproxy <version>\n" (--version)

}  // namespace sqlproxy::server
