#include "discovery/server/peer_frame.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "common/check.h"

namespace discovery::server {

const char* to_string(FrameError error) {
  switch (error) {
    case FrameError::TooLarge:
      return "frame too large";
    case FrameError::Malformed:
      return "malformed frame";
    case FrameError::Empty:
      return "empty frame";
  }
  return "unknown frame error";
}

void append_frame(std::string& out, const pb::Envelope& envelope) {
  const std::size_t bytes = envelope.ByteSizeLong();
  CHECK(bytes <= std::numeric_limits<std::uint32_t>::max(), "frame of {} bytes", bytes);
  const std::size_t at = out.size();
  out.resize(at + kFrameHeaderBytes + bytes);
  for (std::size_t i = 0; i < kFrameHeaderBytes; ++i) {
    out[at + i] = static_cast<char>((bytes >> (8 * (kFrameHeaderBytes - 1 - i))) & 0xff);
  }
  CHECK(envelope.SerializeWithCachedSizesToArray(
            reinterpret_cast<std::uint8_t*>(out.data() + at + kFrameHeaderBytes)) ==
            reinterpret_cast<std::uint8_t*>(out.data() + out.size()),
        "frame serialization size changed");
}

std::span<char> FrameReader::prepare(std::size_t bytes) {
  if (buffer_.size() - end_ < bytes) {
    // Move the unread bytes to the front before growing, so the buffer stays at about one frame.
    if (begin_ > 0) {
      if (end_ > begin_) std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (buffer_.size() - end_ < bytes) buffer_.resize(end_ + bytes);
  }
  return {buffer_.data() + end_, bytes};
}

void FrameReader::commit(std::size_t bytes) {
  CHECK(end_ + bytes <= buffer_.size(), "commit of {} bytes beyond the prepared space", bytes);
  end_ += bytes;
}

void FrameReader::feed(std::string_view bytes) {
  const std::span<char> space = prepare(bytes.size());
  std::copy(bytes.begin(), bytes.end(), space.begin());
  commit(bytes.size());
}

common::Result<std::optional<pb::Envelope>, FrameError> FrameReader::next() {
  if (error_) return *error_;
  if (end_ - begin_ < kFrameHeaderBytes) return std::nullopt;
  std::size_t length = 0;
  for (std::size_t i = 0; i < kFrameHeaderBytes; ++i) {
    length = (length << 8) | static_cast<unsigned char>(buffer_[begin_ + i]);
  }
  if (length > frame_bytes_max_) {
    error_ = FrameError::TooLarge;
    return *error_;
  }
  if (end_ - begin_ - kFrameHeaderBytes < length) return std::nullopt;
  pb::Envelope envelope;
  const bool parsed = envelope.ParseFromArray(buffer_.data() + begin_ + kFrameHeaderBytes,
                                              static_cast<int>(length));
  begin_ += kFrameHeaderBytes + length;
  if (!parsed) {
    error_ = FrameError::Malformed;
    return *error_;
  }
  if (envelope.body_case() == pb::Envelope::BODY_NOT_SET) {
    error_ = FrameError::Empty;
    return *error_;
  }
  return envelope;
}

}  // namespace discovery::server
