#include "sqlproxy/backends/discovery_endpoints.h"

#include <algorithm>

#include "common/check.h"
#include "common/go_text.h"
#include "sqlproxy/backends/backend_list.h"

namespace sqlproxy::backends {

std::string DiscoveryEndpoint::url() const {
  return "http://" + health::join_host_port(host, port);
}

namespace {

struct ParsedItem {
  DiscoveryEndpoint endpoint;
  std::string dir;  // empty: this URL names no path
};

common::Result<ParsedItem, std::string> parse_item(std::string_view item) {
  const std::string quoted = "\"" + std::string(item) + "\"";
  constexpr std::string_view kScheme = "http://";
  if (!item.starts_with(kScheme)) return quoted + ": want http://host:port (plain http only)";
  std::string_view rest = item.substr(kScheme.size());
  const size_t slash = rest.find('/');
  auto address = parse_address(rest.substr(0, slash), 2379);
  if (!address) return quoted + ": bad host:port";
  ParsedItem parsed{{address->host, address->port}, ""};
  if (slash == std::string_view::npos) return parsed;
  std::string dir(rest.substr(slash));
  if (dir.find_first_of("?#") != std::string::npos) return quoted + ": no query or fragment";
  while (!dir.empty() && dir.back() == '/') dir.pop_back();
  if (dir.empty() && slash + 1 < rest.size()) return quoted + ": bad path";
  parsed.dir = std::move(dir);
  return parsed;
}

}  // namespace

common::Result<DiscoveryUrl, std::string> parse_discovery_url(std::string_view text) {
  DiscoveryUrl url;
  std::string dir_from;  // the first URL that named the directory, for the error message
  for (const std::string_view item : common::go_split(text, ',')) {
    if (item.empty()) return std::string("empty URL in the list");
    auto parsed = parse_item(item);
    if (!parsed) return parsed.error();
    if (std::find(url.endpoints.begin(), url.endpoints.end(), parsed->endpoint) !=
        url.endpoints.end()) {
      return "\"" + std::string(item) + "\": endpoint given twice";
    }
    if (!parsed->dir.empty()) {
      if (url.dir.empty()) {
        url.dir = parsed->dir;
        dir_from = item;
      } else if (url.dir != parsed->dir) {
        // Two different clusters' keys: refuse rather than watch one of them by chance.
        return "\"" + dir_from + "\" and \"" + std::string(item) +
               "\" name different cluster paths; every endpoint must serve the same one";
      }
    }
    url.endpoints.push_back(std::move(parsed->endpoint));
  }
  if (url.dir.empty()) {
    return std::string(
        "no cluster path: want http://host:port[,http://host:port...]/pxc-cluster/"
        "<cluster>");
  }
  return url;
}

EndpointRotation::EndpointRotation(std::size_t endpoints, std::chrono::milliseconds backoff_initial,
                                   std::chrono::milliseconds backoff_max)
    : count_(endpoints),
      backoff_initial_(backoff_initial),
      backoff_max_(std::max(backoff_max, backoff_initial)),
      backoff_(backoff_initial) {
  CHECK(count_ > 0, "a discovery source needs an endpoint");
  CHECK(backoff_initial_.count() > 0, "backoff must be positive");
}

EndpointRotation::Step EndpointRotation::on_failure() {
  Step step;
  step.from = current_;
  step.first_round = failures_ < count_;
  ++failures_;
  current_ = (current_ + 1) % count_;
  step.to = current_;
  if (failures_ % count_ == 0) {  // every endpoint failed since the last success
    step.delay = backoff_;
    backoff_ = std::min(backoff_ * 2, backoff_max_);
  }
  return step;
}

bool EndpointRotation::on_success() {
  const bool ended_streak = failures_ > 0;
  failures_ = 0;
  backoff_ = backoff_initial_;
  return ended_streak;
}

}  // namespace sqlproxy::backends
