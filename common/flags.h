#pragma once
// A small, table-driven command-line parser with Go `flag` package syntax plus etcd-style
// environment variables (prefix + upper-case name, '-' -> '_', e.g. ETCD_DATA_DIR).
//
// Syntax (as Go's flag package, which etcd 3.4 uses):
//   -name value   --name value   -name=value   --name=value
//   boolean flags: bare (-enable-v2) means true; a value must be attached with '='
//   (--enable-v2=false); "--enable-v2 false" leaves "false" as a positional argument.
//   Parsing stops at the first argument that is not a flag ("-" alone is not a flag) or after "--";
//   the remaining arguments are returned as positional.
//   A repeated flag takes its last value.
//   -h / -help / --help, when not defined as flags, request help.
// Environment: after the command line, every flag not set there takes the value of its variable
// when that variable is non-empty. A variable whose flag was also given on the command line is an
// error (etcd 3.4 exits on it); unknown variables with the prefix give a warning.
//
// Why not Boost.program_options: it cannot express Go's rules (single-dash long names, a bare
// boolean that still accepts "=false" but never consumes the next argument, stopping at the first
// positional argument, Go's base-prefixed integers and durations) and its error texts differ from
// the ones etcd users see. flags.cc is a few hundred lines and reproduces the etcd 3.4.23 texts.
//
// Thread model: parse() is a pure function of its inputs; FlagValues is an immutable value.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/result.h"

namespace common::flags {

enum class FlagType {
  String,
  Bool,
  Uint,        // unsigned 64-bit, Go strconv.ParseUint(s, 0, 64) syntax (0x.., 0o.., 0b.., 1_000)
  Int,         // signed 64-bit, Go strconv.ParseInt(s, 0, 64) syntax
  Duration,    // Go time.ParseDuration syntax ("100ms", "1h30m", "0")
  StringList,  // comma separated; an empty text is an empty list
  Ignored,     // accepted with or without a value, warns that it is ignored (etcd's legacy flags)
};

using Value = std::variant<std::string, bool, std::uint64_t, std::int64_t, std::chrono::nanoseconds,
                           std::vector<std::string>>;

// Extra validation run when a flag is set from text, after type parsing. Returns an error text
// that becomes "invalid value \"<text>\" for flag -<name>: <error>", or nullopt when valid.
using Check = std::optional<std::string> (*)(std::string_view text, const Value& value);

// One row of a flag table. All views must outlive the parse (tables are static constants).
struct FlagSpec {
  std::string_view name;  // without dashes, e.g. "data-dir"
  FlagType type = FlagType::String;
  std::string_view default_text;  // parsed with the same rules as a command-line value
  std::string_view help;          // one line, for generated usage text
  Check check = nullptr;
};

enum class Source { kDefault, CommandLine, Environment };

// The parsed values of every flag in a table. Immutable after parse().
class FlagValues {
 public:
  // Each accessor CHECKs that the flag exists in the table and has the requested type: asking
  // for an undeclared flag is a programming error, not bad input.
  const std::string& get_string(std::string_view name) const;
  bool get_bool(std::string_view name) const;
  std::uint64_t get_uint(std::string_view name) const;
  std::int64_t get_int(std::string_view name) const;
  std::chrono::nanoseconds get_duration(std::string_view name) const;
  const std::vector<std::string>& get_list(std::string_view name) const;
  // Where the value came from; set == not kDefault (etcd's flags.IsSet counts environment too).
  Source source(std::string_view name) const;
  bool is_set(std::string_view name) const { return source(name) != Source::kDefault; }
  // The text the value was parsed from (the default text when not set).
  const std::string& text(std::string_view name) const;

 private:
  friend class Parser;
  struct Entry {
    const FlagSpec* spec;
    Value value;
    std::string text;
    Source source = Source::kDefault;
  };
  const Entry& entry(std::string_view name) const;
  std::map<std::string, Entry, std::less<>> entries_;
};

struct ParseOutput {
  FlagValues values;
  std::vector<std::string> positional;  // arguments after the flags
  bool help_requested = false;          // -h / -help seen (parsing stopped there)
  std::vector<std::string> warnings;    // e.g. "unrecognized environment variable ETCD_X=1"
  std::vector<std::string> env_used;    // "ETCD_NAME=x" for every variable that set a flag
};

enum class ErrorKind {
  CommandLine,  // syntax or value error on the command line (etcd: usage, exit 2)
  Environment,  // bad value in, or conflict with, an environment variable (etcd: exit 1)
};

struct ParseError {
  ErrorKind kind;
  std::string message;  // e.g. "flag provided but not defined: -foo"
};

// Parses `args` (without the program name) against `specs`: defaults, then the command line.
// CHECKs that spec names are unique and that every default parses. `specs` must outlive the result.
Result<ParseOutput, ParseError> parse_command_line(std::span<const FlagSpec> specs,
                                                   std::span<const std::string> args);

// Applies the environment entries ("KEY=VALUE", as in environ) with prefix `env_prefix` (e.g.
// "ETCD") to a command-line result. An empty prefix applies nothing. Split from the command line
// so that a caller can act on a flag such as --version before environment errors, as etcd does.
Result<void, ParseError> apply_environment(ParseOutput& output, std::span<const std::string> env,
                                           std::string_view env_prefix);

// parse_command_line, then (unless help was requested) apply_environment.
Result<ParseOutput, ParseError> parse(std::span<const FlagSpec> specs,
                                      std::span<const std::string> args,
                                      std::span<const std::string> env,
                                      std::string_view env_prefix);

// The environment variable for a flag: env_var_name("ETCD", "data-dir") == "ETCD_DATA_DIR".
std::string env_var_name(std::string_view prefix, std::string_view flag_name);

// Go-syntax value parsers, exposed for reuse and tests. Errors are Go flag's texts:
// "parse error" or "value out of range".
Result<bool, std::string> parse_bool(std::string_view text);
Result<std::uint64_t, std::string> parse_uint(std::string_view text);
Result<std::int64_t, std::string> parse_int(std::string_view text);
Result<std::chrono::nanoseconds, std::string> parse_duration(std::string_view text);

}  // namespace common::flags
