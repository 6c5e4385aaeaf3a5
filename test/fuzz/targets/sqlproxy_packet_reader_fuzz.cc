// libFuzzer target for sqlproxy::protocol::PacketReader.
//
// Input layout: byte 0 picks the chunk size (1..256) in which the rest is fed to the reader.
// Properties checked beyond "no crash, no sanitizer report":
//   - the packets read, framed again with their sequence ids, are exactly the bytes consumed;
//   - feeding in chunks and feeding all at once give the same packets and the same outcome;
//   - no packet exceeds the bound, and an error, once returned, is returned again.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "sqlproxy/protocol/framing.h"

namespace {

using sqlproxy::protocol::Error;
using sqlproxy::protocol::PacketReader;

constexpr std::size_t kMaxPayload = 4096;

void require(bool condition) {
  if (!condition) std::abort();
}

struct Outcome {
  std::string reframed;
  std::optional<Error> error;
};

Outcome run(std::string_view input, std::size_t chunk) {
  PacketReader reader(kMaxPayload);
  Outcome out;
  for (std::size_t pos = 0; pos < input.size() && !out.error; pos += chunk) {
    reader.feed(input.substr(pos, chunk));
    while (true) {
      auto p = reader.next();
      if (!p) {
        out.error = p.error();
        auto again = reader.next();
        require(!again && again.error() == p.error());
        break;
      }
      if (!*p) break;
      require((*p)->payload.size() <= kMaxPayload);
      out.reframed += sqlproxy::protocol::frame((*p)->payload, (*p)->sequence_id);
    }
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
  require(chunked.reframed == whole.reframed);
  require(chunked.error == whole.error);
  require(input.substr(0, whole.reframed.size()) == whole.reframed);
  return 0;
}
