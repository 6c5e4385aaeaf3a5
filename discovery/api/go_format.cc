#include "discovery/api/go_format.h"

#include <array>
#include <charconv>
#include <cmath>
#include <limits>
#include <system_error>

namespace discovery::api {
namespace {

constexpr char kLowerHex[] = "0123456789abcdef";

void append_u_escape(std::string& out, std::uint32_t code) {
  out += "\\u";
  for (int shift = 12; shift >= 0; shift -= 4) {
    out += kLowerHex[(code >> shift) & 0xF];
  }
}

// Go's encoding/json leaves these ASCII bytes unescaped when HTML escaping is on: everything
// printable except `"`, `\`, `<`, `>` and `&`. DEL (0x7F) counts as safe, which is why etcd
// answers carry it raw (pinned by the escaping test).
bool json_html_safe(unsigned char b) {
  return b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&';
}

// Division rounding toward negative infinity, for times before 1970.
std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

struct CivilDate {
  std::int64_t year;
  unsigned month;
  unsigned day;
};

// Proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's days_from_civil
// inverse; public-domain algorithm).
CivilDate civil_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = floor_div(z, 146097);
  const auto doe = static_cast<std::uint64_t>(z - era * 146097);
  const std::uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  const std::uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::uint64_t mp = (5 * doy + 2) / 153;
  const auto d = static_cast<unsigned>(doy - (153 * mp + 2) / 5 + 1);
  const auto m = static_cast<unsigned>(mp < 10 ? mp + 3 : mp - 9);
  return {m <= 2 ? y + 1 : y, m, d};
}

void append_padded(std::string& out, std::uint64_t v, int width) {
  std::array<char, 24> buf{};
  int n = 0;
  do {
    buf[static_cast<std::size_t>(n++)] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  for (int i = n; i < width; ++i) out += '0';
  while (n > 0) out += buf[static_cast<std::size_t>(--n)];
}

// Go's fmtFrac: writes ".ddd" for v % 10^prec with trailing zeros removed (nothing when the
// fraction is zero) and returns v / 10^prec.
std::uint64_t prepend_fraction(std::string& tail, std::uint64_t v, int prec) {
  std::string digits;
  bool print = false;
  for (int i = 0; i < prec; ++i) {
    const auto digit = static_cast<char>('0' + v % 10);
    print = print || digit != '0';
    if (print) digits.insert(digits.begin(), digit);
    v /= 10;
  }
  if (print) tail.insert(0, "." + digits);
  return v;
}

void prepend_int(std::string& tail, std::uint64_t v) { tail.insert(0, std::to_string(v)); }

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      if (json_html_safe(b)) {
        out += static_cast<char>(b);
      } else if (b == '"' || b == '\\') {
        out += '\\';
        out += static_cast<char>(b);
      } else if (b == '\n') {
        out += "\\n";
      } else if (b == '\r') {
        out += "\\r";
      } else if (b == '\t') {
        out += "\\t";
      } else {
        append_u_escape(out, b);
      }
      ++i;
      continue;
    }
    const Rune r = decode_rune(s, i);
    if (r.value == 0xFFFD && r.size == 1) {
      out += "\\ufffd";
    } else if (r.value == 0x2028 || r.value == 0x2029) {
      append_u_escape(out, r.value);
    } else {
      out.append(s.substr(i, r.size));
    }
    i += r.size;
  }
  out += '"';
}

std::string json_string(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  append_json_string(out, s);
  return out;
}

std::string format_go_float(double f) {
  // Go prints the shortest round-trip digits; in plain notation it pads them with zeros instead
  // of printing the exact binary value (1.2345678901234568e20 -> "123456789012345680000"), so
  // take the shortest scientific form and re-place its decimal point.
  std::array<char, 64> buf{};
  const auto [end, ec] =
      std::to_chars(buf.data(), buf.data() + buf.size(), f, std::chars_format::scientific);
  const std::string sci(buf.data(), ec == std::errc{} ? end : buf.data());
  const std::size_t e = sci.find('e');
  const int exp10 = std::stoi(sci.substr(e + 1));
  const double a = std::fabs(f);
  if (a != 0 && (a < 1e-6 || a >= 1e21)) {
    // Go writes at least two exponent digits and then drops the zero of "e-07".
    std::string out = sci;
    const std::size_t n = out.size();
    if (n >= 4 && out[n - 4] == 'e' && out[n - 3] == '-' && out[n - 2] == '0') out.erase(n - 2, 1);
    return out;
  }
  std::string out = f < 0 ? "-" : "";
  std::string digits;
  for (std::size_t i = f < 0 ? 1 : 0; i < e; ++i) {
    if (sci[i] != '.') digits += sci[i];
  }
  if (a == 0) return out + "0";
  const int point = exp10 + 1;  // digits before the decimal point
  if (point <= 0) {
    out += "0." + std::string(static_cast<std::size_t>(-point), '0') + digits;
  } else if (static_cast<std::size_t>(point) >= digits.size()) {
    out += digits + std::string(static_cast<std::size_t>(point) - digits.size(), '0');
  } else {
    out += digits.substr(0, static_cast<std::size_t>(point)) + "." +
           digits.substr(static_cast<std::size_t>(point));
  }
  return out;
}

std::string format_rfc3339_nano_unix_ns(std::int64_t unix_ns) {
  constexpr std::int64_t kNanosPerSecond = 1'000'000'000;
  const std::int64_t secs = floor_div(unix_ns, kNanosPerSecond);
  // The remainder, not unix_ns - secs * 1e9: that product overflows for the earliest times.
  const std::int64_t rem = unix_ns % kNanosPerSecond;
  const auto nanos = static_cast<std::uint64_t>(rem < 0 ? rem + kNanosPerSecond : rem);
  const std::int64_t days = floor_div(secs, 86400);
  const auto sod = static_cast<std::uint64_t>(secs - days * 86400);
  const CivilDate date = civil_from_days(days);
  std::string out;
  out.reserve(32);
  if (date.year < 0) out += '-';
  append_padded(out, static_cast<std::uint64_t>(date.year < 0 ? -date.year : date.year), 4);
  out += '-';
  append_padded(out, date.month, 2);
  out += '-';
  append_padded(out, date.day, 2);
  out += 'T';
  append_padded(out, sod / 3600, 2);
  out += ':';
  append_padded(out, sod / 60 % 60, 2);
  out += ':';
  append_padded(out, sod % 60, 2);
  if (nanos != 0) {
    std::string frac;
    append_padded(frac, nanos, 9);
    while (frac.back() == '0') frac.pop_back();
    out += '.';
    out += frac;
  }
  out += 'Z';
  return out;
}

std::string format_rfc3339_nano(WallTime t) {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch());
  return format_rfc3339_nano_unix_ns(ns.count());
}

std::string format_go_duration(std::int64_t ns) {
  const bool negative = ns < 0;
  std::uint64_t u = negative ? 0 - static_cast<std::uint64_t>(ns) : static_cast<std::uint64_t>(ns);
  if (u == 0) return "0s";
  std::string tail;
  if (u < 1'000'000'000) {
    int prec = 0;
    if (u < 1'000) {
      tail = "ns";
    } else if (u < 1'000'000) {
      prec = 3;
      tail = "\xC2\xB5s";  // U+00B5 MICRO SIGN, as Go writes it
    } else {
      prec = 6;
      tail = "ms";
    }
    u = prepend_fraction(tail, u, prec);
    prepend_int(tail, u);
  } else {
    tail = "s";
    u = prepend_fraction(tail, u, 9);
    prepend_int(tail, u % 60);
    u /= 60;
    if (u > 0) {
      tail.insert(0, "m");
      prepend_int(tail, u % 60);
      u /= 60;
      if (u > 0) {
        tail.insert(0, "h");
        prepend_int(tail, u);
      }
    }
  }
  if (negative) tail.insert(0, "-");
  return tail;
}

std::optional<bool> parse_go_bool(std::string_view s) {
  if (s == "1" || s == "t" || s == "T" || s == "TRUE" || s == "true" || s == "True") return true;
  if (s == "0" || s == "f" || s == "F" || s == "FALSE" || s == "false" || s == "False") {
    return false;
  }
  return std::nullopt;
}

std::optional<std::uint64_t> parse_go_uint64(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::uint64_t v = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (v > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) return std::nullopt;
    v = v * 10 + digit;
  }
  return v;
}

std::string go_path_clean(std::string_view p) {
  if (p.empty()) return ".";
  const bool rooted = p.front() == '/';
  std::string out;
  out.reserve(p.size());
  if (rooted) out += '/';
  // dotdot marks how much of `out` a ".." may remove (Go's lazybuf algorithm).
  std::size_t dotdot = out.size();
  std::size_t r = rooted ? 1 : 0;
  while (r < p.size()) {
    const bool empty_element = p[r] == '/';
    const bool dot_element = p[r] == '.' && (r + 1 == p.size() || p[r + 1] == '/');
    if (empty_element || dot_element) {
      ++r;
    } else if (p[r] == '.' && p[r + 1] == '.' && (r + 2 == p.size() || p[r + 2] == '/')) {
      r += 2;
      if (out.size() > dotdot) {
        std::size_t w = out.size() - 1;
        while (w > dotdot && out[w] != '/') --w;
        out.resize(w);
      } else if (!rooted) {
        if (!out.empty()) out += '/';
        out += "..";
        dotdot = out.size();
      }
    } else {
      if ((rooted && out.size() != 1) || (!rooted && !out.empty())) out += '/';
      while (r < p.size() && p[r] != '/') out += p[r++];
    }
  }
  if (out.empty()) return ".";
  return out;
}

}  // namespace discovery::api
