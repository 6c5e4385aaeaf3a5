#include "discovery/api/response.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

namespace discovery::api {
namespace {

constexpr std::string_view kJson = "application/json";
constexpr std::string_view kTextPlain = "text/plain; charset=utf-8";

// etcd 3.4 wraps every handler in its CORS handler with the default allowed origin "*".
void add_cors(GoResponse& r) {
  r.headers.emplace_back("Access-Control-Allow-Headers", "accept, content-type, authorization");
  r.headers.emplace_back("Access-Control-Allow-Methods", "POST, GET, OPTIONS, PUT, DELETE");
  r.headers.emplace_back("Access-Control-Allow-Origin", "*");
}

void add_cluster_id(GoResponse& r, std::uint64_t cluster_id) {
  r.headers.emplace_back("X-Etcd-Cluster-Id", format_member_id(cluster_id));
}

GoResponse json_response(unsigned status, std::string body) {
  GoResponse r;
  r.status = status;
  r.headers.emplace_back("Content-Type", kJson);
  r.body = std::move(body);
  return r;
}

bool body_allowed(unsigned status) { return !(status < 200 || status == 204 || status == 304); }

}  // namespace

ResponseMeta response_meta(const Request& request, std::optional<WallTime> date) {
  return ResponseMeta{request.version(), request.keep_alive(), request.method() == http::verb::head,
                      date};
}

std::string format_http_date(WallTime t) {
  static constexpr std::array<const char*, 7> kDays = {"Thu", "Fri", "Sat", "Sun",
                                                       "Mon", "Tue", "Wed"};
  static constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  // Reuse the RFC 3339 calendar arithmetic, then re-spell it.
  const std::string iso = format_rfc3339_nano(std::chrono::floor<std::chrono::seconds>(t));
  const auto secs = std::chrono::floor<std::chrono::seconds>(t).time_since_epoch().count();
  const auto days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  const auto weekday = static_cast<std::size_t>(((days % 7) + 7) % 7);
  const auto month = static_cast<std::size_t>(std::stoi(iso.substr(5, 2)) - 1);
  return fmt::format("{}, {} {} {} {} GMT", kDays[weekday], iso.substr(8, 2), kMonths[month],
                     iso.substr(0, 4), iso.substr(11, 8));
}

Response finish(GoResponse r, const ResponseMeta& meta) {
  if (r.cors) add_cors(r);
  // Go writes handler headers sorted by key; stable so repeated keys keep their order.
  std::stable_sort(r.headers.begin(), r.headers.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  Response res;
  res.version(meta.version);
  res.result(r.status);
  if (!r.reason.empty()) res.reason(r.reason);
  for (auto& [name, value] : r.headers) res.insert(name, value);
  if (meta.date) res.insert("Date", format_http_date(*meta.date));
  const std::size_t n = r.body.size();
  bool chunked = false;
  if (body_allowed(r.status)) {
    if (n > kUnchunkedBodyBytesMax) {
      chunked = !meta.head;
    } else if (!(meta.head && n == 0)) {
      res.content_length(n);
    }
  }
  if (!r.sniffed_content_type.empty()) res.insert("Content-Type", r.sniffed_content_type);
  // A handler-set Connection header (Go's 400 for "*") already decides; keep its position.
  const bool has_connection = std::any_of(r.headers.begin(), r.headers.end(),
                                          [](const auto& h) { return h.first == "Connection"; });
  if (!has_connection) res.keep_alive(meta.keep_alive);
  if (chunked) res.chunked(true);
  if (!meta.head && body_allowed(r.status)) res.body() = std::move(r.body);
  return res;
}

std::string to_wire(const Response& response) {
  const std::string& body = response.body();
  std::string wire;
  wire.reserve(256 + body.size());
  wire += response.version() == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  wire += std::to_string(response.result_int());
  wire += ' ';
  wire.append(response.reason());
  wire += "\r\n";
  for (const auto& field : response) {
    wire.append(field.name_string());
    wire += ": ";
    wire.append(field.value());
    wire += "\r\n";
  }
  wire += "\r\n";
  if (!response.chunked()) return wire + body;
  if (!body.empty()) {
    wire += fmt::format("{:x}\r\n", body.size());
    wire += body;
    wire += "\r\n";
  }
  wire += "0\r\n\r\n";
  return wire;
}

bool event_is_created(const store::Event& event) {
  return event.action == store::Action::Create ||
         (event.action == store::Action::Set && !event.prev_node);
}

Response keys_event_response(const store::Event& event, bool no_value_on_success,
                             std::uint64_t cluster_id, RaftPosition raft,
                             const ResponseMeta& meta) {
  GoResponse r =
      json_response(event_is_created(event) ? 201 : 200, render_event(event, no_value_on_success));
  add_cluster_id(r, cluster_id);
  r.headers.emplace_back("X-Etcd-Index", std::to_string(event.etcd_index));
  r.headers.emplace_back("X-Raft-Index", std::to_string(raft.index));
  r.headers.emplace_back("X-Raft-Term", std::to_string(raft.term));
  return finish(std::move(r), meta);
}

Response keys_error_response(const store::Error& error, std::optional<std::uint64_t> cluster_id,
                             const ResponseMeta& meta) {
  GoResponse r =
      json_response(static_cast<unsigned>(store::http_status(error.code)), render_error(error));
  if (cluster_id) add_cluster_id(r, *cluster_id);
  r.headers.emplace_back("X-Etcd-Index", std::to_string(error.index));
  return finish(std::move(r), meta);
}

http::response<http::empty_body> keys_watch_header(std::uint64_t etcd_index,
                                                   std::uint64_t cluster_id, RaftPosition raft,
                                                   const ResponseMeta& meta) {
  GoResponse r = json_response(200, "");
  add_cluster_id(r, cluster_id);
  r.headers.emplace_back("X-Etcd-Index", std::to_string(etcd_index));
  r.headers.emplace_back("X-Raft-Index", std::to_string(raft.index));
  r.headers.emplace_back("X-Raft-Term", std::to_string(raft.term));
  // A HEAD cannot watch (wait needs GET), so the header is always followed by chunks. The
  // placeholder body only makes finish() pick chunked framing.
  r.body.assign(kUnchunkedBodyBytesMax + 1, ' ');
  ResponseMeta streaming = meta;
  streaming.head = false;
  Response full = finish(std::move(r), streaming);
  http::response<http::empty_body> res{std::move(full.base())};
  return res;
}

Response members_response(std::vector<Member> members, std::uint64_t cluster_id,
                          const ResponseMeta& meta) {
  GoResponse r = json_response(200, render_members(std::move(members)));
  add_cluster_id(r, cluster_id);
  return finish(std::move(r), meta);
}

Response members_leader_response(const std::optional<Member>& leader, std::uint64_t cluster_id,
                                 const ResponseMeta& meta) {
  if (!leader) return members_error_response(503, "During election", cluster_id, meta);
  GoResponse r = json_response(200, render_member(*leader));
  add_cluster_id(r, cluster_id);
  return finish(std::move(r), meta);
}

Response members_error_response(unsigned status, std::string_view message, std::uint64_t cluster_id,
                                const ResponseMeta& meta) {
  GoResponse r = json_response(status, render_message_error(message));
  add_cluster_id(r, cluster_id);
  return finish(std::move(r), meta);
}

Response members_no_content_response(std::uint64_t cluster_id, const ResponseMeta& meta) {
  GoResponse r;
  r.status = 204;
  add_cluster_id(r, cluster_id);
  return finish(std::move(r), meta);
}

Response member_created_response(const Member& member, std::uint64_t cluster_id,
                                 const ResponseMeta& meta) {
  GoResponse r = json_response(201, render_member(member));
  add_cluster_id(r, cluster_id);
  return finish(std::move(r), meta);
}

Response machines_response(std::vector<std::string> client_urls, const ResponseMeta& meta) {
  GoResponse r;
  r.body = render_machines(std::move(client_urls));
  // Go sniffs a Content-Type only when there is a body to sniff.
  if (!r.body.empty()) r.sniffed_content_type = kTextPlain;
  return finish(std::move(r), meta);
}

Response stats_self_response(const SelfStats& stats, const ResponseMeta& meta) {
  return finish(json_response(200, render_self_stats(stats)), meta);
}

Response stats_leader_response(const std::optional<LeaderStats>& stats, const ResponseMeta& meta) {
  if (!stats) return finish(json_response(403, render_message_error("not current leader")), meta);
  return finish(json_response(200, render_leader_stats(*stats)), meta);
}

Response stats_store_response(const StoreStats& stats, const ResponseMeta& meta) {
  return finish(json_response(200, render_store_stats(stats)), meta);
}

Response version_response(std::string_view server_version, std::string_view cluster_version,
                          const ResponseMeta& meta) {
  return finish(json_response(200, render_version(server_version, cluster_version)), meta);
}

Response health_response(bool healthy, const ResponseMeta& meta) {
  if (!healthy) return plain_error_response(503, render_health(false), "", meta);
  GoResponse r;
  r.body = render_health(true);
  r.sniffed_content_type = kTextPlain;
  return finish(std::move(r), meta);
}

Response metrics_response(std::string body, const ResponseMeta& meta) {
  GoResponse r;
  r.headers.emplace_back("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
  r.body = std::move(body);
  return finish(std::move(r), meta);
}

Response plain_error_response(unsigned status, std::string_view text, std::string_view allow,
                              const ResponseMeta& meta) {
  GoResponse r;
  r.status = status;
  if (!allow.empty()) r.headers.emplace_back("Allow", allow);
  r.headers.emplace_back("Content-Type", kTextPlain);
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.body = std::string(text) + "\n";
  return finish(std::move(r), meta);
}

}  // namespace discovery::api
