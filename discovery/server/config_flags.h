#pragma once
// Internal to discovery_config: the table of every etcd 3.4 flag that discovery accepts, how it
// is used, and the --help text rendered from it. Static constant data; thread-safe.

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/flags.h"

namespace discovery::server::detail {

// The sections of `--help`, in etcd's order.
enum class Group {
  kMember,
  kClustering,
  kSecurity,
  kAuth,
  kMonitoring,
  kLogging,
  kProxy,
  kExperimental,
  kUnsafe,
  kLegacy,
};

// What discovery does with a flag. Every etcd 3.4 flag is accepted so that etcd manifests run
// unchanged; the ones that mean nothing here are validated like etcd and then ignored.
enum class Use {
  kUsed,
  Ignored,       // accepted and validated, no effect (marked in --help)
  kUnsupported,  // an error unless left at its default
};

struct ConfigFlag {
  common::flags::FlagSpec spec;
  Group group;
  Use use;
  std::string_view shown_default;  // for --help when it differs from spec.default_text
};

std::span<const ConfigFlag> config_flags();
// The parser's view of config_flags(), in the same order.
const std::vector<common::flags::FlagSpec>& flag_specs();
// The --help text.
std::string render_help();
// The short usage summary printed after a command-line error.
std::string render_usage();

}  // namespace discovery::server::detail
