#include "sqlproxy/protocol/framing.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sqlproxy::protocol {
namespace {

constexpr std::size_t kBig = 64u << 20;

std::vector<Packet> drain(PacketReader& reader) {
  std::vector<Packet> out;
  while (true) {
    auto p = reader.next();
    EXPECT_TRUE(p);
    if (!p || !*p) return out;
    out.push_back(std::move(**p));
  }
}

TEST(FramingTest, SmallPacketHeader) {
  const std::string wire = frame("\x03SELECT 1", 0);
  ASSERT_EQ(wire.size(), 4u + 9u);
  EXPECT_EQ(wire.substr(0, 4), std::string("\x09\x00\x00\x00", 4));
}

TEST(FramingTest, EmptyPayloadIsOneEmptyFrame) {
  EXPECT_EQ(frame("", 7), std::string("\x00\x00\x00\x07", 4));
}

TEST(FramingTest, LargePayloadSplitsAndRejoins) {
  std::string payload(2 * kMaxFramePayload + 10, '\0');
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 7);
  const std::string wire = frame(payload, 254);
  ASSERT_EQ(wire.size(), payload.size() + 3 * kFrameHeaderSize);
  EXPECT_EQ(wire.substr(0, 4), std::string("\xff\xff\xff\xfe", 4));
  EXPECT_EQ(static_cast<std::uint8_t>(wire[kFrameHeaderSize + kMaxFramePayload + 3]), 0xFF);
  // The sequence id wraps from 255 to 0.
  EXPECT_EQ(static_cast<std::uint8_t>(wire[2 * (kFrameHeaderSize + kMaxFramePayload) + 3]), 0);
  PacketReader reader(kBig);
  reader.feed(wire);
  auto packets = drain(reader);
  ASSERT_EQ(packets.size(), 1u);
  EXPECT_EQ(packets[0].sequence_id, 254);
  EXPECT_EQ(packets[0].frames, 3u);
  EXPECT_TRUE(packets[0].payload == payload);
  EXPECT_EQ(reader.buffered(), 0u);
}

TEST(FramingTest, ExactMultipleEndsWithEmptyFrame) {
  const std::string payload(kMaxFramePayload, 'a');
  const std::string wire = frame(payload, 0);
  ASSERT_EQ(wire.size(), payload.size() + 2 * kFrameHeaderSize);
  EXPECT_EQ(wire.substr(wire.size() - 4), std::string("\x00\x00\x00\x01", 4));
  PacketReader reader(kBig);
  reader.feed(wire.substr(0, wire.size() - 4));
  auto none = reader.next();
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);  // the full frame alone does not end the packet
  reader.feed(wire.substr(wire.size() - 4));
  auto packets = drain(reader);
  ASSERT_EQ(packets.size(), 1u);
  EXPECT_EQ(packets[0].payload.size(), kMaxFramePayload);
}

TEST(FramingTest, OneByteAtATimeYieldsSamePackets) {
  const std::vector<std::string> payloads = {"", "\x0e", std::string(300, 'q'), "\x01"};
  std::string wire;
  std::uint8_t seq = 0;
  for (const auto& p : payloads) wire += frame(p, seq++);
  PacketReader reader(1024);
  std::vector<Packet> got;
  for (char c : wire) {
    reader.feed(std::string_view(&c, 1));
    auto more = drain(reader);
    for (auto& p : more) got.push_back(std::move(p));
  }
  ASSERT_EQ(got.size(), payloads.size());
  for (std::size_t i = 0; i < payloads.size(); ++i) {
    EXPECT_EQ(got[i].payload, payloads[i]);
    EXPECT_EQ(got[i].sequence_id, i);
  }
}

TEST(FramingTest, LargePayloadFedInOddChunks) {
  const std::string payload(kMaxFramePayload + 5, 'z');
  const std::string wire = frame(payload, 3) + frame("\x01", 5);
  PacketReader reader(kBig);
  std::vector<Packet> got;
  for (std::size_t pos = 0; pos < wire.size(); pos += 65521) {
    reader.feed(std::string_view(wire).substr(pos, 65521));
    for (auto& p : drain(reader)) got.push_back(std::move(p));
  }
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(got[0].payload == payload);
  EXPECT_EQ(got[1].payload, "\x01");
  EXPECT_EQ(got[1].sequence_id, 5);
}

TEST(FramingTest, OversizedPacketFailsOnHeaderAndStaysFailed) {
  PacketReader reader(100);
  reader.feed(frame(std::string(100, 'a'), 0));
  auto ok = reader.next();
  ASSERT_TRUE(ok && *ok);
  reader.feed(std::string("\x65\x00\x00\x01", 4));  // 101 bytes announced, none sent
  auto bad = reader.next();
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), Error::PacketTooLarge);
  reader.feed(frame("x", 2));
  EXPECT_EQ(reader.next().error(), Error::PacketTooLarge);
}

TEST(FramingTest, SplitPacketCountsTowardsBound) {
  PacketReader reader(kMaxFramePayload + 3);
  reader.feed(frame(std::string(kMaxFramePayload + 4, 'a'), 0));
  EXPECT_EQ(reader.next().error(), Error::PacketTooLarge);
}

TEST(FramingTest, ContinuationWithWrongSequenceFails) {
  std::string wire = frame(std::string(kMaxFramePayload + 1, 'a'), 0);
  wire[kFrameHeaderSize + kMaxFramePayload + 3] = 9;
  PacketReader reader(kBig);
  reader.feed(wire);
  EXPECT_EQ(reader.next().error(), Error::BadSequence);
}

}  // namespace
}  // namespace sqlproxy::protocol
