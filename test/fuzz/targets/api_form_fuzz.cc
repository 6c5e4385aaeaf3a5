// Fuzz target: Go request decoding (query strings, form bodies, request targets, media types).
// Input layout: byte 0 picks the method, then "content-type\nquery\nbody". Invariants: no crash;
// parse_form never returns a value when parse_query of the query part fails; a parsed target
// path of an origin-form target starts with '/'.

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "discovery/api/form.h"

namespace {

using namespace discovery::api;

void check(bool ok) {
  if (!ok) std::abort();
}

std::string_view next_line(std::string_view& rest) {
  const std::size_t nl = rest.find('\n');
  const std::string_view line = rest.substr(0, nl);
  rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
  return line;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static constexpr std::string_view kMethods[] = {"GET", "PUT", "POST", "DELETE", "PATCH", "HEAD"};
  const std::string_view method = kMethods[data[0] % 6];
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::string_view content_type = next_line(rest);
  const std::string_view query = next_line(rest);
  const std::string_view body = rest;

  const auto q = parse_query(query);
  const auto form = parse_form(method, content_type, body, query);
  if (!q) check(!form);
  if (form && q) check(form->size() >= q->size());
  (void)parse_media_type(content_type);
  (void)go_unescape(body, EscapeMode::Path);
  if (const auto t = parse_target(query); t && !query.empty() && query.front() == '/') {
    check(!t->path.empty() && t->path.front() == '/');
  }
  return 0;
}
