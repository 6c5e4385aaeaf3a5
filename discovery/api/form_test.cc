#include "discovery/api/form.h"

#include <gtest/gtest.h>

namespace discovery::api {
namespace {

std::string query_error(std::string_view q) {
  auto r = parse_query(q);
  return r ? "" : r.error().text;
}

TEST(ParseQuery, ValuesInOrderFirstWins) {
  auto r = parse_query("a=1&b=x+y%20z%2B&a=2&&c&=e");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->get("a"), "1");
  EXPECT_EQ(r->get("b"), "x y z+");
  EXPECT_TRUE(r->has("c"));
  EXPECT_EQ(r->get("c"), "");
  EXPECT_EQ(r->get(""), "e");
  EXPECT_FALSE(r->has("d"));
  EXPECT_EQ(r->size(), 5u);
}

// Causes of etcd 3.4.23's 210 answers for these query strings.
TEST(ParseQuery, ErrorsAsGo) {
  EXPECT_EQ(query_error("a=1;b=2"), "invalid semicolon separator in query");
  EXPECT_EQ(query_error("x=%zz"), "invalid URL escape \"%zz\"");
  EXPECT_EQ(query_error("x=%z"), "invalid URL escape \"%z\"");
  EXPECT_EQ(query_error("x=%"), "invalid URL escape \"%\"");
  EXPECT_EQ(query_error("%zz=1"), "invalid URL escape \"%zz\"");
  EXPECT_EQ(query_error("x=%4"), "invalid URL escape \"%4\"");
  EXPECT_EQ(query_error("x=%41"), "");
  // A semicolon anywhere wins over escape errors, before or after it.
  EXPECT_EQ(query_error("x=%zz;"), "invalid semicolon separator in query");
  EXPECT_EQ(query_error("x=1;&y=%zz"), "invalid semicolon separator in query");
  EXPECT_EQ(query_error("y=%zz&x=1;"), "invalid semicolon separator in query");
  // The first escape error wins among several.
  EXPECT_EQ(query_error("a=%x1&b=%zz"), "invalid URL escape \"%x1\"");
  EXPECT_EQ(query_error("a=%\xff"), "invalid URL escape \"%\\xff\"");
}

TEST(Unescape, PathKeepsPlus) {
  EXPECT_EQ(*go_unescape("a+b%2Fc%20d", EscapeMode::Path), "a+b/c d");
  EXPECT_EQ(*go_unescape("a+b", EscapeMode::Query), "a b");
  EXPECT_FALSE(go_unescape("%g0", EscapeMode::Path));
}

TEST(MediaType, ErrorsAsGo) {
  // The causes etcd 3.4.23 answered with (210) for these Content-Type headers on a PUT.
  EXPECT_EQ(parse_media_type("application/x-www-form-urlencoded; charset").error,
            "mime: invalid media parameter");
  EXPECT_EQ(parse_media_type(";").error, "mime: no media type");
  EXPECT_EQ(parse_media_type("application/").error, "mime: expected token after slash");
  EXPECT_EQ(parse_media_type("a/b c").error, "mime: unexpected content after media subtype");
  EXPECT_EQ(parse_media_type("application/x-www-form-urlencoded; a=1; a=2").error,
            "mime: duplicate parameter name");
  EXPECT_EQ(parse_media_type("text/plain; a=\"x").error, "mime: invalid media parameter");
  EXPECT_EQ(parse_media_type("a b").error, "mime: expected slash after first token");
}

TEST(MediaType, ValidForms) {
  EXPECT_EQ(parse_media_type("APPLICATION/X-WWW-FORM-URLENCODED").media_type,
            "application/x-www-form-urlencoded");
  const auto m = parse_media_type(" application/x-www-form-urlencoded ; charset=utf-8;");
  EXPECT_EQ(m.media_type, "application/x-www-form-urlencoded");
  EXPECT_EQ(m.error, "");
  EXPECT_EQ(parse_media_type("text/plain; a=\"q\\\"x\"").error, "");
  EXPECT_EQ(parse_media_type("text").error, "");
  // Go still returns the media type with an invalid parameter, so the body is read.
  EXPECT_EQ(parse_media_type("application/x-www-form-urlencoded; x").media_type,
            "application/x-www-form-urlencoded");
}

std::string form_value(std::string_view method, std::string_view ct, std::string_view body,
                       std::string_view query, std::string_view name) {
  auto r = parse_form(method, ct, body, query);
  return r ? std::string(r->get(name)) : "ERR " + r.error().text;
}

constexpr std::string_view kForm = "application/x-www-form-urlencoded";

TEST(ParseForm, BodyWinsOverQuery) {
  EXPECT_EQ(form_value("PUT", kForm, "value=body", "value=q", "value"), "body");
  EXPECT_EQ(form_value("PUT", kForm, "value=body&value=2", "value=q", "value"), "body");
  EXPECT_EQ(form_value("POST", kForm, "ttl=", "value=q", "value"), "q");
  EXPECT_EQ(form_value("PATCH", kForm, "value=body", "", "value"), "body");
}

TEST(ParseForm, OtherBodiesIgnored) {
  EXPECT_EQ(form_value("PUT", "", "value=body", "value=q", "value"), "q");
  EXPECT_EQ(form_value("PUT", "application/json", "{\"value\":\"j\"}", "value=q", "value"), "q");
  EXPECT_EQ(form_value("DELETE", kForm, "value=a;", "", "value"), "");  // body not read
  EXPECT_EQ(form_value("GET", kForm, "value=a", "", "value"), "");
}

TEST(ParseForm, ErrorPrecedence) {
  // Body errors win over query errors, media type errors over both.
  EXPECT_EQ(form_value("PUT", kForm, "a=1;b", "x=%zz", "a"),
            "ERR invalid semicolon separator in query");
  EXPECT_EQ(form_value("PUT", kForm, "a=%zz", "x=1;", "a"), "ERR invalid URL escape \"%zz\"");
  EXPECT_EQ(form_value("PUT", "application/x-www-form-urlencoded; charset", "value=body", "", "v"),
            "ERR mime: invalid media parameter");
  EXPECT_EQ(form_value("PUT", ";", "value=body", "", "value"), "ERR mime: no media type");
  EXPECT_EQ(form_value("DELETE", ";", "", "a=1", "a"), "1");  // no media type check for DELETE
}

TEST(ParseForm, BodySizeLimit) {
  std::string body = "value=" + std::string(kFormBodyBytesMax - 6, 'v');
  EXPECT_EQ(form_value("PUT", kForm, body, "", "value").size(), kFormBodyBytesMax - 6);
  body += 'v';
  EXPECT_EQ(form_value("PUT", kForm, body, "", "value"), "ERR http: POST too large");
}

TEST(ParseTarget, OriginAndAbsoluteForms) {
  auto t = parse_target("/v2/keys/a%2Fb+c?x=1&y=%zz");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->path, "/v2/keys/a/b+c");
  EXPECT_EQ(t->raw_query, "x=1&y=%zz");
  t = parse_target("http://h:1/v2/keys//a?x");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->path, "/v2/keys//a");
  EXPECT_EQ(t->raw_query, "x");
  t = parse_target("/v2/keys/a#frag");  // a request URI has no fragment
  ASSERT_TRUE(t);
  EXPECT_EQ(t->path, "/v2/keys/a#frag");
  t = parse_target("/v2/keys?");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->raw_query, "");
}

TEST(ParseTarget, Errors) {
  EXPECT_FALSE(parse_target("/v2/keys/%zz"));
  EXPECT_FALSE(parse_target("v2/keys"));
  EXPECT_FALSE(parse_target(""));
  EXPECT_FALSE(parse_target(std::string_view("/a\x01", 3)));
  EXPECT_TRUE(parse_target("*"));
}

}  // namespace
}  // namespace discovery::api
