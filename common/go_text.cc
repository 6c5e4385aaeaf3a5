#include "common/go_text.h"

#include <cstdint>

namespace common {
namespace {

constexpr char kLowerHex[] = "0123456789abcdef";

void append_hex(std::string& out, std::uint32_t code, int digits) {
  for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4)
    out += kLowerHex[(code >> shift) & 0xF];
}

// strconv.Quote's escape for a non-printable rune: \u or \U with lowercase hex.
void append_u_escape(std::string& out, std::uint32_t code) {
  out += code < 0x10000 ? "\\u" : "\\U";
  append_hex(out, code, code < 0x10000 ? 4 : 8);
}

bool go_is_print(char32_t r) {
  if (r < 0x80) return r >= 0x20 && r != 0x7F;
  // Approximation of unicode.IsPrint for the bytes an escape error can show: C1 controls, the
  // soft hyphen and the line/paragraph separators are not printable.
  if (r < 0xA0 || r == 0xAD || r == 0x2028 || r == 0x2029) return false;
  return true;
}

}  // namespace

Rune decode_rune(std::string_view s, std::size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return {b0, 1};
  // Go's first-byte table: the sequence length and the accepted range of the second byte.
  std::size_t len = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return {0xFFFD, 1};
  }
  if (i + len > s.size()) return {0xFFFD, 1};
  const auto b1 = static_cast<unsigned char>(s[i + 1]);
  if (b1 < lo || b1 > hi) return {0xFFFD, 1};
  char32_t r = len == 2 ? (b0 & 0x1Fu) : len == 3 ? (b0 & 0x0Fu) : (b0 & 0x07u);
  r = (r << 6) | (b1 & 0x3Fu);
  for (std::size_t k = 2; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if (b < 0x80 || b > 0xBF) return {0xFFFD, 1};
    r = (r << 6) | (b & 0x3Fu);
  }
  return {r, len};
}

std::string go_quote(std::string_view s) {
  std::string out = "\"";
  std::size_t i = 0;
  while (i < s.size()) {
    const Rune r = decode_rune(s, i);
    if (r.value == 0xFFFD && r.size == 1) {
      const auto b = static_cast<unsigned char>(s[i]);
      out += "\\x";
      out += kLowerHex[b >> 4];
      out += kLowerHex[b & 0xF];
    } else if (r.value == '"' || r.value == '\\') {
      out += '\\';
      out += static_cast<char>(r.value);
    } else if (go_is_print(r.value)) {
      out.append(s.substr(i, r.size));
    } else {
      switch (r.value) {
        case '\a':
          out += "\\a";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        case '\v':
          out += "\\v";
          break;
        default:
          if (r.value < 0x20 || r.value == 0x7F) {
            out += "\\x";
            out += kLowerHex[(r.value >> 4) & 0xF];
            out += kLowerHex[r.value & 0xF];
          } else {
            append_u_escape(out, static_cast<std::uint32_t>(r.value));
          }
      }
    }
    i += r.size;
  }
  out += '"';
  return out;
}

std::string go_html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '\'':
        out += "&#39;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::vector<std::string_view> go_split(std::string_view s, char sep) {
  std::vector<std::string_view> pieces;
  std::size_t start = 0;
  for (;;) {
    const std::size_t end = s.find(sep, start);
    if (end == std::string_view::npos) {
      pieces.push_back(s.substr(start));
      return pieces;
    }
    pieces.push_back(s.substr(start, end - start));
    start = end + 1;
  }
}

}  // namespace common
