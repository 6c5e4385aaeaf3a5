#include "discovery/server/peer_frame.h"

#include <gtest/gtest.h>

namespace discovery::server {
namespace {

pb::Envelope message_envelope(std::uint64_t index, std::string data = "") {
  pb::Envelope envelope;
  raft::pb::Message& m = *envelope.mutable_message();
  m.set_type(raft::pb::MsgApp);
  m.set_from(1);
  m.set_to(2);
  m.set_index(index);
  m.add_entries()->set_data(std::move(data));
  return envelope;
}

std::vector<pb::Envelope> read_all(FrameReader& reader) {
  std::vector<pb::Envelope> out;
  for (;;) {
    auto next = reader.next();
    EXPECT_TRUE(next.has_value());
    if (!next || !*next) return out;
    out.push_back(std::move(**next));
  }
}

TEST(PeerFrame, RoundTripsFedOneByteAtATime) {
  std::string wire;
  for (std::uint64_t i = 1; i <= 3; ++i)
    append_frame(wire, message_envelope(i, std::string(i * 100, 'x')));
  FrameReader reader(1 << 20);
  std::vector<pb::Envelope> got;
  for (const char c : wire) {
    reader.feed(std::string_view(&c, 1));
    for (pb::Envelope& e : read_all(reader)) got.push_back(std::move(e));
  }
  ASSERT_EQ(got.size(), 3u);
  for (std::uint64_t i = 1; i <= 3; ++i) {
    EXPECT_EQ(got[i - 1].message().index(), i);
    EXPECT_EQ(got[i - 1].message().entries(0).data().size(), i * 100);
  }
  EXPECT_EQ(reader.buffered_bytes(), 0u);
}

TEST(PeerFrame, OversizedLengthIsRefusedFromTheHeaderAlone) {
  std::string wire;
  append_frame(wire, message_envelope(1, std::string(1000, 'x')));
  FrameReader reader(100);
  reader.feed(std::string_view(wire).substr(0, kFrameHeaderBytes));
  auto next = reader.next();
  ASSERT_FALSE(next.has_value());
  EXPECT_EQ(next.error(), FrameError::TooLarge);
  reader.feed(std::string_view(wire).substr(kFrameHeaderBytes));
  EXPECT_EQ(reader.next().error(), FrameError::TooLarge);  // sticky
}

TEST(PeerFrame, GarbageBodyIsMalformed) {
  FrameReader reader(1 << 20);
  reader.feed(std::string("\0\0\0\3\xff\xff\xff", 7));
  EXPECT_EQ(reader.next().error(), FrameError::Malformed);
}

TEST(PeerFrame, EnvelopeWithoutBodyIsRefused) {
  FrameReader reader(1 << 20);
  reader.feed(std::string("\0\0\0\0", 4));
  EXPECT_EQ(reader.next().error(), FrameError::Empty);
  // Unknown fields only (field 15, varint 1): parses, but carries nothing we know.
  FrameReader unknown(1 << 20);
  unknown.feed(std::string("\0\0\0\2\x78\x01", 6));
  EXPECT_EQ(unknown.next().error(), FrameError::Empty);
}

TEST(PeerFrame, PartialFrameWaitsForMore) {
  std::string wire;
  append_frame(wire, message_envelope(7));
  FrameReader reader(1 << 20);
  reader.feed(std::string_view(wire).substr(0, wire.size() - 1));
  auto next = reader.next();
  ASSERT_TRUE(next.has_value());
  EXPECT_FALSE(next->has_value());
  reader.feed(std::string_view(wire).substr(wire.size() - 1));
  next = reader.next();
  ASSERT_TRUE(next.has_value() && next->has_value());
  EXPECT_EQ((*next)->message().index(), 7u);
}

}  // namespace
}  // namespace discovery::server
