#include "sqlproxy/protocol/frame_scanner.h"

#include <algorithm>

#include "sqlproxy/protocol/framing.h"

namespace sqlproxy::protocol {

void FrameScanner::feed(std::string_view chunk) {
  chunk_ = chunk;
  pos_ = 0;
}

bool FrameScanner::take_header() {
  const std::size_t n = std::min(kFrameHeaderSize - header_have_, chunk_.size() - pos_);
  for (std::size_t i = 0; i < n; ++i) {
    header_[header_have_++] = static_cast<unsigned char>(chunk_[pos_++]);
  }
  return header_have_ == kFrameHeaderSize;
}

Result<void> FrameScanner::start_frame() {
  header_have_ = 0;
  frame_length_ =
      std::size_t{header_[0]} | (std::size_t{header_[1]} << 8) | (std::size_t{header_[2]} << 16);
  const std::uint8_t seq = header_[3];
  if (in_packet_) {
    // A continuation of a packet of 0xFFFFFF bytes or more (framing.h).
    if (seq != next_sequence_id_) return Error::BadSequence;
  } else {
    in_packet_ = true;
    sequence_id_ = seq;
    length_ = 0;
    prefix_.clear();
  }
  if (length_ + frame_length_ > max_payload_) return Error::PacketTooLarge;
  next_sequence_id_ = static_cast<std::uint8_t>(seq + 1);
  in_frame_ = true;
  frame_left_ = frame_length_;
  return {};
}

Result<std::optional<PacketHead>> FrameScanner::next() {
  if (failed_) return *failed_;
  while (true) {
    if (!in_frame_) {
      if (!take_header()) return std::optional<PacketHead>{};
      if (auto started = start_frame(); !started) {
        failed_ = started.error();
        return *failed_;
      }
    }
    const std::size_t n = std::min(frame_left_, chunk_.size() - pos_);
    if (prefix_.size() < prefix_bytes_max_) {
      prefix_.append(chunk_.substr(pos_, std::min(n, prefix_bytes_max_ - prefix_.size())));
    }
    pos_ += n;
    frame_left_ -= n;
    length_ += n;
    if (frame_left_ > 0) return std::optional<PacketHead>{};
    in_frame_ = false;
    if (frame_length_ == kMaxFramePayload) continue;  // more frames of this packet follow
    in_packet_ = false;
    return std::optional<PacketHead>{PacketHead{sequence_id_, length_, prefix_}};
  }
}

}  // namespace sqlproxy::protocol
