#include "sqlproxy/server/config.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "common/flags.h"

namespace sqlproxy::server {

using common::flags::FlagSpec;
using common::flags::FlagType;

namespace {

constexpr std::string_view kEnvPrefix = "SQLPROXY";
constexpr std::string_view kPasswordVariable = "SQLPROXY_MONITOR_PASSWORD=";
constexpr std::string_view kUnknownVariable = "unrecognized environment variable ";

// One row per flag reads better than clang-format's one field per line.
// clang-format off
constexpr FlagSpec kFlags[] = {
    {"listen", FlagType::String, "0.0.0.0:3306", "Address for MySQL clients (writer)."},
    {"read-only-listen", FlagType::String, "", "Address for read-only clients (off if empty)."},
    {"admin-listen", FlagType::String, "0.0.0.0:8080",
     "Address for /metrics /status /health /ready."},
    {"backends", FlagType::StringList, "", "Static backends: host:port,..."},
    {"backends-dns", FlagType::String, "", "Backends from DNS: name:port (re-resolved)."},
    {"backends-discovery", FlagType::String, "",
     "Backends from the discovery service: http://host:2379/pxc-cluster/<cluster>, or several "
     "members of it: http://a:2379,http://b:2379,http://c:2379/pxc-cluster/<cluster>."},
    {"backend-port", FlagType::Uint, "3306",
     "MySQL port of discovered backends whose name has none."},
    {"monitor-user", FlagType::String, "", "MySQL user of the health probes."},
    {"monitor-password-file", FlagType::String, "",
     "File holding the monitor password (or set SQLPROXY_MONITOR_PASSWORD)."},
    {"probe-interval", FlagType::Duration, "250ms", "Time between two probes of a backend."},
    {"allow-donor", FlagType::Bool, "false",
     "Let a Donor that does not reject queries serve as a reader."},
    {"drain-grace", FlagType::Duration, "10s",
     "How long sessions on a draining backend may finish their transactions."},
    {"log-level", FlagType::String, "info", "debug, info, warn or error."},
    {"plain-mysql", FlagType::Bool, "false",
     "Backends are plain MySQL servers, not Galera: route by reachability (-backends only)."},
    {"version", FlagType::Bool, "false", "Print the name and version, then exit."},
};
// clang-format on

ConfigError bad(std::string message) { return ConfigError{2, std::move(message), {}}; }

common::Result<std::chrono::milliseconds, ConfigError> positive_duration(
    const common::flags::FlagValues& v, std::string_view name, bool zero_ok) {
  const auto d = std::chrono::duration_cast<std::chrono::milliseconds>(v.get_duration(name));
  if (d.count() < 0 || (!zero_ok && d.count() == 0)) {
    return bad(fmt::format("invalid value \"{}\" for flag -{}: must be {}", v.text(name), name,
                           zero_ok ? "zero or more" : "more than zero"));
  }
  return d;
}

common::Result<void, ConfigError> read_addresses(const common::flags::FlagValues& v, Config& c) {
  auto listen = parse_host_port(v.get_string("listen"), true);
  if (!listen) return bad("invalid -listen: " + listen.error());
  c.listen = *listen;
  auto admin = parse_host_port(v.get_string("admin-listen"), true);
  if (!admin) return bad("invalid -admin-listen: " + admin.error());
  c.admin_listen = *admin;
  if (!v.get_string("read-only-listen").empty()) {
    auto ro = parse_host_port(v.get_string("read-only-listen"), true);
    if (!ro) return bad("invalid -read-only-listen: " + ro.error());
    c.read_only_listen = *ro;
  }
  for (const std::string& text : v.get_list("backends")) {
    auto b = parse_host_port(text);
    if (!b) return bad("invalid -backends entry: " + b.error());
    c.backends.push_back(*b);
  }
  if (!v.get_string("backends-dns").empty()) {
    auto dns = parse_host_port(v.get_string("backends-dns"));
    if (!dns) return bad("invalid -backends-dns: " + dns.error());
    c.backends_dns = *dns;
  }
  c.backends_discovery = v.get_string("backends-discovery");
  if (!c.backends_discovery.empty() && !c.backends_discovery.starts_with("http://")) {
    return bad(
        "invalid -backends-discovery: want "
        "http://host:port[,http://host:port...]/pxc-cluster/<cluster>");
  }
  const int sources = (c.backends.empty() ? 0 : 1) + (c.backends_dns ? 1 : 0) +
                      (c.backends_discovery.empty() ? 0 : 1);
  if (sources != 1) {
    return bad("give exactly one of -backends, -backends-dns or -backends-discovery");
  }
  return {};
}

// Splits the password variable out of the environment, so the flag parser never sees (or
// echoes) it, and returns the rest.
std::vector<std::string> without_password(std::span<const std::string> env, std::string& password) {
  std::vector<std::string> rest;
  for (const std::string& e : env) {
    if (e.starts_with(kPasswordVariable)) {
      password = e.substr(kPasswordVariable.size());
    } else {
      rest.push_back(e);
    }
  }
  return rest;
}

// The flag parser quotes unknown variables with their values; a misspelt password variable
// must not reach the log.
std::string redact(std::string warning) {
  if (!warning.starts_with(kUnknownVariable)) return warning;
  const std::size_t eq = warning.find('=');
  if (eq != std::string::npos) warning.replace(eq + 1, std::string::npos, "(value hidden)");
  return warning;
}

}  // namespace

common::Result<HostPort, std::string> parse_host_port(std::string_view text, bool allow_zero_port) {
  // HostPort could be built from a string too, so errors are marked as such.
  const auto fail = [quoted = fmt::format("\"{}\"", text)](const char* why) {
    return common::Result<HostPort, std::string>(boost::system::in_place_error, quoted + why);
  };
  std::string_view host;
  std::string_view port;
  if (text.starts_with('[')) {
    const std::size_t close = text.find("]:");
    if (close == std::string_view::npos) return fail(": want [address]:port");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return fail(": want host:port");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return fail(": put IPv6 in brackets");
  }
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (host.empty()) return fail(": empty host");
  if (ec != std::errc{} || end != port.data() + port.size() || value > 65535 ||
      (value == 0 && !allow_zero_port)) {
    return fail(": bad port");
  }
  return HostPort{std::string(host), static_cast<std::uint16_t>(value), std::string(text)};
}

common::Result<Config, ConfigError> parse_config(std::span<const std::string> args,
                                                 std::span<const std::string> env) {
  Config c;
  const std::vector<std::string> plain_env = without_password(env, c.monitor_password);
  auto parsed = common::flags::parse(kFlags, args, plain_env, kEnvPrefix);
  if (!parsed) return bad(parsed.error().message);
  if (parsed->help_requested) return ConfigError{0, {}, help_text()};
  if (!parsed->positional.empty()) {
    return bad(fmt::format("unexpected argument \"{}\"", parsed->positional.front()));
  }
  const auto& v = parsed->values;
  if (v.get_bool("version")) return ConfigError{0, {}, version_text()};
  if (auto ok = read_addresses(v, c); !ok) return ok.error();
  const std::uint64_t backend_port = v.get_uint("backend-port");
  if (backend_port == 0 || backend_port > 65535) {
    return bad(fmt::format("invalid value \"{}\" for flag -backend-port: want 1..65535",
                           v.text("backend-port")));
  }
  c.backend_port = static_cast<std::uint16_t>(backend_port);
  c.monitor_user = v.get_string("monitor-user");
  c.monitor_password_file = v.get_string("monitor-password-file");
  if (!c.monitor_password_file.empty() && !c.monitor_password.empty()) {
    return bad(
        "give the monitor password once: -monitor-password-file or "
        "SQLPROXY_MONITOR_PASSWORD, not both");
  }
  auto probe = positive_duration(v, "probe-interval", false);
  if (!probe) return probe.error();
  c.probe_interval = *probe;
  auto grace = positive_duration(v, "drain-grace", true);
  if (!grace) return grace.error();
  c.drain_grace = *grace;
  c.allow_donor = v.get_bool("allow-donor");
  c.plain_mysql = v.get_bool("plain-mysql");
  if (c.plain_mysql && c.backends.empty()) return bad("-plain-mysql needs -backends");
  c.log_level = v.get_string("log-level");
  constexpr std::string_view kLevels[] = {"debug", "info", "warn", "error"};
  if (std::find(std::begin(kLevels), std::end(kLevels), c.log_level) == std::end(kLevels)) {
    return bad(
        fmt::format("invalid value \"{}\" for flag -log-level: want debug, info, warn "
                    "or error",
                    c.log_level));
  }
  for (std::string& w : parsed->warnings) c.warnings.push_back(redact(std::move(w)));
  return c;
}

std::string version_text() { return fmt::format("sqlproxy {}\n", SQLPROXY_VERSION); }

std::string help_text() {
  std::string out =
      "Usage: sqlproxy [flags]\n"
      "A Galera-aware MySQL proxy. Every flag can also be set as SQLPROXY_<NAME> in the\n"
      "environment (e.g. SQLPROXY_DRAIN_GRACE=5s); the monitor password comes from\n"
      "-monitor-password-file or SQLPROXY_MONITOR_PASSWORD.\n\n";
  for (const FlagSpec& f : kFlags) {
    out += fmt::format("  --{}", f.name);
    if (!f.default_text.empty()) out += fmt::format(" (default {})", f.default_text);
    out += fmt::format("\n      {}\n", f.help);
  }
  return out;
}

}  // namespace sqlproxy::server
