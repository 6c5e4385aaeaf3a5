#include "discovery/server/member_id.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <vector>

namespace discovery::server {
namespace {

std::uint32_t rotl(std::uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

// SHA-1 (FIPS 180-4) of `data`, returning the first 8 bytes of the digest as a big-endian
// integer, which is all the ID derivation uses. A local implementation keeps this pure module free
// of a crypto library dependency; the inputs are public, so no constant-time care is needed.
std::uint64_t sha1_prefix64(const std::vector<std::uint8_t>& data) {
  std::array<std::uint32_t, 5> h = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
  std::vector<std::uint8_t> msg = data;
  const std::uint64_t bit_length = static_cast<std::uint64_t>(data.size()) * 8;
  msg.push_back(0x80);
  while (msg.size() % 64 != 56) msg.push_back(0);
  for (int shift = 56; shift >= 0; shift -= 8) {
    msg.push_back(static_cast<std::uint8_t>(bit_length >> shift));
  }
  for (std::size_t block = 0; block < msg.size(); block += 64) {
    std::array<std::uint32_t, 80> w{};
    for (std::size_t t = 0; t < 16; ++t) {
      const std::size_t o = block + 4 * t;
      w[t] = (std::uint32_t{msg[o]} << 24) | (std::uint32_t{msg[o + 1]} << 16) |
             (std::uint32_t{msg[o + 2]} << 8) | std::uint32_t{msg[o + 3]};
    }
    for (std::size_t t = 16; t < 80; ++t)
      w[t] = rotl(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
    auto [a, b, c, d, e] = h;
    for (std::size_t t = 0; t < 80; ++t) {
      std::uint32_t f = 0;
      std::uint32_t k = 0;
      if (t < 20) {
        f = (b & c) | (~b & d);
        k = 0x5A827999;
      } else if (t < 40) {
        f = b ^ c ^ d;
        k = 0x6ED9EBA1;
      } else if (t < 60) {
        f = (b & c) | (b & d) | (c & d);
        k = 0x8F1BBCDC;
      } else {
        f = b ^ c ^ d;
        k = 0xCA62C1D6;
      }
      const std::uint32_t temp = rotl(a, 5) + f + e + k + w[t];
      e = d;
      d = c;
      c = rotl(b, 30);
      b = a;
      a = temp;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
  }
  return (std::uint64_t{h[0]} << 32) | h[1];
}

void append(std::vector<std::uint8_t>& out, std::string_view text) {
  out.insert(out.end(), text.begin(), text.end());
}

}  // namespace

std::uint64_t compute_member_id(std::span<const std::string> peer_urls,
                                std::string_view cluster_token,
                                std::optional<std::int64_t> unix_seconds) {
  std::vector<std::string> sorted(peer_urls.begin(), peer_urls.end());
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::uint8_t> input;
  for (const std::string& url : sorted) append(input, url);
  append(input, cluster_token);
  if (unix_seconds) append(input, fmt::format("{}", *unix_seconds));
  return sha1_prefix64(input);
}

std::uint64_t compute_cluster_id(std::span<const std::uint64_t> member_ids) {
  std::vector<std::uint64_t> sorted(member_ids.begin(), member_ids.end());
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::uint8_t> input;
  for (const std::uint64_t id : sorted) {
    for (int shift = 56; shift >= 0; shift -= 8)
      input.push_back(static_cast<std::uint8_t>(id >> shift));
  }
  return sha1_prefix64(input);
}

std::string format_id(std::uint64_t id) { return fmt::format("{:x}", id); }

}  // namespace discovery::server
