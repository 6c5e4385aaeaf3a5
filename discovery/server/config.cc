#include "discovery/server/config.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <iterator>
#include <map>
#include <optional>
#include <set>

#include "common/check.h"
#include "common/flags.h"
#include "common/go_text.h"
#include "discovery/server/config_flags.h"
#include "discovery/server/member_id.h"

#ifndef DISCOVERY_VERSION
#define DISCOVERY_VERSION "0.0.0-dev"
#endif

namespace discovery::server {
namespace {

using common::Result;
using common::flags::FlagSpec;
using common::flags::FlagType;
using common::flags::FlagValues;
using common::flags::Value;

// ---- URLs -------------------------------------------------------------------------------------

std::string_view trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\n\r\v\f";
  const auto first = s.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(kSpace) - first + 1);
}

std::string go_parse_error(std::string_view text, std::string_view reason) {
  return fmt::format("parse {}: {}", common::go_quote(text), reason);
}

bool valid_optional_port(std::string_view port) {
  if (port.empty()) return true;
  if (port[0] != ':') return false;
  return std::all_of(port.begin() + 1, port.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Splits the scheme as Go's url.getScheme does: letters first, then letters, digits, '+', '-'
// or '.', up to ':'. Returns false (no scheme) when the text does not start like a scheme.
Result<bool, std::string> split_scheme(std::string_view in, std::string& scheme,
                                       std::string_view& rest) {
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    const bool other = (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
    if (letter) continue;
    if (other) {
      if (i == 0) return false;
      continue;
    }
    if (c == ':') {
      if (i == 0) return go_parse_error(in, "missing protocol scheme");
      scheme = std::string(in.substr(0, i));
      for (char& l : scheme) l = static_cast<char>(l >= 'A' && l <= 'Z' ? l + 32 : l);
      rest = in.substr(i + 1);
      return true;
    }
    return false;
  }
  return false;
}

using UrlResult = Result<Url, std::string>;

// Url is an aggregate, which C++20 can construct from a string, so errors are tagged explicitly.
UrlResult url_error(std::string message) {
  return UrlResult(boost::system::in_place_error, std::move(message));
}

// The subset of Go's url.Parse + net.SplitHostPort that etcd's types.NewURLs relies on.
UrlResult parse_url_trimmed(std::string_view in) {
  if (std::any_of(in.begin(), in.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
    return url_error(go_parse_error(in, "net/url: invalid control character in URL"));
  }
  Url url;
  std::string_view rest = in;
  auto has_scheme = split_scheme(in, url.scheme, rest);
  if (!has_scheme) return url_error(has_scheme.error());
  rest = rest.substr(0, rest.find('#'));
  rest = rest.substr(0, rest.find('?'));
  std::string_view authority;
  std::string_view path = rest;
  if (*has_scheme && rest.starts_with("//")) {
    rest.remove_prefix(2);
    const auto slash = rest.find('/');
    authority = rest.substr(0, slash);
    path = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
    if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
      authority.remove_prefix(at + 1);
    }
    std::string_view port_part;
    if (authority.starts_with("[")) {
      const auto close = authority.find(']');
      if (close == std::string_view::npos) {
        return url_error(go_parse_error(in, "missing ']' in host"));
      }
      port_part = authority.substr(close + 1);
    } else if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
      port_part = authority.substr(colon);
    }
    if (!valid_optional_port(port_part)) {
      return url_error(go_parse_error(
          in, fmt::format("invalid port {} after host", common::go_quote(port_part))));
    }
  }
  if (url.scheme != "http" && url.scheme != "https" && url.scheme != "unix" &&
      url.scheme != "unixs") {
    return url_error(fmt::format("URL scheme must be http, https, unix, or unixs: {}", in));
  }
  // net.SplitHostPort: "[v6]:port" or exactly one colon.
  const std::string not_host_port =
      fmt::format("URL address does not have the form \"host:port\": {}", in);
  if (authority.starts_with("[")) {
    const auto close = authority.find(']');
    if (close + 1 >= authority.size() || authority[close + 1] != ':')
      return url_error(not_host_port);
    url.host = std::string(authority.substr(1, close - 1));
    url.port = std::string(authority.substr(close + 2));
  } else {
    if (std::count(authority.begin(), authority.end(), ':') != 1) return url_error(not_host_port);
    const auto colon = authority.find(':');
    url.host = std::string(authority.substr(0, colon));
    url.port = std::string(authority.substr(colon + 1));
    if (url.host.find_first_of("[]") != std::string::npos) return url_error(not_host_port);
  }
  if (!path.empty()) return url_error(fmt::format("URL must not contain a path: {}", in));
  url.text = url.scheme + ":" + std::string(in.substr(in.find(':') + 1));
  return url;
}

bool is_ip(const std::string& host) {
  std::array<unsigned char, 16> buffer{};
  return inet_pton(AF_INET, host.c_str(), buffer.data()) == 1 ||
         inet_pton(AF_INET6, host.c_str(), buffer.data()) == 1;
}

}  // namespace

Result<Url, std::string> parse_url(std::string_view text) { return parse_url_trimmed(trim(text)); }

Result<std::vector<Url>, std::string> parse_url_list(std::string_view text) {
  std::vector<Url> urls;
  if (text.empty()) return urls;
  for (const std::string_view item : common::go_split(text, ',')) {
    auto url = parse_url(item);
    if (!url) return url.error();
    urls.push_back(std::move(*url));
  }
  std::sort(urls.begin(), urls.end(), [](const Url& a, const Url& b) { return a.text < b.text; });
  return urls;
}
namespace {

// ---- Errors -----------------------------------------------------------------------------------

ConfigError usage_error(std::string message) {
  // etcd prints the flag error, then its usage summary, on stderr and exits with status 2.
  std::string err = message + "\n" + detail::render_usage();
  return ConfigError{ConfigError::Kind::Usage, 2, std::move(message), {}, std::move(err)};
}

ConfigError invalid(std::string message) {
  // etcd logs "error verifying flags, <reason>. See 'etcd --help'." and exits with status 1.
  std::string err =
      fmt::format("discovery: error verifying flags, {}. See 'discovery --help'.\n", message);
  return ConfigError{ConfigError::Kind::Invalid, 1, std::move(message), {}, std::move(err)};
}

using ConfigResult = Result<void, ConfigError>;

// ---- Building the Config ----------------------------------------------------------------------

// A URL flag's value. etcd's URL flags keep their default when given an empty text (the ""
// exception of flags.UniqueURLs); an empty default means no URLs.
std::vector<Url> url_flag(const FlagValues& values, std::string_view name) {
  std::string_view text = values.text(name);
  if (text.empty()) {
    for (const FlagSpec& spec : detail::flag_specs()) {
      if (spec.name == name) text = spec.default_text;
    }
  }
  auto urls = parse_url_list(text);
  CHECK(urls.has_value(), "flag -{} passed its check but does not parse: {}", name, urls.error());
  return std::move(*urls);
}

// etcd's types.NewURLsMap: entries "name=url" separated by commas; a name may repeat to give
// several URLs; an entry without '=' is a name with an empty (hence invalid) URL.
Result<std::vector<InitialMember>, std::string> parse_initial_cluster(std::string_view text) {
  std::map<std::string, std::vector<std::string>, std::less<>> by_name;
  for (const std::string_view entry : common::go_split(text, ',')) {
    if (entry.empty()) continue;
    const auto eq = entry.find('=');
    const std::string_view name = entry.substr(0, eq);
    const std::string_view url = eq == std::string_view::npos ? "" : entry.substr(eq + 1);
    by_name[std::string(name)].emplace_back(url);
  }
  std::vector<InitialMember> members;
  for (auto& [name, texts] : by_name) {
    InitialMember member{name, {}};
    for (const std::string& url_text : texts) {
      auto url = parse_url(url_text);
      if (!url) return url.error();
      member.peer_urls.push_back(std::move(*url));
    }
    std::sort(member.peer_urls.begin(), member.peer_urls.end(),
              [](const Url& a, const Url& b) { return a.text < b.text; });
    members.push_back(std::move(member));
  }
  return members;
}

std::string join_texts(const std::vector<Url>& urls) {
  std::string out;
  for (const Url& url : urls) out += (out.empty() ? "" : ",") + url.text;
  return out;
}

// etcd's checkBindURLs: a listener needs an IP address or "localhost".
ConfigResult check_bind_urls(const std::vector<Url>& urls) {
  for (const Url& url : urls) {
    if (url.scheme == "unix" || url.scheme == "unixs") continue;
    if (url.host == "localhost" || is_ip(url.host)) continue;
    return invalid(fmt::format("expected IP in URL for binding ({})", url.text));
  }
  return {};
}

// etcd's checkHostURLs: an advertised URL needs a host.
ConfigResult check_host_urls(const std::vector<Url>& urls, std::string_view flag) {
  for (const Url& url : urls) {
    if (!url.host.empty()) continue;
    return invalid(fmt::format("--{} \"{}\" must be \"host:port\" (unexpected empty host ({}))",
                               flag, join_texts(urls), url.text));
  }
  return {};
}

// Flags that select features discovery does not have are refused rather than silently ignored.
ConfigResult check_unsupported(const FlagValues& values) {
  if (!values.get_string("discovery").empty() || !values.get_string("discovery-srv").empty()) {
    return invalid(
        "--discovery and --discovery-srv are not supported; bootstrap with --initial-cluster");
  }
  if (values.get_string("proxy") != "off") {
    return invalid(fmt::format("--proxy={} is not supported; discovery always runs as a member",
                               values.get_string("proxy")));
  }
  if (values.get_bool("force-new-cluster")) {
    return invalid("--force-new-cluster is not supported");
  }
  return {};
}

ConfigResult check_timing(const Config& c) {
  const auto tick = c.heartbeat_interval.count();
  const auto election = c.election_timeout.count();
  if (tick <= 0) {
    return invalid(fmt::format("--heartbeat-interval must be >0 (set to {}ms)", tick));
  }
  if (election <= 0) {
    return invalid(fmt::format("--election-timeout must be >0 (set to {}ms)", election));
  }
  if (tick > election / 5) {
    return invalid(fmt::format(
        "--election-timeout[{}ms] should be at least as 5 times as --heartbeat-interval[{}ms]",
        election, tick));
  }
  if (election > 50000) {
    return invalid(fmt::format(
        "--election-timeout[{}ms] is too long, and should be set less than 50000ms", election));
  }
  return {};
}

// The v3-only flags are ignored, but etcd still rejects these values, so a manifest that etcd
// refuses is refused here too.
ConfigResult check_ignored_values(const FlagValues& values) {
  const std::string& mode = values.get_string("auto-compaction-mode");
  if (!mode.empty() && mode != "periodic" && mode != "revision") {
    return invalid(fmt::format("unknown auto-compaction-mode {}", common::go_quote(mode)));
  }
  if (values.get_bool("experimental-enable-lease-checkpoint-persist") &&
      !values.get_bool("experimental-enable-lease-checkpoint")) {
    return invalid(
        "setting experimental-enable-lease-checkpoint-persist requires "
        "experimental-enable-lease-checkpoint");
  }
  return {};
}

std::chrono::milliseconds millis(std::uint64_t value) {
  // Larger values fail the election-timeout limit anyway; clamping keeps the arithmetic defined.
  constexpr std::uint64_t kMax = std::uint64_t{1} << 40;
  return std::chrono::milliseconds{static_cast<std::int64_t>(std::min(value, kMax))};
}

TlsConfig tls_from(const FlagValues& v, std::string_view prefix) {
  const auto name = [&](std::string_view flag) { return fmt::format("{}{}", prefix, flag); };
  TlsConfig tls;
  tls.cert_file = v.get_string(name("cert-file"));
  tls.key_file = v.get_string(name("key-file"));
  tls.trusted_ca_file = v.get_string(name("trusted-ca-file"));
  tls.crl_file = v.get_string(prefix.empty() ? "client-crl-file" : "peer-crl-file");
  tls.allowed_hostname =
      v.get_string(prefix.empty() ? "client-cert-allowed-hostname" : "peer-cert-allowed-hostname");
  if (!prefix.empty()) tls.allowed_cn = v.get_string("peer-cert-allowed-cn");
  tls.client_cert_auth = v.get_bool(name("client-cert-auth"));
  tls.auto_tls = v.get_bool(name("auto-tls"));
  return tls;
}

void fill_member(const FlagValues& v, Config& c) {
  c.name = v.get_string("name");
  c.data_dir = v.get_string("data-dir");
  if (c.data_dir.empty()) c.data_dir = c.name + ".etcd";
  c.wal_dir = v.get_string("wal-dir");
  c.snapshot_count = v.get_uint("snapshot-count");
  c.heartbeat_interval = millis(v.get_uint("heartbeat-interval"));
  c.election_timeout = millis(v.get_uint("election-timeout"));
  c.initial_election_tick_advance = v.get_bool("initial-election-tick-advance");
  c.listen_peer_urls = url_flag(v, "listen-peer-urls");
  c.listen_client_urls = url_flag(v, "listen-client-urls");
  c.listen_metrics_urls = url_flag(v, "listen-metrics-urls");
  c.max_request_bytes = v.get_uint("max-request-bytes");
  c.quota_backend_bytes = v.get_int("quota-backend-bytes");
}

Result<void, ConfigError> fill_cluster(const FlagValues& v, Config& c) {
  c.initial_advertise_peer_urls = url_flag(v, "initial-advertise-peer-urls");
  c.advertise_client_urls = url_flag(v, "advertise-client-urls");
  auto members = parse_initial_cluster(v.get_string("initial-cluster"));
  if (!members) {
    return invalid(fmt::format("error setting up initial cluster: {}", members.error()));
  }
  c.initial_cluster = std::move(*members);
  c.initial_cluster_state =
      v.get_string("initial-cluster-state") == "new" ? ClusterState::New : ClusterState::Existing;
  c.initial_cluster_token = v.get_string("initial-cluster-token");
  c.strict_reconfig_check = v.get_bool("strict-reconfig-check");
  c.pre_vote = v.get_bool("pre-vote");
  c.enable_v2 = v.get_bool("enable-v2");
  return {};
}

void fill_rest(const FlagValues& v, Config& c) {
  c.client_tls = tls_from(v, "");
  c.peer_tls = tls_from(v, "peer-");
  c.cors = v.get_list("cors");
  c.host_whitelist = v.get_list("host-whitelist");
  c.logger = v.get_string("logger");
  c.log_outputs = v.get_list("log-outputs");
  c.debug = v.get_bool("debug");
  c.log_level = c.debug ? "debug" : v.get_string("log-level");
}

Result<Config, ConfigError> build_config(const FlagValues& v) {
  if (auto ok = check_unsupported(v); !ok) return ok.error();
  Config c;
  fill_member(v, c);
  if (auto ok = fill_cluster(v, c); !ok) return ok.error();
  fill_rest(v, c);
  if (c.logger != "zap" && c.logger != "capnslog") {
    return invalid(fmt::format("unknown logger option {}", common::go_quote(c.logger)));
  }
  // The order of the checks below is etcd's embed.Config.Validate order, so that the first
  // error reported for a bad combination is the one etcd reports.
  for (const auto* urls : {&c.listen_peer_urls, &c.listen_client_urls, &c.listen_metrics_urls}) {
    if (auto ok = check_bind_urls(*urls); !ok) return ok.error();
  }
  if (auto ok = check_host_urls(c.initial_advertise_peer_urls, "initial-advertise-peer-urls");
      !ok) {
    return ok.error();
  }
  if (auto ok = check_host_urls(c.advertise_client_urls, "advertise-client-urls"); !ok) {
    return ok.error();
  }
  if (auto ok = check_timing(c); !ok) return ok.error();
  // etcd drops the default advertised client URL when only the listen URL is given.
  if (v.is_set("listen-client-urls") && !v.is_set("advertise-client-urls")) {
    return invalid(
        "--advertise-client-urls is required when --listen-client-urls is set explicitly");
  }
  if (auto ok = check_ignored_values(v); !ok) return ok.error();
  for (const Url& url : c.listen_client_urls) {
    if ((url.scheme == "https" || url.scheme == "unixs") && c.client_tls.empty() &&
        !c.client_tls.auto_tls) {
      return invalid(fmt::format(
          "TLS key/cert (--cert-file, --key-file) must be provided for client url {} with HTTPS "
          "scheme",
          url.text));
    }
  }
  return c;
}

bool env_has(std::span<const std::string> env, std::string_view key) {
  return std::any_of(env.begin(), env.end(), [&](const std::string& kv) {
    return kv.size() > key.size() + 1 && kv.starts_with(key) && kv[key.size()] == '=';
  });
}

std::string prefixed(std::string_view name, const std::vector<std::string>& urls) {
  std::string out;
  for (const std::string& url : urls)
    out += fmt::format("{}{}={}", out.empty() ? "" : ",", name, url);
  return out;
}

// etcd's advertiseMatchesCluster for a new cluster, with the same two messages. etcd resolves
// host names before giving up; this pure check compares the URL texts only.
Result<void, std::string> check_advertise_matches(const std::string& name,
                                                  const std::vector<Url>& cluster_urls,
                                                  const std::vector<Url>& advertised_urls) {
  std::set<std::string> cluster;
  std::set<std::string> advertised;
  for (const Url& url : cluster_urls) cluster.insert(url.text);
  for (const Url& url : advertised_urls) advertised.insert(url.text);
  std::vector<std::string> missing;
  std::set_difference(cluster.begin(), cluster.end(), advertised.begin(), advertised.end(),
                      std::back_inserter(missing));
  if (!missing.empty()) {
    return fmt::format("--initial-cluster has {} but missing from --initial-advertise-peer-urls={}",
                       prefixed(name, missing), join_texts(advertised_urls));
  }
  std::set_difference(advertised.begin(), advertised.end(), cluster.begin(), cluster.end(),
                      std::back_inserter(missing));
  if (!missing.empty()) {
    std::string joined;
    for (const std::string& url : missing) joined += (joined.empty() ? "" : ",") + url;
    const std::vector<std::string> all(advertised.begin(), advertised.end());
    return fmt::format("--initial-advertise-peer-urls has {} but missing from --initial-cluster={}",
                       joined, prefixed(name, all));
  }
  return {};
}

}  // namespace

std::vector<std::string> url_texts(const std::vector<Url>& urls) {
  std::vector<std::string> texts;
  texts.reserve(urls.size());
  for (const Url& url : urls) texts.push_back(url.text);
  return texts;
}

std::vector<std::string> Config::local_peer_urls() const {
  std::vector<std::string> urls;
  for (const InitialMember& member : initial_cluster) {
    if (member.name != name) continue;
    for (std::string& text : url_texts(member.peer_urls)) urls.push_back(std::move(text));
  }
  return urls;
}

std::uint64_t Config::member_id() const {
  return compute_member_id(local_peer_urls(), initial_cluster_token);
}

std::uint64_t Config::cluster_id() const {
  std::vector<std::uint64_t> ids;
  for (const InitialMember& member : initial_cluster) {
    ids.push_back(compute_member_id(url_texts(member.peer_urls), initial_cluster_token));
  }
  return compute_cluster_id(ids);
}

Result<Config, ConfigError> parse_config(std::span<const std::string> args,
                                         std::span<const std::string> env) {
  auto parsed = common::flags::parse_command_line(detail::flag_specs(), args);
  if (!parsed) return usage_error(parsed.error().message);
  if (parsed->help_requested) {
    return ConfigError{ConfigError::Kind::Help, 0, "help requested", detail::render_help(), {}};
  }
  // etcd's order: positional arguments, then --version (before the environment is read, so
  // ETCD_VERSION has no effect), then the configuration file, then the environment.
  if (!parsed->positional.empty()) {
    return invalid(fmt::format("'{}' is not a valid flag", parsed->positional.front()));
  }
  if (parsed->values.get_bool("version")) {
    return ConfigError{ConfigError::Kind::Version, 0, "version requested", version_text(), {}};
  }
  if (!parsed->values.get_string("config-file").empty() || env_has(env, "ETCD_CONFIG_FILE")) {
    return invalid(
        "--config-file (ETCD_CONFIG_FILE) is not supported; pass flags or ETCD_* environment "
        "variables instead");
  }
  if (auto ok = common::flags::apply_environment(*parsed, env, "ETCD"); !ok) {
    return invalid(ok.error().message);
  }
  auto config = build_config(parsed->values);
  if (!config) return config;
  config->warnings = std::move(parsed->warnings);
  config->env_used = std::move(parsed->env_used);
  return config;
}

Result<Config, ConfigError> parse_config(int argc, const char* const* argv,
                                         const char* const* envp) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  std::vector<std::string> env;
  for (const char* const* e = envp; e != nullptr && *e != nullptr; ++e) env.emplace_back(*e);
  return parse_config(args, env);
}

Result<void, std::string> verify_bootstrap(const Config& config) {
  const auto local = std::find_if(config.initial_cluster.begin(), config.initial_cluster.end(),
                                  [&](const InitialMember& m) { return m.name == config.name; });
  if (local == config.initial_cluster.end()) {
    return fmt::format("couldn't find local name {} in the initial cluster configuration",
                       common::go_quote(config.name));
  }
  std::vector<std::string> pairs;
  std::set<std::string, std::less<>> seen;
  bool duplicate = false;
  for (const InitialMember& member : config.initial_cluster) {
    for (const Url& url : member.peer_urls) {
      pairs.push_back(member.name + "=" + url.text);
      duplicate = duplicate || !seen.insert(url.text).second;
    }
  }
  if (config.initial_cluster_state == ClusterState::New) {
    if (auto ok = check_advertise_matches(config.name, local->peer_urls,
                                          config.initial_advertise_peer_urls);
        !ok) {
      return ok.error();
    }
  }
  if (duplicate) {
    std::sort(pairs.begin(), pairs.end());
    std::string joined;
    for (const std::string& p : pairs) joined += (joined.empty() ? "" : ",") + p;
    return fmt::format("initial cluster {} has duplicate url", joined);
  }
  return {};
}

std::string help_text() { return detail::render_help(); }

#if defined(__x86_64__)
constexpr std::string_view kArch = "amd64";
#elif defined(__aarch64__)
constexpr std::string_view kArch = "arm64";
#else
constexpr std::string_view kArch = "unknown";
#endif
#if defined(__clang__)
constexpr std::string_view kCompiler = "clang " __clang_version__;
#else
constexpr std::string_view kCompiler = "GCC " __VERSION__;
#endif

std::string version_text() {
  // etcd's --version block, with our own version first. The etcd line names the release whose
  // API we serve, for tools that look for it.
  return fmt::format(
      "discovery Version: {}\n"
      "etcd Version: {}\n"
      "Git SHA: Not provided\n"
      "Compiler: {}\n"
      "OS/Arch: linux/{}\n",
      DISCOVERY_VERSION, kEtcdVersion, kCompiler, kArch);
}

}  // namespace discovery::server
