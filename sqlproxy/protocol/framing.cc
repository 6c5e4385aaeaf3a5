#include "sqlproxy/protocol/framing.h"

#include <algorithm>

#include "sqlproxy/protocol/wire.h"

namespace sqlproxy::protocol {

std::string frame(std::string_view payload, std::uint8_t first_sequence_id) {
  std::string out;
  out.reserve(payload.size() + kFrameHeaderSize * (payload.size() / kMaxFramePayload + 1));
  std::uint8_t seq = first_sequence_id;
  std::size_t pos = 0;
  // Loop until a frame shorter than the maximum has been written: a payload that is an exact
  // multiple of 0xFFFFFF ends with an empty frame so the peer knows it is complete.
  while (true) {
    const std::size_t n = std::min(payload.size() - pos, kMaxFramePayload);
    put_u24(out, static_cast<std::uint32_t>(n));
    put_u8(out, seq++);
    out.append(payload.substr(pos, n));
    pos += n;
    if (n < kMaxFramePayload) break;
  }
  return out;
}

void PacketReader::feed(std::string_view bytes) {
  if (failed_) return;
  compact();
  buffer_.append(bytes);
}

void PacketReader::compact() {
  // Drop consumed bytes once they outweigh the live ones, so one-byte feeding stays linear.
  if (pos_ > 0 && pos_ >= buffer_.size() - pos_) {
    buffer_.erase(0, pos_);
    pos_ = 0;
  }
}

Result<std::optional<Packet>> PacketReader::next() {
  if (failed_) return *failed_;
  while (buffer_.size() - pos_ >= kFrameHeaderSize) {
    WireReader header(std::string_view(buffer_).substr(pos_, kFrameHeaderSize));
    const std::size_t len = *header.u24();
    const std::uint8_t seq = *header.u8();
    if (assembling_ && seq != next_sequence_id_) {
      failed_ = Error::BadSequence;
      return *failed_;
    }
    // Fail on the header, before buffering a payload we would refuse anyway.
    if (partial_.payload.size() + len > max_payload_) {
      failed_ = Error::PacketTooLarge;
      return *failed_;
    }
    if (buffer_.size() - pos_ < kFrameHeaderSize + len) break;
    if (!assembling_) {
      partial_ = Packet{seq, 0, {}};
      assembling_ = true;
    }
    partial_.payload.append(buffer_, pos_ + kFrameHeaderSize, len);
    ++partial_.frames;
    pos_ += kFrameHeaderSize + len;
    next_sequence_id_ = static_cast<std::uint8_t>(seq + 1);
    if (len < kMaxFramePayload) {
      assembling_ = false;
      compact();
      Packet done = std::move(partial_);
      partial_ = Packet{};
      return std::optional<Packet>{std::move(done)};
    }
  }
  return std::optional<Packet>{};
}

}  // namespace sqlproxy::protocol
