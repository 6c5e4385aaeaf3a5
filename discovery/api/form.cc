#include "discovery/api/form.h"

#include <algorithm>
#include <set>

#include "discovery/api/go_format.h"

namespace discovery::api {
namespace {

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

// Go's isTSpecial and isTokenChar from mime/grammar.go (RFC 1521 tspecials).
bool is_tspecial(char c) {
  return std::string_view(R"(()<>@,;:\"/[]?=)").find(c) != std::string_view::npos;
}

bool is_token_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u > 0x20 && u < 0x7F && !is_tspecial(c);
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

std::string_view trim_left(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  return s;
}

std::string_view trim(std::string_view s) {
  s = trim_left(s);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// consumeToken: the leading run of token characters and the rest.
std::pair<std::string_view, std::string_view> consume_token(std::string_view v) {
  std::size_t n = 0;
  while (n < v.size() && is_token_char(v[n])) ++n;
  return {v.substr(0, n), v.substr(n)};
}

// consumeValue: a token or a quoted string; an unterminated quote yields ("", v).
std::pair<std::string, std::string_view> consume_value(std::string_view v) {
  if (v.empty()) return {"", v};
  if (v.front() != '"') {
    auto [token, rest] = consume_token(v);
    return {std::string(token), rest};
  }
  std::string buffer;
  for (std::size_t i = 1; i < v.size(); ++i) {
    const char c = v[i];
    if (c == '"') return {buffer, v.substr(i + 1)};
    if (c == '\\' && i + 1 < v.size() && is_tspecial(v[i + 1])) {
      buffer += v[++i];
      continue;
    }
    if (c == '\r' || c == '\n') return {"", v};
    buffer += c;
  }
  return {"", v};
}

struct MediaParam {
  std::string name;  // empty: no parameter could be read
  std::string_view rest;
};

// consumeMediaParam: "; name=value" at the front of v.
MediaParam consume_media_param(std::string_view v) {
  std::string_view rest = trim_left(v);
  if (rest.empty() || rest.front() != ';') return {"", v};
  rest = trim_left(rest.substr(1));
  auto [param, after_param] = consume_token(rest);
  if (param.empty()) return {"", v};
  rest = trim_left(after_param);
  if (rest.empty() || rest.front() != '=') return {"", v};
  rest = trim_left(rest.substr(1));
  auto [value, after_value] = consume_value(rest);
  if (value.empty() && after_value.size() == rest.size()) return {"", v};
  return {ascii_lower(param), after_value};
}

std::string check_media_type(std::string_view s) {
  auto [type, rest] = consume_token(s);
  if (type.empty()) return "mime: no media type";
  if (rest.empty()) return "";
  if (rest.front() != '/') return "mime: expected slash after first token";
  auto [subtype, after] = consume_token(rest.substr(1));
  if (subtype.empty()) return "mime: expected token after slash";
  if (!after.empty()) return "mime: unexpected content after media subtype";
  return "";
}

}  // namespace

void FormValues::add(std::string name, std::string value) {
  values_.emplace_back(std::move(name), std::move(value));
}

bool FormValues::has(std::string_view name) const {
  return std::any_of(values_.begin(), values_.end(),
                     [&](const auto& kv) { return kv.first == name; });
}

std::string_view FormValues::get(std::string_view name) const {
  for (const auto& [k, v] : values_) {
    if (k == name) return v;
  }
  return {};
}

void FormValues::append(const FormValues& other) {
  values_.insert(values_.end(), other.values_.begin(), other.values_.end());
}

common::Result<std::string, GoError> go_unescape(std::string_view s, EscapeMode mode) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size() || !is_hex(s[i + 1]) || !is_hex(s[i + 2])) {
        return GoError{"invalid URL escape " + go_quote(s.substr(i, 3))};
      }
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 3;
    } else {
      out += (c == '+' && mode == EscapeMode::Query) ? ' ' : c;
      ++i;
    }
  }
  // In-place: GoError is constructible from a string, so plain conversion would be ambiguous.
  return common::Result<std::string, GoError>(boost::system::in_place_value, std::move(out));
}

common::Result<FormValues, GoError> parse_query(std::string_view query) {
  FormValues values;
  std::string error;
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.find(';') != std::string_view::npos) {
      // Go assigns this error unconditionally, so it overrides an earlier escape error.
      error = "invalid semicolon separator in query";
      continue;
    }
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    auto name = go_unescape(pair.substr(0, eq), EscapeMode::Query);
    if (!name) {
      if (error.empty()) error = name.error().text;
      continue;
    }
    auto value = go_unescape(
        eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1), EscapeMode::Query);
    if (!value) {
      if (error.empty()) error = value.error().text;
      continue;
    }
    values.add(std::move(*name), std::move(*value));
  }
  if (!error.empty()) return GoError{error};
  return values;
}

MediaTypeResult parse_media_type(std::string_view content_type) {
  const std::size_t semi = content_type.find(';');
  const std::string_view base = content_type.substr(0, semi);
  MediaTypeResult result{ascii_lower(trim(base)), ""};
  result.error = check_media_type(result.media_type);
  if (!result.error.empty()) {
    result.media_type.clear();
    return result;
  }
  std::set<std::string> seen;
  std::string_view v = content_type.substr(base.size());
  while (!v.empty()) {
    v = trim_left(v);
    if (v.empty()) break;
    MediaParam param = consume_media_param(v);
    if (param.name.empty()) {
      if (trim(v) == ";") break;  // Go ignores a trailing semicolon.
      result.error = "mime: invalid media parameter";
      return result;
    }
    // Go keeps names with '*' (RFC 2231 continuations) in a separate map per base name, so they
    // are only duplicates of each other.
    if (!seen.insert(param.name).second) {
      result.media_type.clear();
      result.error = "mime: duplicate parameter name";
      return result;
    }
    v = param.rest;
  }
  return result;
}

common::Result<FormValues, GoError> parse_form(std::string_view method,
                                               std::string_view content_type, std::string_view body,
                                               std::string_view raw_query) {
  FormValues form;
  std::string error;
  if (method == "POST" || method == "PUT" || method == "PATCH") {
    const MediaTypeResult media =
        parse_media_type(content_type.empty() ? "application/octet-stream" : content_type);
    error = media.error;
    if (media.media_type == "application/x-www-form-urlencoded") {
      if (body.size() > kFormBodyBytesMax) return GoError{"http: POST too large"};
      auto parsed = parse_query(body);
      if (parsed) {
        form = std::move(*parsed);
      } else if (error.empty()) {
        error = parsed.error().text;
      }
    }
  }
  auto query = parse_query(raw_query);
  if (!error.empty()) return GoError{error};
  if (!query) return query.error();
  form.append(*query);
  return form;
}

}  // namespace discovery::api

namespace discovery::api {

common::Result<Target, GoError> parse_target(std::string_view target) {
  if (target.empty()) return GoError{"empty url"};
  for (const char c : target) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) return GoError{"net/url: invalid control character in URL"};
  }
  if (target == "*") return Target{"*", ""};
  std::string_view rest = target;
  // A scheme is letters, digits, '+', '-' or '.' after a leading letter, ended by ':'.
  std::size_t colon = 0;
  while (colon < rest.size()) {
    const char c = rest[colon];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    const bool other = (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
    if (letter || (colon > 0 && other)) {
      ++colon;
      continue;
    }
    break;
  }
  const bool has_scheme = colon > 0 && colon < rest.size() && rest[colon] == ':';
  if (has_scheme) rest.remove_prefix(colon + 1);
  Target out;
  // Go: a lone trailing '?' only sets ForceQuery; otherwise everything after the first '?' is
  // the raw query.
  const std::size_t q = rest.find('?');
  if (q != std::string_view::npos) {
    out.raw_query = std::string(rest.substr(q + 1));
    rest = rest.substr(0, q);
  }
  if (rest.empty() || rest.front() != '/') return GoError{"invalid URI for request"};
  if (has_scheme && rest.substr(0, 2) == "//") {
    rest.remove_prefix(2);
    const std::size_t slash = rest.find('/');
    rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
  }
  auto path = go_unescape(rest, EscapeMode::Path);
  if (!path) return path.error();
  out.path = std::move(*path);
  return out;
}

}  // namespace discovery::api
