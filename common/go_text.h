#pragma once
// Go's text conventions that our answers and error messages must reproduce: UTF-8 decoding as
// utf8.DecodeRuneInString does it, strconv.Quote (which etcd and Go's flag package use in their
// messages), html.EscapeString (etcd's redirect bodies; our HTML pages use it too, so there is
// one escaper) and strings.Split (list flags). Pure functions; thread-safe.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace common {

// One decoded rune and the bytes it took.
struct Rune {
  char32_t value;
  std::size_t size;
};

// Decodes the rune at s[i] as Go's utf8.DecodeRuneInString does: an invalid or truncated
// sequence gives {0xFFFD, 1}. Precondition: i < s.size().
Rune decode_rune(std::string_view s, std::size_t i);

// strconv.Quote: a double-quoted Go string literal with Go's escapes (printable runes raw,
// invalid UTF-8 bytes as \xNN).
std::string go_quote(std::string_view s);

// html.EscapeString: & ' < > " become &amp; &#39; &lt; &gt; &#34; (Go's numeric forms, which
// etcd's answers carry byte for byte); every other byte is kept. The result is safe in element
// text and in quoted attribute values.
std::string go_html_escape(std::string_view s);

// strings.Split(s, string(sep)): the pieces of s between separators, empty ones included, so an
// empty s gives one empty piece ("a,,b" -> "a" "" "b"). Our comma-separated flag values are
// split with it. The views point into s, which must outlive them.
std::vector<std::string_view> go_split(std::string_view s, char sep);

}  // namespace common
