#include "discovery/api/go_format.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace discovery::api {
namespace {

using namespace std::chrono_literals;

WallTime unix_ns(std::int64_t ns) { return WallTime{std::chrono::nanoseconds{ns}}; }

// Values written through a form body on etcd 3.4.23 and read back; the expected strings are
// the bytes etcd sent.
TEST(JsonString, MatchesEtcdForSpecialCharacters) {
  // %3C%3E%26%E2%80%A8%E2%80%A9%01%1f%7f%0a%0d%09%22%5c%C3%A9%F0%9F%98%80%08%0c
  const std::string value =
      "<>&\xE2\x80\xA8\xE2\x80\xA9\x01\x1f\x7f\n\r\t\"\\\xC3\xA9\xF0\x9F\x98\x80\x08\x0c";
  EXPECT_EQ(json_string(value),
            "\"\\u003c\\u003e\\u0026\\u2028\\u2029\\u0001\\u001f\x7f\\n\\r\\t\\\"\\\\"
            "\xC3\xA9\xF0\x9F\x98\x80\\u0008\\u000c\"");
}

TEST(JsonString, InvalidUtf8BecomesOneReplacementPerByte) {
  // %ff%c3%28%e2%80%a8%ed%a0%80%f4%90%80%80z%00 on etcd 3.4.23.
  const std::string value("\xff\xc3\x28\xe2\x80\xa8\xed\xa0\x80\xf4\x90\x80\x80z\x00", 15);
  EXPECT_EQ(json_string(value),
            "\"\\ufffd\\ufffd(\\u2028\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffdz\\u0000\"");
}

TEST(JsonString, TruncatedSequencesAndOverlongForms) {
  EXPECT_EQ(json_string("\xC3"), "\"\\ufffd\"");
  EXPECT_EQ(json_string("\xE2\x80"), "\"\\ufffd\\ufffd\"");
  EXPECT_EQ(json_string("\xC0\xAF"), "\"\\ufffd\\ufffd\"");  // overlong '/'
  EXPECT_EQ(json_string("\xE0\x80\xAF"), "\"\\ufffd\\ufffd\\ufffd\"");
  EXPECT_EQ(json_string("\xF0\x90\x80\x80"), "\"\xF0\x90\x80\x80\"");  // U+10000 is valid
  EXPECT_EQ(json_string("\xEF\xBF\xBD"), "\"\xEF\xBF\xBD\"");          // a real U+FFFD stays raw
  EXPECT_EQ(json_string(""), "\"\"");
}

TEST(Rfc3339Nano, TrimsTrailingZeros) {
  EXPECT_EQ(format_rfc3339_nano_unix_ns(1795761455773149848), "2026-11-27T06:37:35.773149848Z");
  EXPECT_EQ(format_rfc3339_nano_unix_ns(1795761655461742890), "2026-11-27T06:40:55.46174289Z");
  EXPECT_EQ(format_rfc3339_nano_unix_ns(1795761600000000000), "2026-11-27T06:40:00Z");
  EXPECT_EQ(format_rfc3339_nano_unix_ns(1795761600100000000), "2026-11-27T06:40:00.1Z");
  EXPECT_EQ(format_rfc3339_nano_unix_ns(0), "1970-01-01T00:00:00Z");
  // The earliest time a Go UnixNano can hold.
  EXPECT_EQ(format_rfc3339_nano_unix_ns(INT64_MIN), "1677-09-21T00:12:43.145224192Z");
  EXPECT_EQ(format_rfc3339_nano(unix_ns(951782400000000001)), "2000-02-29T00:00:00.000000001Z");
}

TEST(Rfc3339Nano, BeforeEpoch) {
  // etcd 3.4.23 answer to an update with ttl=10000000000 (the int64 duration wraps).
  EXPECT_EQ(format_rfc3339_nano_unix_ns(-6650982518242736397), "1759-03-29T00:51:21.757263603Z");
  EXPECT_EQ(format_rfc3339_nano_unix_ns(-1), "1969-12-31T23:59:59.999999999Z");
}

TEST(GoDuration, MatchesTimeDurationString) {
  EXPECT_EQ(format_go_duration(0), "0s");
  EXPECT_EQ(format_go_duration(1), "1ns");
  EXPECT_EQ(format_go_duration(1500), "1.5\xC2\xB5s");
  EXPECT_EQ(format_go_duration(1'500'000), "1.5ms");
  EXPECT_EQ(format_go_duration(7'764'107'857), "7.764107857s");  // seen in /v2/stats/self
  EXPECT_EQ(format_go_duration(62'500'000'000), "1m2.5s");
  EXPECT_EQ(format_go_duration(3'600'000'000'001), "1h0m0.000000001s");
  EXPECT_EQ(format_go_duration(-2'000'000'000), "-2s");
  EXPECT_EQ(format_go_duration(90'000'000'000'000), "25h0m0s");
}

TEST(GoFloat, ShortestRoundTrip) {
  EXPECT_EQ(format_go_float(0), "0");
  EXPECT_EQ(format_go_float(1), "1");
  EXPECT_EQ(format_go_float(0.5), "0.5");
  EXPECT_EQ(format_go_float(1234.5678), "1234.5678");
  EXPECT_EQ(format_go_float(0.000001), "0.000001");
  EXPECT_EQ(format_go_float(0.0000001), "1e-7");
  EXPECT_EQ(format_go_float(1e21), "1e+21");
  EXPECT_EQ(format_go_float(123456789012345680000.0), "123456789012345680000");
}

TEST(GoQuote, EscapesLikeStrconvQuote) {
  EXPECT_EQ(go_quote("%zz"), "\"%zz\"");
  EXPECT_EQ(go_quote("%\xff"), "\"%\\xff\"");
  EXPECT_EQ(go_quote("%\xC3\xA9"), "\"%\xC3\xA9\"");
  EXPECT_EQ(go_quote("%\"\\"), "\"%\\\"\\\\\"");
  EXPECT_EQ(go_quote("%\x01\x7f"), "\"%\\x01\\x7f\"");
  EXPECT_EQ(go_quote("%\n"), "\"%\\n\"");
}

TEST(GoParse, Bool) {
  for (const char* s : {"1", "t", "T", "TRUE", "true", "True"}) EXPECT_EQ(parse_go_bool(s), true);
  for (const char* s : {"0", "f", "F", "FALSE", "false", "False"}) {
    EXPECT_EQ(parse_go_bool(s), false);
  }
  for (const char* s : {"", "tRue", "yes", "2", " true", "true "}) {
    EXPECT_EQ(parse_go_bool(s), std::nullopt) << s;
  }
}

TEST(GoParse, Uint64) {
  EXPECT_EQ(parse_go_uint64("0"), 0u);
  EXPECT_EQ(parse_go_uint64("007"), 7u);
  EXPECT_EQ(parse_go_uint64("18446744073709551615"), 18446744073709551615u);
  for (const char* s : {"", "18446744073709551616", "-1", "+1", "1.5", "abc", "1_000", " 1"}) {
    EXPECT_EQ(parse_go_uint64(s), std::nullopt) << s;
  }
}

TEST(GoPathClean, MatchesPathClean) {
  EXPECT_EQ(go_path_clean(""), ".");
  EXPECT_EQ(go_path_clean("/"), "/");
  EXPECT_EQ(go_path_clean("/a/"), "/a");
  EXPECT_EQ(go_path_clean("//a//b/"), "/a/b");
  EXPECT_EQ(go_path_clean("/a/./b/../c"), "/a/c");
  EXPECT_EQ(go_path_clean("/../a"), "/a");
  EXPECT_EQ(go_path_clean("a/../.."), "..");
  EXPECT_EQ(go_path_clean("/a/b/.."), "/a");
  EXPECT_EQ(go_path_clean("/..."), "/...");
}

}  // namespace
}  // namespace discovery::api
