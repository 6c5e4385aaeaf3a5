#pragma once
// Peer frames: a 4-byte big-endian length, then that many bytes of one pb::Envelope (peer.proto).
// FrameReader turns a byte stream into envelopes; append_frame() does the reverse. Pure: no I/O.
//
// FrameReader is owned by one connection and is not thread-safe. Invariants: it never holds more
// than frame_bytes_max + 4 bytes of one frame plus one read's worth of the next; a frame whose
// length exceeds frame_bytes_max is refused from its 4-byte header alone, before its body is read;
// once next() returns an error it returns the same error forever (the connection is to be closed).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "discovery/server/peer.pb.h"

namespace discovery::server {

inline constexpr std::size_t kFrameHeaderBytes = 4;

enum class FrameError {
  TooLarge = 1,  // the length header is above the limit
  Malformed,     // the body does not parse as an Envelope
  Empty,         // the Envelope carries no body
};

const char* to_string(FrameError error);

// Appends one frame holding `envelope` to `out`. CHECKs that it fits the 4-byte length.
void append_frame(std::string& out, const pb::Envelope& envelope);

class FrameReader {
 public:
  explicit FrameReader(std::size_t frame_bytes_max) : frame_bytes_max_(frame_bytes_max) {}

  // Writable space for at least `bytes` more input at the end of the buffer (valid until the next
  // call of any method); report what was written with commit().
  std::span<char> prepare(std::size_t bytes);
  void commit(std::size_t bytes);
  // Copies `bytes` in (prepare + commit).
  void feed(std::string_view bytes);

  // The next complete envelope, std::nullopt if more input is needed, or the error that ends the
  // stream.
  common::Result<std::optional<pb::Envelope>, FrameError> next();

  std::size_t buffered_bytes() const { return end_ - begin_; }
  // Changes the limit for the frames not yet returned (a connection admits a small handshake
  // frame first, then full-size frames).
  void set_frame_bytes_max(std::size_t bytes) { frame_bytes_max_ = bytes; }

 private:
  std::size_t frame_bytes_max_;
  std::vector<char> buffer_;
  std::size_t begin_ = 0;  // first unread byte
  std::size_t end_ = 0;    // one past the last byte read in
  std::optional<FrameError> error_;
};

}  // namespace discovery::server
