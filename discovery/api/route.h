#pragma once
// route(): which etcd 3.4 endpoint an HTTP request is for, or the complete answer when etcd
// answers it before any endpoint logic runs. Pure; thread-safe.
//
// What route() answers itself, in etcd's order:
//  1. HTTP/1.1 without Host: Go's "400 Bad Request: missing required Host header"
//     page (status line reason included, no CORS, no Content-Length, Connection: close). The
//     server must close the connection after it (keep_alive() is false).
//  2. A target Go cannot parse (bad %-escape in the path, control byte, relative path) or two
//     Host headers: "400 Bad Request" page, same framing.
//  3. OPTIONS on any path: 200, CORS headers, Content-Length: 0.
//  4. A non-clean path ("//", "/./", "/../", also once decoded: "%2F..%2F"): 301 to the clean
//     path with the raw query kept (Go ServeMux + http.Redirect: Location escaped as a URL
//     path, non-ASCII bytes of the query as lowercase %xx; HTML body only for GET; Content-Type
//     for GET and HEAD). "/v3" redirects to "/v3/".
//  5. A wrong method for the endpoint: 405 "Method Not Allowed\n" with Allow:
//     keys HEAD,GET,PUT,POST,DELETE; members GET,POST,DELETE,PUT; machines GET,HEAD;
//     stats/version/health GET; /config/local/log PUT; /v2/auth/enable GET,PUT,DELETE;
//     /v2/auth/{users,roles}[/] GET; /v2/auth/{users,roles}/<name> GET,PUT,DELETE.
//  6. Members requests that fail before reaching the cluster: GET of an unknown
//     /v2/members/<x> (404 {"message":"Not found"}), DELETE/PUT without id (405 without
//     Allow), DELETE/PUT with an id that is not hex (404 {"message":"No such member: x"}),
//     POST/PUT with a Content-Type other than application/json (415).
//  7. Unknown paths (including /v2, /v2/keysfoo, /v2/stats, /version/): 404
//     "404 page not found\n".
// Everything else is a Routed value: the server serves it (and must read the body for keys,
// members POST/PUT).

#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "discovery/api/response.h"

namespace discovery::api {

enum class Endpoint {
  Keys,            // /v2/keys[/...]: HEAD GET PUT POST DELETE; parse with parse_keys_request
  MembersList,     // GET /v2/members[/]
  MembersLeader,   // GET /v2/members/leader
  MemberAdd,       // POST /v2/members (JSON body {"peerURLs":[…]})
  MemberRemove,    // DELETE /v2/members/<hex id>
  MemberUpdate,    // PUT /v2/members/<hex id> (JSON body {"peerURLs":[…]})
  Machines,        // GET/HEAD /v2/machines
  StatsSelf,       // GET /v2/stats/self
  StatsLeader,     // GET /v2/stats/leader
  StatsStore,      // GET /v2/stats/store
  Version,         // GET /version
  Health,          // GET /health (etcd also reads ?exclude=<alarm>)
  Metrics,         // /metrics, any method (Prometheus text, text/plain; version=0.0.4)
  Auth,            // /v2/auth/{enable,users[/…],roles[/…]}: not implemented by this layer
  DebugVars,       // /debug/vars (Go expvar JSON), any method
  ConfigLocalLog,  // PUT /config/local/log
  V3Gateway,       // /v3/...: etcd's gRPC gateway
};

struct Routed {
  Endpoint endpoint;
  std::string path;             // decoded and clean, e.g. "/v2/keys/a b"
  std::string raw_query;        // undecoded
  std::uint64_t member_id = 0;  // MemberRemove, MemberUpdate
};

using Route = std::variant<Routed, Response>;

// `cluster_id` feeds X-Etcd-Cluster-Id of the members answers made here; `date` is the Date
// header value (nullopt: none).
Route route(const Request& request, std::uint64_t cluster_id, std::optional<WallTime> date);

}  // namespace discovery::api
