// Fuzz target: the JSON body of POST/PUT /v2/members. Invariants: no crash; accepted URLs are
// sorted, non-empty and start with an accepted scheme.

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "discovery/api/member_request.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const auto urls = discovery::api::parse_member_peer_urls(body);
  if (!urls) return 0;
  if (urls->empty() || !std::is_sorted(urls->begin(), urls->end())) std::abort();
  for (const auto& u : *urls) {
    const bool scheme = u.rfind("http://", 0) == 0 || u.rfind("https://", 0) == 0 ||
                        u.rfind("unix://", 0) == 0 || u.rfind("unixs://", 0) == 0;
    if (!scheme) std::abort();
  }
  return 0;
}
