// Fuzz target: Go-compatible output formats. Invariants: json_string output is valid UTF-8,
// starts and ends with '"', contains no raw control byte, '<', '>' or '&'; go_path_clean is
// idempotent; go_quote is quoted; format_rfc3339_nano_unix_ns and format_go_duration accept
// any int64.

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "discovery/api/go_format.h"

namespace {

using namespace discovery::api;

void check(bool ok) {
  if (!ok) std::abort();
}

bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const Rune r = decode_rune(s, i);
    if (r.value == 0xFFFD && r.size == 1) return false;
    i += r.size;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view s(reinterpret_cast<const char*>(data), size);
  const std::string json = json_string(s);
  check(json.size() >= 2 && json.front() == '"' && json.back() == '"');
  check(valid_utf8(json));
  for (const char c : json) {
    const auto u = static_cast<unsigned char>(c);
    check(u >= 0x20 && c != '<' && c != '>' && c != '&');
  }
  const std::string clean = go_path_clean(s);
  check(go_path_clean(clean) == clean);
  const std::string quoted = go_quote(s);
  check(quoted.size() >= 2 && quoted.front() == '"' && quoted.back() == '"');
  if (size >= 8) {
    std::int64_t v = 0;
    std::memcpy(&v, data, sizeof v);
    check(!format_rfc3339_nano_unix_ns(v).empty());
    check(!format_go_duration(v).empty());
    const double f = static_cast<double>(v) / 3.0;
    check(!format_go_float(f).empty());
  }
  (void)parse_go_bool(s);
  (void)parse_go_uint64(s);
  return 0;
}
