#pragma once
// MySQL packet framing: every frame is a 3-byte little-endian payload length, a 1-byte sequence
// id and the payload. A logical packet of 0xFFFFFF bytes or more is split into frames of exactly
// 0xFFFFFF bytes followed by one shorter (possibly empty) frame; sequence ids go up by one per
// frame, modulo 256.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "sqlproxy/protocol/error.h"

namespace sqlproxy::protocol {

inline constexpr std::size_t kMaxFramePayload = 0xFFFFFF;
inline constexpr std::size_t kFrameHeaderSize = 4;

// One logical packet: the sequence id of its first frame and the joined payload. `frames` says
// how many frames carried it, so a relay knows which sequence id follows.
struct Packet {
  std::uint8_t sequence_id = 0;
  std::size_t frames = 1;
  std::string payload;
};

// The wire bytes of `payload` as frames starting at `first_sequence_id`.
std::string frame(std::string_view payload, std::uint8_t first_sequence_id);

// PacketReader: turns a byte stream fed in arbitrary chunks into whole logical packets. Owned by
// one connection, used from one thread. Invariants: never holds a logical payload larger than
// max_payload (it fails before buffering it); once an error is returned it is returned again by
// every later next() (the stream cannot be resynchronised).
class PacketReader {
 public:
  explicit PacketReader(std::size_t max_payload) : max_payload_(max_payload) {}

  void feed(std::string_view bytes);
  // A whole packet, nullopt when more bytes are needed, or the stream's error.
  Result<std::optional<Packet>> next();
  // Bytes fed but not yet returned in a packet (including a packet in assembly).
  std::size_t buffered() const { return buffer_.size() - pos_ + partial_.payload.size(); }

 private:
  void compact();

  std::size_t max_payload_;
  std::string buffer_;
  std::size_t pos_ = 0;
  Packet partial_;
  bool assembling_ = false;
  std::uint8_t next_sequence_id_ = 0;
  std::optional<Error> failed_;
};

}  // namespace sqlproxy::protocol
