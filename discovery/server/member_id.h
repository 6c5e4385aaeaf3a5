#pragma once
// Member and cluster IDs derived exactly as etcd 3.4 derives them, so that a discovery member
// started with the same flags as an etcd member reports the same IDs in /v2/members and in the
// X-Etcd-Cluster-Id header (python-etcd compares the header across requests).
//
// Pure functions; thread-safe.

#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace discovery::server {

// The ID of a member with the given peer URLs (their canonical text, e.g. "http://10.0.0.1:2380").
// etcd: the first 8 bytes, big-endian, of SHA-1 over the peer URLs sorted and concatenated, then
// `cluster_token`, then (when given) the decimal Unix time in seconds.
//   - bootstrap (--initial-cluster-state new or existing): token = --initial-cluster-token,
//     no time;
//   - a member added at runtime through POST /v2/members: token = "", time = now.
std::uint64_t compute_member_id(std::span<const std::string> peer_urls,
                                std::string_view cluster_token,
                                std::optional<std::int64_t> unix_seconds = std::nullopt);

// The cluster ID: the first 8 bytes, big-endian, of SHA-1 over the member IDs sorted ascending,
// each as 8 big-endian bytes.
std::uint64_t compute_cluster_id(std::span<const std::uint64_t> member_ids);

// Who a member is: its member ID and its cluster's ID. Derived from the flags when a member
// bootstraps a new cluster, learned from the cluster when it joins one, and stored with the data
// afterwards (a restarted member ignores its flags, as etcd does).
struct Identity {
  std::uint64_t member_id = 0;
  std::uint64_t cluster_id = 0;
  bool operator==(const Identity&) const = default;
};

// etcd's text form of an ID: lower-case hex without leading zeros ("8e9e05c52164694d").
std::string format_id(std::uint64_t id);

}  // namespace discovery::server
