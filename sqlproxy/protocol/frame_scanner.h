#pragma once
// FrameScanner: follows the MySQL frame structure of a byte stream that a relay forwards as it is,
// without copying payloads. For each logical packet (one frame, or several 0xFFFFFF-byte frames
// and a shorter last one) it reports the sequence id of the first frame, the total payload length
// and a copy of at most prefix_bytes_max leading payload bytes: enough to classify the packet and
// read an OK/EOF/ERR header or a command byte.
//
// Usage: feed(chunk), then call next() until it yields nullopt; the chunk must stay alive until
// then. Owned by one relay direction; single-threaded. Invariants: a stream that breaks the
// framing rules (a continuation frame whose sequence id is not the next one, a logical packet
// longer than max_payload) fails once and stays failed; bytes of one packet may arrive in any
// number of chunks.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "sqlproxy/protocol/error.h"

namespace sqlproxy::protocol {

// What a relay learns about one logical packet. `prefix` borrows the scanner's storage and is
// valid until the next call to feed() or next().
struct PacketHead {
  std::uint8_t sequence_id = 0;
  std::size_t length = 0;   // whole logical payload
  std::string_view prefix;  // first min(length, prefix_bytes_max) payload bytes
  // The payload is all in prefix (length <= prefix_bytes_max).
  bool whole() const { return prefix.size() == length; }
};

class FrameScanner {
 public:
  // max_payload bounds a logical packet (MySQL's own bound is max_allowed_packet, at most 1 GiB).
  FrameScanner(std::size_t prefix_bytes_max, std::size_t max_payload)
      : prefix_bytes_max_(prefix_bytes_max), max_payload_(max_payload) {}

  // Precondition: the previous chunk has been scanned to the end (next() yielded nullopt).
  void feed(std::string_view chunk);
  // The next packet completed by the fed bytes, nullopt when the chunk is used up, or the
  // stream's error (returned again by every later call).
  Result<std::optional<PacketHead>> next();
  // True between packets: no frame header or payload is partly read.
  bool at_packet_boundary() const { return header_have_ == 0 && !in_packet_; }

 private:
  // Reads a whole frame header from the chunk when one is available; false when more is needed.
  bool take_header();
  Result<void> start_frame();

  std::size_t prefix_bytes_max_;
  std::size_t max_payload_;
  std::string_view chunk_;
  std::size_t pos_ = 0;
  unsigned char header_[4] = {};
  std::size_t header_have_ = 0;
  bool in_frame_ = false;         // a header was read; payload bytes may remain
  std::size_t frame_left_ = 0;    // payload bytes of the current frame still to come
  std::size_t frame_length_ = 0;  // payload length of the current frame
  bool in_packet_ = false;        // a logical packet has started and not ended
  std::uint8_t sequence_id_ = 0;
  std::uint8_t next_sequence_id_ = 0;
  std::size_t length_ = 0;
  std::string prefix_;
  std::optional<Error> failed_;
};

}  // namespace sqlproxy::protocol
