#pragma once
// Backend addresses: parsing `host:port` lists and discovery names into health::BackendSpec.
// Pure functions.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "sqlproxy/health/cluster_view.h"

namespace sqlproxy::backends {

using health::BackendSpec;

// Delivers the complete current backend set (sorted by name, no duplicates) each time it
// changes; sources call it on their executor.
using BackendsCallback = std::function<void(std::vector<BackendSpec> backends)>;

// Parses one address: "host:port", "[v6]:port", or, when default_port is non-zero, a bare
// "host" / IPv6 literal with several colons (which then gets default_port). Errors
// (errc::invalid_argument): empty host, bad or zero port, missing port without a default.
common::Result<BackendSpec> parse_address(std::string_view text, std::uint16_t default_port = 0);

// Parses "host:port,host:port,..." (--backends). Empty items and duplicates are errors.
common::Result<std::vector<BackendSpec>> parse_backend_list(std::string_view text);

// Sorts by name and removes duplicate names: the canonical form sources deliver.
std::vector<BackendSpec> canonical(std::vector<BackendSpec> backends);

}  // namespace sqlproxy::backends
