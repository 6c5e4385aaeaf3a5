#include "sqlproxy/protocol/frame_scanner.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sqlproxy/protocol/framing.h"

namespace sqlproxy::protocol {
namespace {

struct Seen {
  std::uint8_t seq;
  std::size_t length;
  std::string prefix;
  friend bool operator==(const Seen&, const Seen&) = default;
};

// Feeds `bytes` in chunks of `chunk` bytes and collects every packet head.
Result<std::vector<Seen>> scan(std::string_view bytes, std::size_t chunk, std::size_t prefix_max,
                               std::size_t max_payload = 1u << 30) {
  FrameScanner scanner(prefix_max, max_payload);
  std::vector<Seen> out;
  for (std::size_t pos = 0; pos < bytes.size(); pos += chunk) {
    scanner.feed(bytes.substr(pos, chunk));
    while (true) {
      auto head = scanner.next();
      if (!head) return head.error();
      if (!*head) break;
      out.push_back(Seen{(*head)->sequence_id, (*head)->length, std::string((*head)->prefix)});
    }
  }
  return out;
}

TEST(FrameScannerTest, SmallPacketsAnyChunking) {
  const std::string bytes = frame("abc", 0) + frame("", 1) + frame(std::string(300, 'x'), 2);
  const std::vector<Seen> want = {{0, 3, "abc"}, {1, 0, ""}, {2, 300, std::string(64, 'x')}};
  for (std::size_t chunk = 1; chunk <= bytes.size(); ++chunk) {
    auto got = scan(bytes, chunk, 64);
    ASSERT_TRUE(got) << chunk;
    EXPECT_EQ(*got, want) << chunk;
  }
}

TEST(FrameScannerTest, SplitPacketIsOneHead) {
  // 0xFFFFFF + 5 bytes: two frames; exactly 0xFFFFFF: a full frame and an empty one.
  const std::string big(kMaxFramePayload + 5, 'y');
  const std::string exact(kMaxFramePayload, 'z');
  const std::string bytes = frame(big, 7) + frame(exact, 9) + frame("q", 0);
  for (std::size_t chunk : {std::size_t{4096}, std::size_t{65536}, bytes.size()}) {
    auto got = scan(bytes, chunk, 8);
    ASSERT_TRUE(got);
    ASSERT_EQ(got->size(), 3u);
    EXPECT_EQ((*got)[0], (Seen{7, big.size(), "yyyyyyyy"}));
    EXPECT_EQ((*got)[1], (Seen{9, exact.size(), "zzzzzzzz"}));
    EXPECT_EQ((*got)[2], (Seen{0, 1, "q"}));
  }
}

TEST(FrameScannerTest, BadContinuationSequenceFailsAndStaysFailed) {
  std::string bytes = frame(std::string(kMaxFramePayload + 1, 'a'), 0);
  bytes[kFrameHeaderSize + kMaxFramePayload + 3] = 5;  // second frame should carry 1
  FrameScanner scanner(16, 1u << 30);
  scanner.feed(bytes);
  auto head = scanner.next();
  ASSERT_FALSE(head);
  EXPECT_EQ(head.error(), Error::BadSequence);
  scanner.feed("more");
  EXPECT_FALSE(scanner.next());
}

TEST(FrameScannerTest, PacketOverBoundFails) {
  auto got = scan(frame(std::string(100, 'a'), 0), 10, 16, 99);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error(), Error::PacketTooLarge);
}

TEST(FrameScannerTest, TruncatedStreamYieldsNothingAtEveryOffset) {
  const std::string bytes = frame("hello world", 3);
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    FrameScanner scanner(64, 1u << 30);
    scanner.feed(std::string_view(bytes).substr(0, n));
    auto head = scanner.next();
    ASSERT_TRUE(head);
    EXPECT_FALSE(*head) << n;
    EXPECT_EQ(scanner.at_packet_boundary(), n == 0) << n;
  }
}

}  // namespace
}  // namespace sqlproxy::protocol
