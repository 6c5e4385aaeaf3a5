#include "common/flags.h"

#include <gtest/gtest.h>

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "common/go_text.h"

namespace common::flags {
namespace {

using namespace std::chrono_literals;

std::optional<std::string> no_x(std::string_view text, const Value&) {
  if (text.find('x') != std::string_view::npos) return std::string("contains x");
  return std::nullopt;
}

constexpr std::array kSpecs = {
    FlagSpec{"name", FlagType::String, "default", "member name"},
    FlagSpec{"data-dir", FlagType::String, "", "data directory"},
    FlagSpec{"enable-v2", FlagType::Bool, "false", "v2 API"},
    FlagSpec{"snapshot-count", FlagType::Uint, "100000", "snapshot every N"},
    FlagSpec{"quota-backend-bytes", FlagType::Int, "0", "quota"},
    FlagSpec{"grpc-keepalive-min-time", FlagType::Duration, "5s", "keepalive"},
    FlagSpec{"listen-client-urls", FlagType::StringList, "http://localhost:2379", "urls"},
    FlagSpec{"checked", FlagType::String, "", "no x allowed", &no_x},
    FlagSpec{"v", FlagType::Ignored, "", "legacy"},
};

Result<ParseOutput, ParseError> run(std::vector<std::string> args,
                                    std::vector<std::string> env = {}) {
  return parse(kSpecs, args, env, "ETCD");
}

TEST(FlagsTest, DefaultsWhenNothingGiven) {
  auto out = run({});
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->values.get_string("name"), "default");
  EXPECT_FALSE(out->values.get_bool("enable-v2"));
  EXPECT_EQ(out->values.get_uint("snapshot-count"), 100000u);
  EXPECT_EQ(out->values.get_duration("grpc-keepalive-min-time"), 5s);
  EXPECT_EQ(out->values.get_list("listen-client-urls"),
            std::vector<std::string>{"http://localhost:2379"});
  EXPECT_EQ(out->values.source("name"), Source::kDefault);
  EXPECT_FALSE(out->values.is_set("name"));
}

struct SyntaxCase {
  std::vector<std::string> args;
  std::string name;  // expected --name value
  std::vector<std::string> positional;
};

TEST(FlagsTest, GoSyntaxForms) {
  const std::vector<SyntaxCase> cases = {
      {{"--name", "a"}, "a", {}},
      {{"--name=a"}, "a", {}},
      {{"-name", "a"}, "a", {}},
      {{"-name=a"}, "a", {}},
      {{"--name="}, "", {}},
      {{"--name", "-x"}, "-x", {}},  // a value may start with '-'
      {{"--name=a=b"}, "a=b", {}},
      {{"--name", "a", "--name", "b"}, "b", {}},  // last one wins
      {{"--name", "a", "rest", "--name", "b"}, "a", {"rest", "--name", "b"}},
      {{"--", "--name", "b"}, "default", {"--name", "b"}},
      {{"-", "--name", "b"}, "default", {"-", "--name", "b"}},
      {{"--enable-v2", "false"}, "default", {"false"}},  // bool never takes the next argument
  };
  for (const auto& c : cases) {
    auto out = run(c.args);
    ASSERT_TRUE(out.has_value()) << c.args[0] << ": " << out.error().message;
    EXPECT_EQ(out->values.get_string("name"), c.name) << c.args[0];
    EXPECT_EQ(out->positional, c.positional) << c.args[0];
  }
}

TEST(FlagsTest, BoolSpellingsAreGoParseBool) {
  const std::vector<std::pair<std::string, bool>> cases = {
      {"--enable-v2", true},        {"--enable-v2=true", true},   {"-enable-v2=1", true},
      {"--enable-v2=t", true},      {"--enable-v2=T", true},      {"--enable-v2=TRUE", true},
      {"--enable-v2=True", true},   {"--enable-v2=false", false}, {"--enable-v2=0", false},
      {"--enable-v2=f", false},     {"--enable-v2=F", false},     {"--enable-v2=FALSE", false},
      {"--enable-v2=False", false},
  };
  for (const auto& [arg, want] : cases) {
    auto out = run({arg});
    ASSERT_TRUE(out.has_value()) << arg;
    EXPECT_EQ(out->values.get_bool("enable-v2"), want) << arg;
    EXPECT_EQ(out->values.source("enable-v2"), Source::CommandLine);
  }
}

// Every message below was printed by etcd 3.4.23 for the same arguments (first stderr line).
TEST(FlagsTest, CommandLineErrorsMatchEtcdText) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--foo"}, "flag provided but not defined: -foo"},
      {{"-foo=1"}, "flag provided but not defined: -foo"},
      {{"--name"}, "flag needs an argument: -name"},
      {{"---name=x"}, "bad flag syntax: ---name=x"},
      {{"-=x"}, "bad flag syntax: -=x"},
      {{"--=x"}, "bad flag syntax: --=x"},
      {{"--enable-v2=yes"}, "invalid boolean value \"yes\" for -enable-v2: parse error"},
      {{"--snapshot-count", "abc"}, "invalid value \"abc\" for flag -snapshot-count: parse error"},
      {{"--snapshot-count=-1"}, "invalid value \"-1\" for flag -snapshot-count: parse error"},
      {{"--snapshot-count", "99999999999999999999999"},
       "invalid value \"99999999999999999999999\" for flag -snapshot-count: value out of range"},
      {{"--quota-backend-bytes", "abc"},
       "invalid value \"abc\" for flag -quota-backend-bytes: parse error"},
      {{"--grpc-keepalive-min-time", "5"},
       "invalid value \"5\" for flag -grpc-keepalive-min-time: parse error"},
      {{"--checked", "axb"}, "invalid value \"axb\" for flag -checked: contains x"},
      {{"--name", "a", "--foo", "--bar"}, "flag provided but not defined: -foo"},
  };
  for (const auto& [args, message] : cases) {
    auto out = run(args);
    ASSERT_FALSE(out.has_value()) << args[0];
    EXPECT_EQ(out.error().kind, ErrorKind::CommandLine);
    EXPECT_EQ(out.error().message, message);
  }
}

TEST(FlagsTest, HelpStopsParsing) {
  for (const std::string arg : {"-h", "--h", "-help", "--help", "-h=true"}) {
    auto out = run({arg, "--foo"});
    ASSERT_TRUE(out.has_value()) << arg;
    EXPECT_TRUE(out->help_requested) << arg;
  }
}

TEST(FlagsTest, IgnoredFlagWarns) {
  auto out = run({"-v", "--name", "x"});
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->values.get_string("name"), "x");
  EXPECT_EQ(out->warnings,
            std::vector<std::string>{"flag \"-v\" is no longer supported - ignoring."});
}

TEST(FlagsTest, EnvironmentFillsUnsetFlags) {
  auto out = run({"--data-dir", "/d"},
                 {"ETCD_NAME=envname", "ETCD_ENABLE_V2=true", "ETCD_SNAPSHOT_COUNT=", "PATH=/bin",
                  "ETCD_LISTEN_CLIENT_URLS=http://a:1,http://b:2"});
  ASSERT_TRUE(out.has_value()) << out.error().message;
  EXPECT_EQ(out->values.get_string("name"), "envname");
  EXPECT_EQ(out->values.source("name"), Source::Environment);
  EXPECT_TRUE(out->values.is_set("name"));
  EXPECT_TRUE(out->values.get_bool("enable-v2"));
  // An empty variable is not used, as in etcd.
  EXPECT_EQ(out->values.get_uint("snapshot-count"), 100000u);
  EXPECT_FALSE(out->values.is_set("snapshot-count"));
  EXPECT_EQ(out->values.get_list("listen-client-urls"),
            (std::vector<std::string>{"http://a:1", "http://b:2"}));
  EXPECT_EQ(out->values.get_string("data-dir"), "/d");
  // etcd 3.4.23 warns about the empty, hence unused, variable.
  EXPECT_EQ(out->warnings,
            std::vector<std::string>{"unrecognized environment variable ETCD_SNAPSHOT_COUNT="});
  EXPECT_EQ(out->env_used,
            (std::vector<std::string>{"ETCD_ENABLE_V2=true",
                                      "ETCD_LISTEN_CLIENT_URLS=http://a:1,http://b:2",
                                      "ETCD_NAME=envname"}));
}

TEST(FlagsTest, EnvironmentWarningsAndErrorsMatchEtcd) {
  auto unknown = run({}, {"ETCD_FOO_BAR=1", "ETCDX=1"});
  ASSERT_TRUE(unknown.has_value());
  EXPECT_EQ(unknown->warnings,
            std::vector<std::string>{"unrecognized environment variable ETCD_FOO_BAR=1"});

  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"ETCD_SNAPSHOT_COUNT=abc"}, "invalid value \"abc\" for ETCD_SNAPSHOT_COUNT: parse error"},
      {{"ETCD_ENABLE_V2=yes"}, "invalid value \"yes\" for ETCD_ENABLE_V2: parse error"},
      {{"ETCD_NAME=other"},
       "conflicting environment variable \"ETCD_NAME\" is shadowed by corresponding command-line "
       "flag (either unset environment variable or disable flag)"},
      // etcd treats an empty or equal variable as a conflict too.
      {{"ETCD_NAME="},
       "conflicting environment variable \"ETCD_NAME\" is shadowed by corresponding command-line "
       "flag (either unset environment variable or disable flag)"},
  };
  for (const auto& [env, message] : cases) {
    auto out = run({"--name", "x"}, env);
    ASSERT_FALSE(out.has_value()) << env[0];
    EXPECT_EQ(out.error().kind, ErrorKind::Environment);
    EXPECT_EQ(out.error().message, message);
  }
}

TEST(FlagsTest, EnvVarName) {
  EXPECT_EQ(env_var_name("ETCD", "data-dir"), "ETCD_DATA_DIR");
  EXPECT_EQ(env_var_name("ETCD", "name"), "ETCD_NAME");
}

TEST(FlagsTest, ParseUintIsGoBaseZero) {
  const std::vector<std::pair<std::string, std::optional<std::uint64_t>>> cases = {
      {"0", 0},
      {"10", 10},
      {"0x10", 16},
      {"0X1f", 31},
      {"010", 8},
      {"0o17", 15},
      {"0b101", 5},
      {"1_000", 1000},
      {"0x_1F", 31},
      {"18446744073709551615", UINT64_MAX},
      {"", std::nullopt},
      {"_1", std::nullopt},
      {"1_", std::nullopt},
      {"1__0", std::nullopt},
      {"08", std::nullopt},
      {"0x", std::nullopt},
      {"-1", std::nullopt},
      {"+1", std::nullopt},
      {"1.5", std::nullopt},
      {" 1", std::nullopt},
  };
  for (const auto& [text, want] : cases) {
    auto got = parse_uint(text);
    if (want) {
      ASSERT_TRUE(got.has_value()) << text;
      EXPECT_EQ(*got, *want) << text;
    } else {
      EXPECT_FALSE(got.has_value()) << text;
      EXPECT_EQ(got.error(), "parse error") << text;
    }
  }
  EXPECT_EQ(parse_uint("18446744073709551616").error(), "value out of range");
}

TEST(FlagsTest, ParseIntIsGoBaseZero) {
  EXPECT_EQ(*parse_int("-5"), -5);
  EXPECT_EQ(*parse_int("+0x10"), 16);
  EXPECT_EQ(*parse_int("-9223372036854775808"), INT64_MIN);
  EXPECT_EQ(*parse_int("9223372036854775807"), INT64_MAX);
  EXPECT_EQ(parse_int("9223372036854775808").error(), "value out of range");
  EXPECT_EQ(parse_int("-").error(), "parse error");
  EXPECT_EQ(parse_int("1.5").error(), "parse error");
}

TEST(FlagsTest, ParseDurationIsGo) {
  using std::chrono::nanoseconds;
  const std::vector<std::pair<std::string, std::optional<nanoseconds>>> cases = {
      {"0", 0ns},
      {"5s", 5s},
      {"100ms", 100ms},
      {"1h30m", 90min},
      {"1.5s", 1500ms},
      {".5s", 500ms},
      {"-2m", -2min},
      {"+3us", 3us},
      {"1\xC2\xB5s", 1us},
      {"2h45m30.5s", 2h + 45min + 30s + 500ms},
      {"2562047h47m16.854775807s", nanoseconds{INT64_MAX}},
      {"5", std::nullopt},
      {"", std::nullopt},
      {"s", std::nullopt},
      {".s", std::nullopt},
      {"1d", std::nullopt},
      {"-", std::nullopt},
      {"2562047h47m16.854775808s", std::nullopt},
  };
  for (const auto& [text, want] : cases) {
    auto got = parse_duration(text);
    if (want) {
      ASSERT_TRUE(got.has_value()) << text;
      EXPECT_EQ(*got, *want) << text;
    } else {
      EXPECT_FALSE(got.has_value()) << text;
    }
  }
}

TEST(FlagsTest, GoQuote) {
  EXPECT_EQ(go_quote("abc"), "\"abc\"");
  EXPECT_EQ(go_quote("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\x01\"");
}

}  // namespace
}  // namespace common::flags
