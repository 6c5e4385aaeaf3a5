#include "common/flags.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <limits>
#include <set>
#include <utility>

#include "common/check.h"
#include "common/go_text.h"

namespace common::flags {
namespace {

// The texts Go's flag package substitutes for strconv errors; etcd prints them verbatim.
constexpr std::string_view kParseError = "parse error";
constexpr std::string_view kRangeError = "value out of range";

char lower(char c) { return static_cast<char>(c | 0x20); }

// Go's strconv.underscoreOK: with base prefix detection, '_' may only separate digits (or follow
// the base prefix), so "1_000" and "0x_1F" pass while "_1", "1__0" and "1_" fail.
bool underscores_ok(std::string_view s) {
  char saw = '^';
  std::size_t i = 0;
  bool hex = false;
  if (s.size() >= 2 && s[0] == '0' &&
      (lower(s[1]) == 'b' || lower(s[1]) == 'o' || lower(s[1]) == 'x')) {
    i = 2;
    saw = '0';
    hex = lower(s[1]) == 'x';
  }
  for (; i < s.size(); ++i) {
    const char c = s[i];
    const bool digit = (c >= '0' && c <= '9') || (hex && lower(c) >= 'a' && lower(c) <= 'f');
    if (digit) {
      saw = '0';
    } else if (c == '_') {
      if (saw != '0') return false;
      saw = '_';
    } else {
      if (saw == '_') return false;
      saw = '!';
    }
  }
  return saw != '_';
}

int digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  const char l = lower(c);
  if (l >= 'a' && l <= 'z') return l - 'a' + 10;
  return 99;
}

// Mirrors Go's strconv.ParseUint(s, 0, 64): an overflow is reported as soon as it happens, even
// if later characters are not digits, as Go does.
Result<std::uint64_t, std::string> parse_uint_base0(std::string_view s) {
  if (s.empty()) return std::string(kParseError);
  const std::string_view whole = s;
  std::uint64_t base = 10;
  if (s[0] == '0') {
    if (s.size() >= 3 && lower(s[1]) == 'b') {
      base = 2;
      s.remove_prefix(2);
    } else if (s.size() >= 3 && lower(s[1]) == 'o') {
      base = 8;
      s.remove_prefix(2);
    } else if (s.size() >= 3 && lower(s[1]) == 'x') {
      base = 16;
      s.remove_prefix(2);
    } else {
      base = 8;
      s.remove_prefix(1);
    }
  }
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t n = 0;
  bool saw_underscore = false;
  for (const char c : s) {
    if (c == '_') {
      saw_underscore = true;
      continue;
    }
    const auto d = static_cast<std::uint64_t>(digit_value(c));
    if (d >= base) return std::string(kParseError);
    if (n > kMax / base) return std::string(kRangeError);
    n *= base;
    if (n > kMax - d) return std::string(kRangeError);
    n += d;
  }
  if (saw_underscore && !underscores_ok(whole)) return std::string(kParseError);
  return n;
}

// Go's time.ParseDuration unit table; both micro signs are accepted as Go does.
std::optional<std::uint64_t> unit_nanos(std::string_view unit) {
  static constexpr std::array<std::pair<std::string_view, std::uint64_t>, 9> kUnits = {{
      {"ns", 1},
      {"us", 1'000},
      {"\xC2\xB5s", 1'000},
      {"\xCE\xBCs", 1'000},
      {"ms", 1'000'000},
      {"s", 1'000'000'000},
      {"m", 60'000'000'000},
      {"h", 3'600'000'000'000},
  }};
  for (const auto& [name, nanos] : kUnits) {
    if (!name.empty() && name == unit) return nanos;
  }
  return std::nullopt;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// One "<number>[.<fraction>]<unit>" element of a duration; advances `s`. Returns nanoseconds or
// nullopt on any syntax error or overflow beyond 2^63.
std::optional<std::uint64_t> duration_element(std::string_view& s) {
  constexpr std::uint64_t kLimit = std::uint64_t{1} << 63;
  if (s.empty() || !(s[0] == '.' || is_digit(s[0]))) return std::nullopt;
  std::uint64_t whole = 0;
  std::size_t i = 0;
  for (; i < s.size() && is_digit(s[i]); ++i) {
    if (whole > kLimit / 10) return std::nullopt;
    whole = whole * 10 + static_cast<std::uint64_t>(s[i] - '0');
    if (whole > kLimit) return std::nullopt;
  }
  const bool had_whole = i > 0;
  std::uint64_t fraction = 0;
  double scale = 1;
  bool had_fraction = false;
  if (i < s.size() && s[i] == '.') {
    ++i;
    bool overflow = false;
    for (; i < s.size() && is_digit(s[i]); ++i) {
      had_fraction = true;
      if (overflow) continue;
      // Go keeps only the digits that fit and ignores the rest of a very long fraction.
      if (fraction > (kLimit - 1) / 10) {
        overflow = true;
        continue;
      }
      fraction = fraction * 10 + static_cast<std::uint64_t>(s[i] - '0');
      scale *= 10;
    }
  }
  if (!had_whole && !had_fraction) return std::nullopt;
  std::size_t unit_end = i;
  while (unit_end < s.size() && s[unit_end] != '.' && !is_digit(s[unit_end])) ++unit_end;
  const auto unit = unit_nanos(s.substr(i, unit_end - i));
  if (!unit) return std::nullopt;
  s.remove_prefix(unit_end);
  if (whole > kLimit / *unit) return std::nullopt;
  std::uint64_t nanos = whole * *unit;
  if (fraction > 0) {
    nanos += static_cast<std::uint64_t>(static_cast<double>(fraction) *
                                        (static_cast<double>(*unit) / scale));
    if (nanos > kLimit) return std::nullopt;
  }
  return nanos;
}

// A list flag's items; unlike strings.Split, an empty text is an empty list.
std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> out;
  if (text.empty()) return out;
  for (const std::string_view item : go_split(text, ',')) out.emplace_back(item);
  return out;
}

using ValueResult = Result<Value, std::string>;

// Value holds a std::string alternative, so an error string must be tagged explicitly.
ValueResult value_error(std::string message) {
  return ValueResult(boost::system::in_place_error, std::move(message));
}

// Parses `text` as the spec's type. The error is the text after "for flag -name: ".
ValueResult parse_value(const FlagSpec& spec, std::string_view text) {
  switch (spec.type) {
    case FlagType::String:
    case FlagType::Ignored:
      return Value{std::string(text)};
    case FlagType::Bool: {
      auto b = parse_bool(text);
      if (!b) return value_error(b.error());
      return Value{*b};
    }
    case FlagType::Uint: {
      auto u = parse_uint(text);
      if (!u) return value_error(u.error());
      return Value{*u};
    }
    case FlagType::Int: {
      auto i = parse_int(text);
      if (!i) return value_error(i.error());
      return Value{*i};
    }
    case FlagType::Duration: {
      auto d = parse_duration(text);
      if (!d) return value_error(d.error());
      return Value{*d};
    }
    case FlagType::StringList:
      return Value{split_list(text)};
  }
  return value_error(std::string(kParseError));
}

bool takes_no_argument(const FlagSpec& spec) {
  return spec.type == FlagType::Bool || spec.type == FlagType::Ignored;
}

}  // namespace

Result<bool, std::string> parse_bool(std::string_view text) {
  // Exactly Go's strconv.ParseBool spellings.
  static constexpr std::array<std::string_view, 6> kTrue = {"1", "t", "T", "TRUE", "true", "True"};
  static constexpr std::array<std::string_view, 6> kFalse = {"0",     "f",     "F",
                                                             "FALSE", "false", "False"};
  if (std::find(kTrue.begin(), kTrue.end(), text) != kTrue.end()) return true;
  if (std::find(kFalse.begin(), kFalse.end(), text) != kFalse.end()) return false;
  return std::string(kParseError);
}

Result<std::uint64_t, std::string> parse_uint(std::string_view text) {
  return parse_uint_base0(text);
}

Result<std::int64_t, std::string> parse_int(std::string_view text) {
  if (text.empty()) return std::string(kParseError);
  bool negative = false;
  if (text[0] == '+' || text[0] == '-') {
    negative = text[0] == '-';
    text.remove_prefix(1);
  }
  auto magnitude = parse_uint_base0(text);
  if (!magnitude) return magnitude.error();
  constexpr std::uint64_t kCutoff = std::uint64_t{1} << 63;
  if (!negative && *magnitude >= kCutoff) return std::string(kRangeError);
  if (negative && *magnitude > kCutoff) return std::string(kRangeError);
  if (negative) return static_cast<std::int64_t>(~*magnitude + 1);
  return static_cast<std::int64_t>(*magnitude);
}

Result<std::chrono::nanoseconds, std::string> parse_duration(std::string_view text) {
  bool negative = false;
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) {
    negative = text[0] == '-';
    text.remove_prefix(1);
  }
  if (text == "0") return std::chrono::nanoseconds{0};
  if (text.empty()) return std::string(kParseError);
  constexpr std::uint64_t kLimit = std::uint64_t{1} << 63;
  std::uint64_t total = 0;
  while (!text.empty()) {
    const auto element = duration_element(text);
    if (!element) return std::string(kParseError);
    total += *element;
    if (total > kLimit) return std::string(kParseError);
  }
  if (negative) return std::chrono::nanoseconds{static_cast<std::int64_t>(~total + 1)};
  if (total > kLimit - 1) return std::string(kParseError);
  return std::chrono::nanoseconds{static_cast<std::int64_t>(total)};
}

std::string env_var_name(std::string_view prefix, std::string_view flag_name) {
  std::string out(prefix);
  out += '_';
  for (const char c : flag_name) {
    out += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

const FlagValues::Entry& FlagValues::entry(std::string_view name) const {
  const auto it = entries_.find(name);
  CHECK(it != entries_.end(), "flag -{} is not in the flag table", name);
  return it->second;
}

template <class T>
static const T& typed(const Value& value, std::string_view name) {
  const T* v = std::get_if<T>(&value);
  CHECK(v != nullptr, "flag -{} read with the wrong type", name);
  return *v;
}

const std::string& FlagValues::get_string(std::string_view name) const {
  return typed<std::string>(entry(name).value, name);
}
bool FlagValues::get_bool(std::string_view name) const {
  return typed<bool>(entry(name).value, name);
}
std::uint64_t FlagValues::get_uint(std::string_view name) const {
  return typed<std::uint64_t>(entry(name).value, name);
}
std::int64_t FlagValues::get_int(std::string_view name) const {
  return typed<std::int64_t>(entry(name).value, name);
}
std::chrono::nanoseconds FlagValues::get_duration(std::string_view name) const {
  return typed<std::chrono::nanoseconds>(entry(name).value, name);
}
const std::vector<std::string>& FlagValues::get_list(std::string_view name) const {
  return typed<std::vector<std::string>>(entry(name).value, name);
}
Source FlagValues::source(std::string_view name) const { return entry(name).source; }
const std::string& FlagValues::text(std::string_view name) const { return entry(name).text; }

// Parser applies command-line arguments or environment variables to a ParseOutput. It is the only
// writer of FlagValues; it holds a reference and lives for one call.
class Parser {
 public:
  explicit Parser(ParseOutput& out) : out_(out) {}

  static ParseOutput with_defaults(std::span<const FlagSpec> specs) {
    ParseOutput out;
    for (const FlagSpec& spec : specs) {
      auto value = parse_value(spec, spec.default_text);
      CHECK(value.has_value(), "default {} of flag -{} does not parse", go_quote(spec.default_text),
            spec.name);
      const bool inserted =
          out.values.entries_
              .emplace(std::string(spec.name),
                       FlagValues::Entry{&spec, std::move(*value), std::string(spec.default_text)})
              .second;
      CHECK(inserted, "flag -{} declared twice", spec.name);
    }
    return out;
  }

  Result<void, ParseError> parse_args(std::span<const std::string> args);
  Result<void, ParseError> apply_env(std::span<const std::string> env, std::string_view prefix);

 private:
  // Parses one flag argument starting at args[i]; may consume args[i + 1]. Returns how many
  // arguments were consumed, 0 when parsing must stop (help requested).
  Result<std::size_t, ParseError> parse_one(std::span<const std::string> args, std::size_t i);
  Result<void, std::string> set(FlagValues::Entry& entry, std::string_view text, Source source);

  ParseOutput& out_;
};

Result<void, std::string> Parser::set(FlagValues::Entry& entry, std::string_view text,
                                      Source source) {
  auto value = parse_value(*entry.spec, text);
  if (!value) return value.error();
  if (entry.spec->check != nullptr) {
    if (auto problem = entry.spec->check(text, *value)) return *std::move(problem);
  }
  if (entry.spec->type == FlagType::Ignored) {
    out_.warnings.push_back(
        fmt::format("flag \"-{}\" is no longer supported - ignoring.", entry.spec->name));
  }
  entry.value = std::move(*value);
  entry.text = std::string(text);
  entry.source = source;
  return {};
}

Result<std::size_t, ParseError> Parser::parse_one(std::span<const std::string> args,
                                                  std::size_t i) {
  const std::string& arg = args[i];
  std::string_view body(arg);
  body.remove_prefix(1);
  if (!body.empty() && body[0] == '-') body.remove_prefix(1);
  if (body.empty() || body[0] == '-' || body[0] == '=') {
    return ParseError{ErrorKind::CommandLine, "bad flag syntax: " + arg};
  }
  std::string_view name = body;
  std::optional<std::string_view> attached;
  if (const auto eq = body.find('='); eq != std::string_view::npos) {
    name = body.substr(0, eq);
    attached = body.substr(eq + 1);
  }
  const auto it = out_.values.entries_.find(name);
  if (it == out_.values.entries_.end()) {
    if (name == "help" || name == "h") {
      out_.help_requested = true;
      return std::size_t{0};
    }
    return ParseError{ErrorKind::CommandLine,
                      fmt::format("flag provided but not defined: -{}", name)};
  }
  FlagValues::Entry& entry = it->second;
  std::size_t consumed = 1;
  std::string_view text;
  if (attached) {
    text = *attached;
  } else if (takes_no_argument(*entry.spec)) {
    text = entry.spec->type == FlagType::Bool ? "true" : "";
  } else if (i + 1 < args.size()) {
    text = args[i + 1];
    consumed = 2;
  } else {
    return ParseError{ErrorKind::CommandLine, fmt::format("flag needs an argument: -{}", name)};
  }
  if (auto ok = set(entry, text, Source::CommandLine); !ok) {
    if (entry.spec->type == FlagType::Bool) {
      return ParseError{ErrorKind::CommandLine, fmt::format("invalid boolean value {} for -{}: {}",
                                                            go_quote(text), name, ok.error())};
    }
    return ParseError{ErrorKind::CommandLine, fmt::format("invalid value {} for flag -{}: {}",
                                                          go_quote(text), name, ok.error())};
  }
  return consumed;
}

Result<void, ParseError> Parser::parse_args(std::span<const std::string> args) {
  std::size_t i = 0;
  while (i < args.size()) {
    const std::string& arg = args[i];
    if (arg.size() < 2 || arg[0] != '-') break;  // first positional argument, or "-"
    if (arg == "--") {
      ++i;
      break;
    }
    auto consumed = parse_one(args, i);
    if (!consumed) return consumed.error();
    if (*consumed == 0) return {};  // help: the rest is not looked at, as in Go
    i += *consumed;
  }
  out_.positional.assign(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
  return {};
}

// Mirrors etcd 3.4's pkg/flags behaviour observed with the real binary: every flag not given on
// the command line takes its non-empty variable; then each remaining variable is checked. A
// variable for a flag that the command line set is fatal even when empty or equal; an unknown
// variable with the prefix only warns.
Result<void, ParseError> Parser::apply_env(std::span<const std::string> env,
                                           std::string_view env_prefix) {
  if (env_prefix.empty()) return {};
  std::map<std::string, std::string, std::less<>> vars;
  for (const std::string& kv : env) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos) continue;
    vars.emplace(kv.substr(0, eq), kv.substr(eq + 1));
  }
  std::set<std::string, std::less<>> used;
  std::set<std::string, std::less<>> set_on_command_line;
  for (auto& [name, entry] : out_.values.entries_) {
    const std::string key = env_var_name(env_prefix, name);
    if (entry.source == Source::CommandLine) {
      set_on_command_line.insert(key);
      continue;
    }
    const auto var = vars.find(key);
    if (var == vars.end() || var->second.empty()) continue;
    used.insert(key);
    if (auto ok = set(entry, var->second, Source::Environment); !ok) {
      return ParseError{
          ErrorKind::Environment,
          fmt::format("invalid value {} for {}: {}", go_quote(var->second), key, ok.error())};
    }
    out_.env_used.push_back(key + "=" + var->second);
  }
  const std::string prefix = std::string(env_prefix) + "_";
  for (const auto& [key, value] : vars) {
    if (used.contains(key)) continue;
    if (set_on_command_line.contains(key)) {
      return ParseError{ErrorKind::Environment,
                        fmt::format("conflicting environment variable \"{}\" is shadowed by "
                                    "corresponding command-line flag (either unset environment "
                                    "variable or disable flag)",
                                    key)};
    }
    if (key.starts_with(prefix)) {
      out_.warnings.push_back(fmt::format("unrecognized environment variable {}={}", key, value));
    }
  }
  return {};
}

Result<ParseOutput, ParseError> parse_command_line(std::span<const FlagSpec> specs,
                                                   std::span<const std::string> args) {
  ParseOutput out = Parser::with_defaults(specs);
  if (auto ok = Parser(out).parse_args(args); !ok) return ok.error();
  return out;
}

Result<void, ParseError> apply_environment(ParseOutput& output, std::span<const std::string> env,
                                           std::string_view env_prefix) {
  return Parser(output).apply_env(env, env_prefix);
}

Result<ParseOutput, ParseError> parse(std::span<const FlagSpec> specs,
                                      std::span<const std::string> args,
                                      std::span<const std::string> env,
                                      std::string_view env_prefix) {
  auto out = parse_command_line(specs, args);
  if (!out) return out.error();
  if (out->help_requested) return out;
  if (auto ok = apply_environment(*out, env, env_prefix); !ok) return ok.error();
  return out;
}

}  // namespace common::flags
