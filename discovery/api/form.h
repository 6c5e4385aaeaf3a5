#pragma once
// Go net/http request decoding as etcd 3.4 sees it: the request target (url.ParseRequestURI),
// query strings and form bodies (url.ParseQuery, Request.ParseForm) and the Content-Type
// (mime.ParseMediaType). Pure functions; errors carry Go's exact error text, which etcd copies
// into its answers (error 210 causes, 400 pages).

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace discovery::api {

// The text of a Go error, as etcd copies it into causes and error pages.
struct GoError {
  std::string text;
  friend bool operator==(const GoError&, const GoError&) = default;
};

// An HTTP request target split and decoded as Go does.
struct Target {
  std::string path;       // percent-decoded (url.URL.Path); "+" stays "+"
  std::string raw_query;  // after the first '?', undecoded (url.URL.RawQuery)
};

// url.ParseRequestURI for an origin-form ("/a?b") or absolute-form ("http://h/a?b") target.
// Errors (Go answers them with a plain "400 Bad Request" before any handler runs): an empty
// target, a relative path, a control byte, or a bad %-escape in the path. The target "*" parses
// to the path "*".
common::Result<Target, GoError> parse_target(std::string_view target);

// Form values in arrival order. Like Go's url.Values it keeps every value of a repeated name;
// get() returns the first, as r.FormValue does. A plain value owned by its user; not
// synchronized (one request, one thread). Invariant: names and values are already unescaped.
class FormValues {
 public:
  void add(std::string name, std::string value);
  // True when the name appeared at all, even as "name" or "name=" (Go: `_, ok := form[name]`).
  bool has(std::string_view name) const;
  // The first value of the name, or "" when absent (Go: form.Get / r.FormValue).
  std::string_view get(std::string_view name) const;
  // Appends all of `other` after this one's values (Go copyValues).
  void append(const FormValues& other);
  std::size_t size() const { return values_.size(); }

 private:
  std::vector<std::pair<std::string, std::string>> values_;
};

// url.QueryUnescape (mode = query: "+" is a space) or url.PathUnescape (mode = path: "+" stays).
// Error text: `invalid URL escape "%zz"` (the bad escape quoted by strconv.Quote).
enum class EscapeMode { Query, Path };
common::Result<std::string, GoError> go_unescape(std::string_view s, EscapeMode mode);

// url.ParseQuery: pairs separated by '&'. Any pair holding ';' makes the error
// "invalid semicolon separator in query" (it wins over escape errors wherever it is); otherwise
// the first bad escape is the error. Pairs before and after an error are still parsed, as in Go,
// but callers treat any error as fatal.
common::Result<FormValues, GoError> parse_query(std::string_view query);

// mime.ParseMediaType's media type (lowercased, trimmed) with Go's errors:
// "mime: no media type", "mime: expected slash after first token",
// "mime: expected token after slash", "mime: unexpected content after media subtype",
// "mime: invalid media parameter", "mime: duplicate parameter name". `media_type` is set even
// for "invalid media parameter", as Go returns it then (the body is still read).
struct MediaTypeResult {
  std::string media_type;
  std::string error;  // empty when valid
};
MediaTypeResult parse_media_type(std::string_view content_type);

// Go allows form bodies up to 10 MiB; one byte more gives "http: POST too large".
inline constexpr std::size_t kFormBodyBytesMax = std::size_t{10} << 20;

// Request.ParseForm: for POST, PUT and PATCH with an application/x-www-form-urlencoded body the
// body's values come first, then the query's; other methods and other content types use only
// the query. The first error wins in Go's order: media type, body size, body syntax, query.
// `method` is the request method as sent; `content_type` the first Content-Type header ("" when
// absent).
common::Result<FormValues, GoError> parse_form(std::string_view method,
                                               std::string_view content_type, std::string_view body,
                                               std::string_view raw_query);

}  // namespace discovery::api
