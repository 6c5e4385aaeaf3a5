#include "discovery/server/member_id.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace discovery::server {
namespace {

struct IdCase {
  std::vector<std::string> peer_urls;
  std::string token;
  std::optional<std::int64_t> unix_seconds;
  std::string want_member_id;
};

// Every ID below was read from a real etcd 3.4.23 (GET /v2/members) started with these flags.
TEST(MemberIdTest, MatchesEtcd) {
  const std::vector<IdCase> cases = {
      // No flags at all: the well-known default member.
      {{"http://localhost:2380"}, "etcd-cluster", std::nullopt, "8e9e05c52164694d"},
      // --initial-cluster m0=...:58599,m1=...:41771,m2=...:42401 --initial-cluster-token tok-xyz
      {{"http://127.0.0.1:58599"}, "tok-xyz", std::nullopt, "b75c01ae5fa06b4c"},
      {{"http://127.0.0.1:41771"}, "tok-xyz", std::nullopt, "3412b03d0de0a832"},
      {{"http://127.0.0.1:42401"}, "tok-xyz", std::nullopt, "996d7a1545b1a69b"},
      // Two peer URLs given in reverse order: etcd sorts them before hashing.
      {{"http://127.0.0.1:37289", "http://127.0.0.1:37045"},
       "etcd-cluster",
       std::nullopt,
       "607f8a93baa4cfb"},
      // POST /v2/members {"peerURLs":["http://127.0.0.1:1"]} at Unix time 1795761392.
      {{"http://127.0.0.1:1"}, "", 1795761392, "fe764cf023d47778"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(format_id(compute_member_id(c.peer_urls, c.token, c.unix_seconds)), c.want_member_id)
        << c.peer_urls[0];
  }
}

// X-Etcd-Cluster-Id observed for the same three setups.
TEST(MemberIdTest, ClusterIdMatchesEtcd) {
  const std::vector<std::pair<std::vector<std::uint64_t>, std::string>> cases = {
      {{0x8e9e05c52164694dULL}, "cdf818194e3a8c32"},
      {{0xb75c01ae5fa06b4cULL, 0x3412b03d0de0a832ULL, 0x996d7a1545b1a69bULL}, "f0e6e2a10c41d0ae"},
      {{0x607f8a93baa4cfbULL}, "486fa2081368b72a"},
  };
  for (const auto& [ids, want] : cases) {
    EXPECT_EQ(format_id(compute_cluster_id(ids)), want);
  }
}

// Inputs longer than one 64-byte SHA-1 block; the expected value is from Python's hashlib with
// the same derivation, since the etcd cases above all fit in one block.
TEST(MemberIdTest, MultiBlockInput) {
  const std::vector<std::string> urls = {
      "https://very-long-hostname-number-two.example.internal:2380",
      "https://very-long-hostname-number-one.example.internal:2380"};
  EXPECT_EQ(format_id(compute_member_id(urls, "etcd-cluster")), "eac10bb040cabce5");
}

TEST(MemberIdTest, FormatHasNoLeadingZeros) {
  EXPECT_EQ(format_id(0x0607f8a93baa4cfbULL), "607f8a93baa4cfb");
  EXPECT_EQ(format_id(1), "1");
}

}  // namespace
}  // namespace discovery::server
