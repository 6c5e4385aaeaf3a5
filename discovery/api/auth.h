#pragma once
// The /v2/auth endpoints of an etcd 3.4 cluster that never enabled authentication and has no
// users: the answers etcd 3.4.23 gives there, so that etcdctl's read-only auth commands behave
// as against etcd. Pure; thread-safe.

#include <cstdint>

#include "discovery/api/response.h"
#include "discovery/api/route.h"

namespace discovery::api {

// Precondition: route() returned Endpoint::Auth for `request` (so the method is allowed).
// Answers (all JSON with X-Etcd-Cluster-Id):
//   GET enable -> 200 {"enabled":false}\n; PUT enable -> 409 "auth: No root user available,
//   please create one"; DELETE enable -> 409 "auth: already disabled";
//   GET users -> 200 {"users":null}\n; GET users/<u> -> 404 "auth: User <u> does not exist.";
//   DELETE users/<u> -> 404 "auth: User <u> does not exist";
//   GET roles -> the built-in root role; GET roles/root -> it; GET roles/<r> -> 404
//   "auth: Role <r> does not exist."; DELETE roles/root -> 403 "auth: Cannot modify role root:
//   is root role."; DELETE roles/<r> -> 404 "auth: Role <r> doesn't exist.".
// Creating users or roles (PUT users/<u>, roles/<r>) is not supported: 501
// {"message":"auth: not supported by this server"} (etcd would store them).
Response auth_disabled_response(const Request& request, const Routed& routed,
                                std::uint64_t cluster_id, const ResponseMeta& meta);

}  // namespace discovery::api
