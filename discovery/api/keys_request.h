#pragma once
// KeysRequest: one /v2/keys request after etcd 3.4's parameter parsing (v2http
// parseKeyRequest), and the replicated write command built from it. Pure; thread-safe.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "discovery/api/go_format.h"
#include "discovery/api/response.h"
#include "discovery/store/command.pb.h"
#include "discovery/store/error.h"

namespace discovery::api {

enum class KeysMethod { Get, Head, Put, Post, Delete };

// Field meanings follow etcd's parameters. Invariants after a successful parse: key is a clean
// absolute path ("/" for the root, no trailing slash); `wait` implies method Get; refresh ==
// true implies ttl_seconds is set and value is empty.
struct KeysRequest {
  KeysMethod method = KeysMethod::Get;
  std::string key;
  std::string value;  // first "value"; "" when absent
  bool dir = false;
  bool recursive = false;
  bool sorted = false;
  bool wait = false;
  bool quorum = false;
  bool stream = false;
  bool no_value_on_success = false;
  std::string prev_value;        // "" = no value condition (an explicit empty one is error 201)
  std::uint64_t prev_index = 0;  // 0 = no index condition
  std::optional<bool> prev_exist;
  std::optional<bool> refresh;
  std::uint64_t wait_index = 0;  // etcd's "since"; only meaningful with wait
  // nullopt: no TTL (also for "ttl=", which makes a set remove an existing TTL).
  std::optional<std::uint64_t> ttl_seconds;

  bool is_write() const {
    return method == KeysMethod::Put || method == KeysMethod::Post || method == KeysMethod::Delete;
  }
  friend bool operator==(const KeysRequest&, const KeysRequest&) = default;
};

// Parses a request that route() sent to Endpoint::Keys. Go's ParseForm rules (form body for
// POST/PUT/PATCH with Content-Type application/x-www-form-urlencoded first, then the query;
// first value wins; other bodies ignored), then etcd's checks in etcd's order; the first
// failure is the answer (store::Error with index 0):
//   210 form errors (cause: Go's error text), 203 prevIndex, 203 waitIndex,
//   209 recursive, sorted, wait, dir, quorum, stream (cause `invalid value for "name"`),
//   209 wait on a non-GET, 201 empty prevValue, 209 noValueOnSuccess, 202 ttl,
//   209 prevExist, 209 refresh (cause without quotes), 211 refresh with a value,
//   212 refresh without ttl.
// Preconditions: the target parses (route() checked it).
common::Result<KeysRequest, store::Error> parse_keys_request(const Request& request);

// The same on the request's parts, for fuzzing and tests: `path` is the decoded clean path
// starting with "/v2/keys".
common::Result<KeysRequest, store::Error> parse_keys_request(std::string_view method,
                                                             std::string_view path,
                                                             std::string_view raw_query,
                                                             std::string_view content_type,
                                                             std::string_view body);

// The replicated command for a write (PUT, POST, DELETE). time_unix_ns = now. With a ttl the
// expiration is now + ttl seconds computed with Go's wrapping int64 arithmetic
// (time.Duration(ttl) * time.Second, then UnixNano), so huge ttls give the same times etcd
// gives: ttl=18446744073709551615 is now - 1 s; ttl=10000000000 lands in 1759. The store is
// responsible for etcd's "before 2000-01-01 means permanent" rule, which etcd applies to set
// and create only (update and compareAndSwap keep the 1759 expiration).
// Precondition: request.is_write().
store::pb::Command make_write_command(const KeysRequest& request, WallTime now);

}  // namespace discovery::api
