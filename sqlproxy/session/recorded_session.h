#pragma once
// Reading and replaying recorded MySQL sessions (test/testdata/sqlproxy/*.rec, written by
// test/support/record_mysql_sessions.py): a sequence of chunks, each a direction byte ('C' client
// to server, 'S' server to client), a 4-byte little-endian length and the bytes, in the order a
// relay forwarded them. Used by the replay test and the fuzz targets; pure.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sqlproxy/protocol/frame_scanner.h"
#include "sqlproxy/session/relay_state.h"

namespace sqlproxy::session {

struct RecordedChunk {
  bool from_server = false;
  std::string bytes;
};

// nullopt when the data is not a whole sequence of chunks.
std::optional<std::vector<RecordedChunk>> parse_recording(std::string_view data);

// Two FrameScanners and a RelayState, fed chunk by chunk as a Session feeds them (it stops
// reading a direction's packets once the state is opaque).
class Replayer {
 public:
  Replayer();
  // Feeds one chunk; returns the error text of the first protocol error (sticky).
  std::optional<std::string> feed(bool from_server, std::string_view bytes);
  const RelayState& state() const { return state_; }

 private:
  protocol::FrameScanner client_;
  protocol::FrameScanner server_;
  RelayState state_;
  std::optional<std::string> error_;
};

}  // namespace sqlproxy::session
