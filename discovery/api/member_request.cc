#include "discovery/api/member_request.h"

#include <algorithm>
#include <boost/json/stream_parser.hpp>
#include <boost/json/value.hpp>
#include <cctype>
#include <optional>

#include "discovery/api/form.h"
#include "discovery/api/go_format.h"

namespace discovery::api {
namespace {

using Error = MemberRequestError;

std::string_view kind_name(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::string:
      return "string";
    case boost::json::kind::bool_:
      return "bool";
    case boost::json::kind::object:
      return "object";
    case boost::json::kind::array:
      return "array";
    case boost::json::kind::null:
      return "null";
    default:
      return "number";
  }
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           const auto lx = (x >= 'A' && x <= 'Z') ? x - 'A' + 'a' : x;
           const auto ly = (y >= 'A' && y <= 'Z') ? y - 'A' + 'a' : y;
           return lx == ly;
         });
}

std::string_view trim(std::string_view s) {
  const auto space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
  };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

// Go's scanner error for a top-level literal (true, false, null) that does not complete:
// "invalid character 'o' in literal null (expecting 'u')", or nullopt when it is not one.
std::optional<Error> literal_error(std::string_view body) {
  const std::string_view value = trim(body);
  if (value.empty()) return std::nullopt;
  std::string_view literal;
  switch (value.front()) {
    case 't':
      literal = "true";
      break;
    case 'f':
      literal = "false";
      break;
    case 'n':
      literal = "null";
      break;
    default:
      return std::nullopt;
  }
  for (std::size_t i = 1; i < literal.size(); ++i) {
    if (i >= value.size()) return Error{"unexpected end of JSON input"};
    if (value[i] != literal[i]) {
      return Error{"invalid character '" + std::string(1, value[i]) + "' in literal " +
                   std::string(literal) + " (expecting '" + std::string(1, literal[i]) + "')"};
    }
  }
  return std::nullopt;
}

// Parses `body` as JSON; the error texts follow Go's scanner for the common cases.
common::Result<boost::json::value, Error> parse_json(std::string_view body) {
  if (auto literal = literal_error(body)) return *literal;
  boost::json::stream_parser parser;
  boost::system::error_code ec;
  const std::size_t used = parser.write_some(body.data(), body.size(), ec);
  if (!ec) parser.finish(ec);
  if (ec) {
    const std::string_view rest = trim(body.substr(std::min(used, body.size())));
    if (rest.empty()) return Error{"unexpected end of JSON input"};
    return Error{"invalid character '" + std::string(1, rest.front()) +
                 "' looking for beginning of value"};
  }
  return parser.release();
}

// url.Parse, only as far as types.NewURLs needs it: scheme, host, path and Go's errors for bad
// escapes and bad ports.
struct ParsedUrl {
  std::string scheme;
  std::string host;
  std::string path;
  std::string text;  // url.URL.String() for the forms accepted here
};

common::Result<ParsedUrl, Error> parse_url(std::string_view in) {
  const auto fail = [&](std::string_view why) {
    return Error{"parse " + go_quote(in) + ": " + std::string(why)};
  };
  ParsedUrl u;
  std::string_view rest = in;
  std::size_t i = 0;
  while (i < rest.size() && (std::isalpha(static_cast<unsigned char>(rest[i])) ||
                             (i > 0 && (std::isdigit(static_cast<unsigned char>(rest[i])) ||
                                        rest[i] == '+' || rest[i] == '-' || rest[i] == '.')))) {
    ++i;
  }
  if (i < rest.size() && rest[i] == ':') {
    if (i == 0) return fail("missing protocol scheme");
    for (char c : rest.substr(0, i))
      u.scheme += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    rest.remove_prefix(i + 1);
  }
  std::string_view query;
  if (const auto q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q);
    rest = rest.substr(0, q);
  }
  std::string_view authority;
  if (!u.scheme.empty() && rest.substr(0, 2) == "//") {
    rest.remove_prefix(2);
    const auto slash = rest.find('/');
    authority = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
    const auto at = authority.rfind('@');
    const std::string_view host =
        at == std::string_view::npos ? authority : authority.substr(at + 1);
    const auto colon = host.rfind(':');
    if (colon != std::string_view::npos && host.find(']', colon) == std::string_view::npos) {
      const std::string_view port = host.substr(colon);
      if (!std::all_of(port.begin() + 1, port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return fail("invalid port " + go_quote(port) + " after host");
      }
    }
    u.host = std::string(host);
  }
  auto path = go_unescape(rest, EscapeMode::Path);
  if (!path) return fail(path.error().text);
  u.path = std::move(*path);
  // Only URLs with an authority pass validation, so this is url.URL.String() for them.
  u.text = u.scheme + "://" + std::string(authority) + std::string(rest) + std::string(query);
  return u;
}

// net.SplitHostPort's acceptance: "host:port" with a bracketed IPv6 host or no colon in host.
bool has_host_port(std::string_view host) {
  const auto colon = host.rfind(':');
  if (colon == std::string_view::npos) return false;
  const std::string_view h = host.substr(0, colon);
  if (!h.empty() && h.front() == '[') return h.back() == ']';
  return h.find(':') == std::string_view::npos && h.find('[') == std::string_view::npos &&
         h.find(']') == std::string_view::npos;
}

common::Result<std::string, Error> validate_url(std::string_view raw) {
  const std::string_view in = trim(raw);
  auto u = parse_url(in);
  if (!u) return u.error();
  const std::string s(in);
  if (u->scheme != "http" && u->scheme != "https" && u->scheme != "unix" && u->scheme != "unixs") {
    return Error{"URL scheme must be http, https, unix, or unixs: " + s};
  }
  if (!has_host_port(u->host))
    return Error{"URL address does not have the form \"host:port\": " + s};
  if (!u->path.empty()) return Error{"URL must not contain a path: " + s};
  return common::Result<std::string, Error>(boost::system::in_place_value, u->text);
}

constexpr std::string_view kStructType = "struct { PeerURLs []string \"json:\\\"peerURLs\\\"\" }";

// The peerURLs strings (Go's decoding into []string), or the first type error.
common::Result<std::vector<std::string>, Error> peer_url_strings(const boost::json::value& doc) {
  if (doc.is_null()) return std::vector<std::string>{};
  if (!doc.is_object()) {
    return Error{"json: cannot unmarshal " + std::string(kind_name(doc)) +
                 " into Go value of type " + std::string(kStructType)};
  }
  std::optional<Error> first_error;
  std::vector<std::string> urls;
  for (const auto& [key, value] : doc.as_object()) {
    if (!iequals(key, "peerURLs")) continue;
    urls.clear();
    if (value.is_null()) continue;
    if (!value.is_array()) {
      if (!first_error) {
        first_error = Error{"json: cannot unmarshal " + std::string(kind_name(value)) +
                            " into Go struct field .peerURLs of type []string"};
      }
      continue;
    }
    for (const auto& item : value.as_array()) {
      if (item.is_string()) {
        urls.emplace_back(item.as_string());
      } else {
        urls.emplace_back();
        if (!item.is_null() && !first_error) {
          first_error = Error{"json: cannot unmarshal " + std::string(kind_name(item)) +
                              " into Go struct field .peerURLs of type string"};
        }
      }
    }
  }
  if (first_error) return *first_error;
  return urls;
}

}  // namespace

common::Result<std::vector<std::string>, MemberRequestError> parse_member_peer_urls(
    std::string_view body) {
  auto doc = parse_json(body);
  if (!doc) return doc.error();
  auto strings = peer_url_strings(*doc);
  if (!strings) return strings.error();
  if (strings->empty()) return Error{"no valid URLs given"};
  std::vector<std::string> urls;
  for (const std::string& s : *strings) {
    auto u = validate_url(s);
    if (!u) return u.error();
    urls.push_back(std::move(*u));
  }
  std::sort(urls.begin(), urls.end());
  return urls;
}

}  // namespace discovery::api
