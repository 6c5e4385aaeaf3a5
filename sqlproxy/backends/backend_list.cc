#include "sqlproxy/backends/backend_list.h"

#include <algorithm>
#include <charconv>
#include <set>

#include "common/go_text.h"

namespace sqlproxy::backends {
namespace {

boost::system::error_code invalid() {
  return boost::system::errc::make_error_code(boost::system::errc::invalid_argument);
}

common::Result<std::uint16_t> parse_port(std::string_view text) {
  unsigned value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc{} || end != text.data() + text.size() || value == 0 ||
      value > 65535) {
    return invalid();
  }
  return static_cast<std::uint16_t>(value);
}

}  // namespace

common::Result<BackendSpec> parse_address(std::string_view text, std::uint16_t default_port) {
  if (text.empty()) return invalid();
  if (text.front() == '[') {  // [v6]:port or [v6]
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close == 1) return invalid();
    const std::string host(text.substr(1, close - 1));
    const std::string_view rest = text.substr(close + 1);
    if (rest.empty() && default_port != 0) return BackendSpec{host, default_port, 1};
    if (rest.size() < 2 || rest.front() != ':') return invalid();
    auto port = parse_port(rest.substr(1));
    if (!port) return port.error();
    return BackendSpec{host, *port, 1};
  }
  const size_t colons = static_cast<size_t>(std::count(text.begin(), text.end(), ':'));
  if (colons == 0 || colons > 1) {
    // A bare name, or an unbracketed IPv6 literal (several colons): no port in the text.
    if (default_port == 0) return invalid();
    return BackendSpec{std::string(text), default_port, 1};
  }
  const size_t colon = text.find(':');
  if (colon == 0) return invalid();
  auto port = parse_port(text.substr(colon + 1));
  if (!port) return port.error();
  return BackendSpec{std::string(text.substr(0, colon)), *port, 1};
}

common::Result<std::vector<BackendSpec>> parse_backend_list(std::string_view text) {
  std::vector<BackendSpec> backends;
  std::set<std::string> names;
  for (const std::string_view item : common::go_split(text, ',')) {
    auto backend = parse_address(item);
    if (!backend) return backend.error();
    if (!names.insert(backend->name()).second) return invalid();
    backends.push_back(std::move(*backend));
  }
  return canonical(std::move(backends));
}

std::vector<BackendSpec> canonical(std::vector<BackendSpec> backends) {
  std::stable_sort(backends.begin(), backends.end(),
                   [](const BackendSpec& a, const BackendSpec& b) { return a.name() < b.name(); });
  backends.erase(
      std::unique(backends.begin(), backends.end(),
                  [](const BackendSpec& a, const BackendSpec& b) { return a.name() == b.name(); }),
      backends.end());
  return backends;
}

}  // namespace sqlproxy::backends
