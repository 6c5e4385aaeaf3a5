// libFuzzer target for the flag parser and the discovery Config built on it.
//
// Input layout: NUL-separated strings. Strings before the first empty string are command-line
// arguments; the strings after it are environment entries ("KEY=VALUE"). Any byte sequence is a
// valid input, so the fuzzer explores argument syntax, values, URL lists and the environment.
//
// Properties checked beyond "no crash, no sanitizer report":
//   - parse_config either yields a Config or an error with exit status 0 (help/version), 1 or 2,
//     and a non-empty stdout (exit 0) or stderr (otherwise) text;
//   - a Config is valid by etcd's rules (heartbeat > 0, election >= 5 heartbeats, <= 50000 ms);
//   - the Go-syntax number parsers agree with each other on the same text.
// Link: common, discovery_config (the lead wires it into test/fuzz/CMakeLists.txt).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/flags.h"
#include "common/go_text.h"
#include "discovery/server/config.h"
#include "discovery/server/member_id.h"

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

void split_input(const std::uint8_t* data, std::size_t size, std::vector<std::string>& args,
                 std::vector<std::string>& env) {
  std::vector<std::string>* target = &args;
  std::string current;
  for (std::size_t i = 0; i < size; ++i) {
    if (data[i] != 0) {
      current += static_cast<char>(data[i]);
      continue;
    }
    if (current.empty() && target == &args) {
      target = &env;
    } else {
      target->push_back(current);
    }
    current.clear();
  }
  if (!current.empty()) target->push_back(current);
}

void check_numbers(const std::string& text) {
  auto as_uint = common::flags::parse_uint(text);
  auto as_int = common::flags::parse_int(text);
  if (as_uint && *as_uint < (std::uint64_t{1} << 63)) {
    require(as_int.has_value() && static_cast<std::uint64_t>(*as_int) == *as_uint);
  }
  (void)common::flags::parse_duration(text);
  (void)common::flags::parse_bool(text);
  (void)common::go_quote(text);
  (void)discovery::server::parse_url_list(text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 4096) return 0;  // argument lists longer than this add nothing
  std::vector<std::string> args;
  std::vector<std::string> env;
  split_input(data, size, args, env);
  for (const std::string& arg : args) check_numbers(arg);

  auto config = discovery::server::parse_config(args, env);
  if (!config) {
    const auto& error = config.error();
    require(error.exit_code == 0 || error.exit_code == 1 || error.exit_code == 2);
    require(error.exit_code == 0 ? !error.stdout_text.empty() : !error.stderr_text.empty());
    return 0;
  }
  const auto tick = config->heartbeat_interval.count();
  const auto election = config->election_timeout.count();
  require(tick > 0 && election >= 5 * tick && election <= 50000);
  require(!config->data_dir.empty());
  (void)config->member_id();
  (void)config->cluster_id();
  (void)discovery::server::verify_bootstrap(*config);
  return 0;
}
