#include "sqlproxy/session/recorded_session.h"

#include "sqlproxy/protocol/wire.h"

namespace sqlproxy::session {

std::optional<std::vector<RecordedChunk>> parse_recording(std::string_view data) {
  std::vector<RecordedChunk> out;
  protocol::WireReader r(data);
  while (!r.empty()) {
    auto tag = r.u8();
    auto length = r.u32();
    if (!tag || !length || (*tag != 'C' && *tag != 'S')) return std::nullopt;
    auto bytes = r.bytes(*length);
    if (!bytes) return std::nullopt;
    out.push_back(RecordedChunk{*tag == 'S', std::string(*bytes)});
  }
  return out;
}

// The same bounds a Session uses (session.cc).
Replayer::Replayer() : client_(256, std::size_t{1} << 30), server_(256, std::size_t{1} << 30) {}

std::optional<std::string> Replayer::feed(bool from_server, std::string_view bytes) {
  if (error_) return error_;
  protocol::FrameScanner& scanner = from_server ? server_ : client_;
  scanner.feed(bytes);
  while (!state_.opaque()) {
    auto head = scanner.next();
    if (!head) {
      error_ = std::string("framing: ") + std::string(protocol::error_name(head.error()));
      break;
    }
    if (!*head) break;
    auto step = from_server ? state_.on_server_packet(**head) : state_.on_client_packet(**head);
    if (!step) {
      error_ = step.error();
      break;
    }
  }
  return error_;
}

}  // namespace sqlproxy::session
