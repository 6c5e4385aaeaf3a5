#include "discovery/api/route.h"

#include <algorithm>
#include <array>
#include <initializer_list>

#include "common/go_text.h"
#include "discovery/api/form.h"
#include "discovery/api/go_format.h"

namespace discovery::api {
namespace {

constexpr std::string_view kKeysPrefix = "/v2/keys";
constexpr std::string_view kMembersPrefix = "/v2/members";

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// True for the exact path or anything under "prefix/" (a ServeMux pattern registered both ways).
bool under(std::string_view path, std::string_view prefix) {
  return path == prefix ||
         (starts_with(path, prefix) && path.size() > prefix.size() && path[prefix.size()] == '/');
}

// Go's own 400 pages, written by net/http before any handler (no CORS, no length, close).
Response go_bad_request(std::string_view reason_suffix) {
  Response res;
  res.version(11);
  res.result(400);
  const std::string text = "400 Bad Request" + std::string(reason_suffix);
  if (!reason_suffix.empty()) res.reason(text.substr(4));
  res.insert("Content-Type", "text/plain; charset=utf-8");
  res.keep_alive(false);
  res.body() = text;
  return res;
}

// ServeMux's cleanPath: path.Clean, with a trailing slash kept.
std::string clean_path(std::string_view p) {
  if (p.empty()) return "/";
  std::string with_root = p.front() == '/' ? std::string(p) : "/" + std::string(p);
  std::string np = go_path_clean(with_root);
  if (with_root.back() == '/' && np != "/") np += '/';
  return np;
}

// url.URL.EscapedPath for a path without RawPath (Go's shouldEscape in encodePath mode).
std::string escape_path(std::string_view path) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : path) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (alnum || std::string_view("-_.~$&+,/:;=@").find(c) != std::string_view::npos) {
      out += c;
    } else {
      const auto u = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0xF];
    }
  }
  return out;
}

std::string hex_escape_non_ascii(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x80) {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0xF];
    }
  }
  return out;
}

Response redirect(std::string_view clean, std::string_view raw_query, std::string_view method,
                  const ResponseMeta& meta) {
  std::string url = escape_path(clean);
  if (!raw_query.empty()) url += "?" + std::string(raw_query);
  GoResponse r;
  r.status = 301;
  r.headers.emplace_back("Location", hex_escape_non_ascii(url));
  if (method == "GET" || method == "HEAD") {
    r.headers.emplace_back("Content-Type", "text/html; charset=utf-8");
  }
  // http.Redirect writes its HTML body for GET only; Fprintln adds the second newline.
  if (method == "GET")
    r.body = "<a href=\"" + common::go_html_escape(url) + "\">Moved Permanently</a>.\n\n";
  return finish(std::move(r), meta);
}

std::optional<Response> check_method(std::string_view method,
                                     std::initializer_list<std::string_view> allowed,
                                     const ResponseMeta& meta) {
  if (std::find(allowed.begin(), allowed.end(), method) != allowed.end()) return std::nullopt;
  std::string allow;
  for (const std::string_view m : allowed) {
    if (!allow.empty()) allow += ',';
    allow += m;
  }
  return plain_error_response(405, "Method Not Allowed", allow, meta);
}

// The Content-Type test of etcd's members handler (unmarshalRequest): the part before ';' is
// lowercased and trimmed only when a ';' is present.
std::optional<std::string> members_content_type_error(const Request& request) {
  std::string ctype(request[http::field::content_type]);
  const std::size_t semi = ctype.find(';');
  if (semi != std::string::npos) {
    ctype = ctype.substr(0, semi);
    std::transform(ctype.begin(), ctype.end(), ctype.begin(), [](char c) {
      return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    });
    const auto first = ctype.find_first_not_of(" \t\r\n\v\f");
    const auto last = ctype.find_last_not_of(" \t\r\n\v\f");
    ctype = first == std::string::npos ? "" : ctype.substr(first, last - first + 1);
  }
  if (ctype == "application/json") return std::nullopt;
  return "Bad Content-Type " + ctype + ", accept application/json";
}

// The target "*": Go's server answers "OPTIONS *" itself (no CORS, Content-Length set by the
// handler so it precedes Date); ServeMux answers any other method with a 400 that carries
// "Connection: close" as a handler header on HTTP/1.1.
Response asterisk_answer(std::string_view method, const ResponseMeta& meta) {
  if (method == "OPTIONS") {
    Response res;
    res.version(meta.version);
    res.result(200);
    res.insert("Content-Length", "0");
    if (meta.date) res.insert("Date", format_http_date(*meta.date));
    res.keep_alive(meta.keep_alive);
    return res;
  }
  GoResponse r;
  r.status = 400;
  if (meta.version >= 11) r.headers.emplace_back("Connection", "close");
  return finish(std::move(r), meta);
}

Route route_members(const Request& request, Routed routed, std::uint64_t cluster_id,
                    const ResponseMeta& meta) {
  const std::string_view method = request.method_string();
  if (auto bad = check_method(method, {"GET", "POST", "DELETE", "PUT"}, meta)) return *bad;
  std::string_view id = std::string_view(routed.path).substr(kMembersPrefix.size());
  if (starts_with(id, "/")) id.remove_prefix(1);
  if (method == "GET") {
    if (id.empty()) return Routed{Endpoint::MembersList, routed.path, routed.raw_query};
    if (id == "leader") return Routed{Endpoint::MembersLeader, routed.path, routed.raw_query};
    return members_error_response(404, "Not found", cluster_id, meta);
  }
  if (method == "POST") {
    if (auto bad = members_content_type_error(request)) {
      return members_error_response(415, *bad, cluster_id, meta);
    }
    routed.endpoint = Endpoint::MemberAdd;
    return routed;
  }
  if (id.empty()) {
    // etcd set the cluster id header before this check; insert it where Go's sort puts it.
    GoResponse r;
    r.status = 405;
    r.headers = {{"Content-Type", "text/plain; charset=utf-8"},
                 {"X-Content-Type-Options", "nosniff"},
                 {"X-Etcd-Cluster-Id", format_member_id(cluster_id)}};
    r.body = "Method Not Allowed\n";
    return finish(std::move(r), meta);
  }
  // types.IDFromString: strconv.ParseUint(id, 16, 64).
  std::uint64_t value = 0;
  bool ok = id.size() <= 16;
  for (const char c : id) {
    const int digit = (c >= '0' && c <= '9')   ? c - '0'
                      : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                      : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                               : -1;
    ok = ok && digit >= 0;
    if (ok) value = value * 16 + static_cast<std::uint64_t>(digit);
  }
  if (!ok)
    return members_error_response(404, "No such member: " + std::string(id), cluster_id, meta);
  if (method == "PUT") {
    if (auto bad = members_content_type_error(request)) {
      return members_error_response(415, *bad, cluster_id, meta);
    }
  }
  routed.endpoint = method == "PUT" ? Endpoint::MemberUpdate : Endpoint::MemberRemove;
  routed.member_id = value;
  return routed;
}

}  // namespace

Route route(const Request& request, std::uint64_t cluster_id, std::optional<WallTime> date) {
  auto target = parse_target(request.target());
  if (!target) return go_bad_request("");
  // Go names the missing Host in its answer but not a repeated one.
  const auto hosts = request.count(http::field::host);
  if (request.version() >= 11 && hosts == 0)
    return go_bad_request(": missing required Host header");
  if (hosts > 1) return go_bad_request("");
  const ResponseMeta meta = response_meta(request, date);
  const std::string_view method = request.method_string();
  if (target->path == "*") return asterisk_answer(method, meta);
  if (method == "OPTIONS") return finish(GoResponse{}, meta);
  std::string path = clean_path(target->path);
  if (path == "/v3") return redirect("/v3/", target->raw_query, method, meta);
  if (path != target->path) return redirect(path, target->raw_query, method, meta);
  Routed routed{Endpoint::Keys, std::move(path), std::move(target->raw_query)};
  const std::string_view p = routed.path;
  if (under(p, kKeysPrefix)) {
    if (auto bad = check_method(method, {"HEAD", "GET", "PUT", "POST", "DELETE"}, meta))
      return *bad;
    return routed;
  }
  if (under(p, kMembersPrefix)) return route_members(request, std::move(routed), cluster_id, meta);
  struct Exact {
    std::string_view path;
    Endpoint endpoint;
    std::initializer_list<std::string_view> methods;  // empty: any method
  };
  static const std::array<Exact, 10> kExact = {{
      {"/v2/machines", Endpoint::Machines, {"GET", "HEAD"}},
      {"/v2/stats/self", Endpoint::StatsSelf, {"GET"}},
      {"/v2/stats/leader", Endpoint::StatsLeader, {"GET"}},
      {"/v2/stats/store", Endpoint::StatsStore, {"GET"}},
      {"/version", Endpoint::Version, {"GET"}},
      {"/health", Endpoint::Health, {"GET"}},
      {"/metrics", Endpoint::Metrics, {}},
      {"/debug/vars", Endpoint::DebugVars, {}},
      {"/config/local/log", Endpoint::ConfigLocalLog, {"PUT"}},
      {"/v2/auth/enable", Endpoint::Auth, {"GET", "PUT", "DELETE"}},
  }};
  for (const Exact& e : kExact) {
    if (p != e.path) continue;
    if (e.methods.size() != 0) {
      if (auto bad = check_method(method, e.methods, meta)) return *bad;
    }
    routed.endpoint = e.endpoint;
    return routed;
  }
  if (under(p, "/v2/auth/users") || under(p, "/v2/auth/roles")) {
    // The collection ("/v2/auth/users", "/v2/auth/users/") lists; an item is read or written.
    const bool collection = p.size() <= std::string_view("/v2/auth/users/").size();
    if (auto bad = collection ? check_method(method, {"GET"}, meta)
                              : check_method(method, {"GET", "PUT", "DELETE"}, meta)) {
      return *bad;
    }
    routed.endpoint = Endpoint::Auth;
    return routed;
  }
  if (starts_with(p, "/v3/")) {
    routed.endpoint = Endpoint::V3Gateway;
    return routed;
  }
  return plain_error_response(404, "404 page not found", "", meta);
}

}  // namespace discovery::api
