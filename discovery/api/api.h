#pragma once
// discovery/api: the HTTP layer of the etcd v2 server, as pure functions over Beast messages.
// No sockets, no store, no clock: the server passes the time (`now`, the Date header) and the
// cluster facts in, and writes the Beast responses it gets back as they are.
//
// Per request, the server does:
//   1. r = route(request, cluster_id, now)                                     (route.h)
//      - a Response: write it; close the connection when !res.keep_alive().
//      - a Routed value: dispatch on routed.endpoint.
//   2. Endpoint::Keys: k = parse_keys_request(request)                         (keys_request.h)
//      - error: keys_error_response(error, cluster_id, meta)                   (response.h)
//      - GET/HEAD without wait (HEAD reads like GET; quorum=true reads go through ReadIndex):
//        store get -> keys_event_response(event, false, cluster_id, raft, meta), or
//        keys_error_response(store error, cluster_id, meta).
//      - GET with wait: store watch -> keys_watch_header(start index, ...) written at once
//        (async_write_header), then each event as one chunk of render_event(event); one event
//        ends the answer unless k.stream. etcd answers every watch this way, also when the event
//        comes from history.
//      - PUT/POST/DELETE: make_write_command(k, now) -> propose -> applied event ->
//        keys_event_response(event, k.no_value_on_success, cluster_id, raft, meta).
//        A proposal timeout is keys_error_response({RaftInternal,
//        "etcdserver: request timed out", 0}, …) (HTTP 500).
//   3. Members: members_response / members_leader_response; MemberAdd/MemberUpdate read the
//      body with parse_member_peer_urls (member_request.h), errors via
//      members_error_response(400, message, …); 201 member_created_response; 204
//      members_no_content_response; conflicts 409 "membership: peerURL exists".
//   4. Auth: auth_disabled_response (auth.h).
//   5. Machines, stats, version, health, metrics: the *_response functions of response.h, fed
//      with plain structs (render.h).
// meta = response_meta(request, now) everywhere (HTTP version, keep-alive, HEAD, Date).
//
// Server duties this layer leaves out: 100-continue (Go sends "HTTP/1.1 100 Continue" when the
// handler reads the body of a request with Expect: 100-continue; curl waits for it for bodies
// over 1 KiB), the ~4 KiB request-line limit (etcd resets the connection), a body limit of at
// least kFormBodyBytesMax + 1 (form.h) so that parse_form can answer 210 "http: POST too large",
// and the Date header's clock.

#include "discovery/api/auth.h"            // IWYU pragma: export
#include "discovery/api/form.h"            // IWYU pragma: export
#include "discovery/api/go_format.h"       // IWYU pragma: export
#include "discovery/api/keys_request.h"    // IWYU pragma: export
#include "discovery/api/member_request.h"  // IWYU pragma: export
#include "discovery/api/render.h"          // IWYU pragma: export
#include "discovery/api/response.h"        // IWYU pragma: export
#include "discovery/api/route.h"           // IWYU pragma: export
