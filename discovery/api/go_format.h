#pragma once
// Byte-exact renderings of the Go standard library formats that etcd 3.4 (built with Go 1.19)
// puts on the wire: encoding/json strings and floats, time.RFC3339Nano, time.Duration.String,
// strconv.Quote, strconv.ParseBool/ParseUint and path.Clean. Pure functions, no state, safe
// from any thread.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/go_text.h"

namespace discovery::api {

// Go text helpers shared with the flag parser (common/go_text.h).
using common::decode_rune;
using common::go_quote;
using common::Rune;

using WallTime = std::chrono::system_clock::time_point;

// Appends `s` as a JSON string literal (with the quotes) exactly as Go's json.Encoder does with
// HTML escaping on: `<`, `>`, `&` as \u003c \u003e \u0026; U+2028/U+2029 as \u2028 \u2029;
// `"` and `\` backslashed; \n \r \t short; other bytes below 0x20 as \u00XX (lowercase hex);
// DEL and valid non-ASCII UTF-8 raw; every byte of an invalid UTF-8 sequence as \ufffd.
void append_json_string(std::string& out, std::string_view s);
std::string json_string(std::string_view s);

// Go's JSON rendering of a float64: shortest round-trip digits, plain notation for
// 1e-6 <= |f| < 1e21 and exponent notation (e-7, e+21) outside. Precondition: f is finite.
std::string format_go_float(double f);

// time.Time.Format(time.RFC3339Nano) in UTC: "2026-11-27T04:21:26.4994405Z", fraction with
// trailing zeros trimmed and left out when zero. Works for any time_point, including the
// pre-1970 times that etcd produces when a huge ttl wraps around.
std::string format_rfc3339_nano(WallTime t);
// The same for Unix nanoseconds.
std::string format_rfc3339_nano_unix_ns(std::int64_t unix_ns);

// time.Duration(ns).String(): "0s", "1.5ms", "100µs", "7.764107857s", "1h2m3.5s", "-2s".
std::string format_go_duration(std::int64_t ns);

// strconv.ParseBool: 1 t T TRUE true True 0 f F FALSE false False; nullopt for anything else.
std::optional<bool> parse_go_bool(std::string_view s);

// strconv.ParseUint(s, 10, 64): ASCII digits only (no sign, no underscores, not empty), value
// within uint64; nullopt otherwise.
std::optional<std::uint64_t> parse_go_uint64(std::string_view s);

// path.Clean: the shortest equivalent slash path ("" -> ".", "/a/../b/" -> "/b").
std::string go_path_clean(std::string_view p);

}  // namespace discovery::api
