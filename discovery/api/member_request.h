#pragma once
// The JSON body of POST /v2/members and PUT /v2/members/<id> ({"peerURLs":[…]}) parsed and
// validated as etcd 3.4 does (httptypes.MemberCreateRequest + types.NewURLs). Pure; thread-safe.

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace discovery::api {

// The error answer is 400 {"message":<text>} (members_error_response). Texts that match etcd
// 3.4.23 exactly:
//   "unexpected end of JSON input" (empty body), "no valid URLs given" (missing, null or []),
//   "URL scheme must be http, https, unix, or unixs: <url>",
//   "URL address does not have the form \"host:port\": <url>",
//   "URL must not contain a path: <url>",
//   "parse \"<url>\": invalid URL escape \"%zz\"", "parse \"<url>\": invalid port \":b\" after
//   host", "json: cannot unmarshal string into Go struct field .peerURLs of type []string" (and
//   number/bool/object; elements: "... of type string").
// Other JSON syntax errors get a Go-like "invalid character …" text that may differ from Go's.
// The field name matches case-insensitively, as Go's encoding/json does.
struct MemberRequestError {
  std::string message;
};

// On success: the peer URLs, trimmed, with the scheme lowercased, sorted as etcd sorts them.
common::Result<std::vector<std::string>, MemberRequestError> parse_member_peer_urls(
    std::string_view body);

}  // namespace discovery::api
