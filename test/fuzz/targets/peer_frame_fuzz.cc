// libFuzzer target for discovery::server::FrameReader, the decoder of peer frames.
//
// Input layout: byte 0 picks the chunk size (1..256) in which the rest is fed to the reader.
// Properties checked beyond "no crash, no sanitizer report":
//   - feeding in chunks and feeding all at once give the same envelopes and the same outcome;
//   - an error, once returned, is returned again;
//   - the reader never buffers more than one frame plus one chunk;
//   - every envelope decoded encodes to a frame that decodes to the same envelope.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "discovery/server/peer_frame.h"

namespace {

using discovery::server::append_frame;
using discovery::server::FrameError;
using discovery::server::FrameReader;
using discovery::server::kFrameHeaderBytes;

constexpr std::size_t kFrameBytesMax = 4096;

void require(bool condition) {
  if (!condition) std::abort();
}

struct Outcome {
  std::vector<std::string> envelopes;  // serialized
  std::optional<FrameError> error;
};

void drain(FrameReader& reader, Outcome& out) {
  while (!out.error) {
    auto next = reader.next();
    if (!next) {
      out.error = next.error();
      auto again = reader.next();
      require(!again && again.error() == next.error());
      return;
    }
    if (!*next) return;
    out.envelopes.push_back((*next)->SerializeAsString());
    std::string frame;
    append_frame(frame, **next);
    FrameReader again(frame.size());
    again.feed(frame);
    auto reread = again.next();
    require(reread && *reread && (*reread)->SerializeAsString() == out.envelopes.back());
  }
}

Outcome run(std::string_view input, std::size_t chunk) {
  FrameReader reader(kFrameBytesMax);
  Outcome out;
  for (std::size_t pos = 0; pos < input.size() && !out.error; pos += chunk) {
    reader.feed(input.substr(pos, chunk));
    drain(reader, out);
    require(out.error || reader.buffered_bytes() <= kFrameBytesMax + kFrameHeaderBytes + chunk);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t chunk = std::size_t{data[0]} + 1;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  const Outcome chunked = run(input, chunk);
  const Outcome whole = run(input, input.size() + 1);
  require(chunked.envelopes == whole.envelopes);
  require(chunked.error == whole.error);
  return 0;
}
