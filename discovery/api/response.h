#pragma once
// Complete Beast responses as etcd 3.4.23 (Go 1.19 net/http) frames them: status, headers in
// Go's order, Content-Length or chunked, HEAD without body. Pure; thread-safe.
//
// Header order (Go writes handler headers sorted by name, then Date, Content-Length, a sniffed
// Content-Type, Connection, Transfer-Encoding):
//   Access-Control-Allow-Headers/-Methods/-Origin (every response except Go's own 400s),
//   Allow, Content-Type, Location, X-Content-Type-Options, X-Etcd-Cluster-Id, X-Etcd-Index,
//   X-Raft-Index, X-Raft-Term, Date, Content-Length, Content-Type (sniffed: /health,
//   /v2/machines), Connection (Beast, from keep_alive), Transfer-Encoding.
// Framing (Go's 2048-byte response buffer): a body of at most 2048 bytes gets Content-Length;
// a longer one is sent chunked, as one chunk (set by Beast's chunked(true)). HEAD keeps the
// Content-Length of the body it would have had, up to 2048 bytes; above that it has neither
// header. A HEAD whose handler writes nothing (a redirect) has no Content-Length.
// The server must write responses with Beast's serializer as they are (no prepare_payload()):
// Content-Length and Transfer-Encoding are already right, and the body of HEAD is empty.

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "discovery/api/go_format.h"
#include "discovery/api/render.h"
#include "discovery/store/error.h"
#include "discovery/store/event.h"

namespace discovery::api {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

// Facts of the request that every answer depends on.
struct ResponseMeta {
  unsigned version = 11;  // echo of the request's HTTP version (Go answers 1.0 with 1.0)
  bool keep_alive = true;
  bool head = false;
  // Value of the Date header; nullopt leaves Date out (tests). The server passes its wall clock.
  std::optional<WallTime> date;
};
ResponseMeta response_meta(const Request& request, std::optional<WallTime> date);

// Go's http.TimeFormat: "Fri, 27 Nov 2026 06:35:50 GMT".
std::string format_http_date(WallTime t);

// Go's response buffer: bodies longer than this are sent chunked.
inline constexpr std::size_t kUnchunkedBodyBytesMax = 2048;

// The raft position a successful keys answer reports (X-Raft-Index, X-Raft-Term).
struct RaftPosition {
  std::uint64_t index = 0;
  std::uint64_t term = 0;
};

// A response under construction, before framing: what a Go handler would have set and written.
// Plain value, built and consumed on one thread. finish() sorts the handler headers, adds CORS
// (unless cors is false), Date, framing and Connection, and drops the body of HEAD.
struct GoResponse {
  unsigned status = 200;
  std::string reason;  // empty: the standard reason phrase
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string sniffed_content_type;  // set when Go would sniff (handler set no Content-Type)
  bool cors = true;
};
Response finish(GoResponse response, const ResponseMeta& meta);

// The bytes Beast's serializer would write for `response` (status line, the fields in their
// order, then the body, as one chunk and the last chunk when chunked), built in one string so
// the server can send an answer with a single write. Pinned against Beast by response_test.
std::string to_wire(const Response& response);

// --- /v2/keys ---------------------------------------------------------------------------------
// A store event: 201 when the event created a node (set on a new key, create), else 200.
// Headers: Content-Type application/json, X-Etcd-Cluster-Id, X-Etcd-Index (event.etcd_index),
// X-Raft-Index, X-Raft-Term. Body render_event(event, no_value_on_success).
Response keys_event_response(const store::Event& event, bool no_value_on_success,
                             std::uint64_t cluster_id, RaftPosition raft, const ResponseMeta& meta);

// True when the event answers with 201 Created: etcd's Event.IsCreated (a create, or a set that
// had no previous node).
bool event_is_created(const store::Event& event);

// A keys error (parse error or store error): status store::http_status(code), Content-Type
// application/json, X-Etcd-Cluster-Id, X-Etcd-Index = error.index, no X-Raft-*; body
// render_error. `cluster_id` nullopt leaves X-Etcd-Cluster-Id out (never for keys; kept for
// the auth handlers that write the same body).
Response keys_error_response(const store::Error& error, std::optional<std::uint64_t> cluster_id,
                             const ResponseMeta& meta);

// The header of a watch answer (wait=true), which etcd flushes as soon as the watcher is
// registered: 200, application/json, X-Etcd-Cluster-Id, X-Etcd-Index = the store index at
// registration, X-Raft-Index, X-Raft-Term, chunked. The server writes it with a Beast
// serializer and then each event as one chunk: render_event(event) ("\n"-terminated). Without
// stream=true the answer ends after the first event (final empty chunk).
http::response<http::empty_body> keys_watch_header(std::uint64_t etcd_index,
                                                   std::uint64_t cluster_id, RaftPosition raft,
                                                   const ResponseMeta& meta);

// --- members, machines, stats, version, health -------------------------------------------------
// GET /v2/members: 200 application/json, X-Etcd-Cluster-Id, render_members.
Response members_response(std::vector<Member> members, std::uint64_t cluster_id,
                          const ResponseMeta& meta);
// GET /v2/members/leader: the leader, or 503 {"message":"During election"} when none.
Response members_leader_response(const std::optional<Member>& leader, std::uint64_t cluster_id,
                                 const ResponseMeta& meta);
// A {"message":…} error of the members handler (404 "Not found", 409, 410, 415, 500 …):
// Content-Type application/json and X-Etcd-Cluster-Id; no trailing newline.
Response members_error_response(unsigned status, std::string_view message, std::uint64_t cluster_id,
                                const ResponseMeta& meta);
// 204 answers of member remove and update (no body, no Content-Length, no Content-Type).
Response members_no_content_response(std::uint64_t cluster_id, const ResponseMeta& meta);
// 201 answer of a member add.
Response member_created_response(const Member& member, std::uint64_t cluster_id,
                                 const ResponseMeta& meta);

// GET/HEAD /v2/machines: "url1, url2", Content-Type sniffed as text/plain; charset=utf-8.
Response machines_response(std::vector<std::string> client_urls, const ResponseMeta& meta);

// /v2/stats/*: application/json, no cluster id header. stats_leader_response(nullopt) is the
// follower's 403 {"message":"not current leader"}.
Response stats_self_response(const SelfStats& stats, const ResponseMeta& meta);
Response stats_leader_response(const std::optional<LeaderStats>& stats, const ResponseMeta& meta);
Response stats_store_response(const StoreStats& stats, const ResponseMeta& meta);

// GET /version: {"etcdserver":…,"etcdcluster":…}, application/json.
Response version_response(std::string_view server_version, std::string_view cluster_version,
                          const ResponseMeta& meta);

// GET /health: healthy: 200 {"health":"true"} (sniffed text/plain; charset=utf-8); unhealthy:
// 503 {"health":"false"}\n as Go's http.Error writes it (with X-Content-Type-Options).
Response health_response(bool healthy, const ResponseMeta& meta);

// /metrics (any method): the Prometheus text `body` with Content-Type
// "text/plain; version=0.0.4; charset=utf-8". etcd gzips it when the client sends
// Accept-Encoding: gzip (Content-Encoding: gzip); this layer always answers uncompressed, which
// every scraper accepts.
Response metrics_response(std::string body, const ResponseMeta& meta);

// A Go http.Error answer: text/plain; charset=utf-8, X-Content-Type-Options: nosniff, body
// text + "\n". `allow` non-empty adds the Allow header (405s).
Response plain_error_response(unsigned status, std::string_view text, std::string_view allow,
                              const ResponseMeta& meta);

}  // namespace discovery::api
