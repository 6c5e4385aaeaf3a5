#include "discovery/api/keys_request.h"

#include <gtest/gtest.h>

namespace discovery::api {
namespace {

constexpr std::string_view kForm = "application/x-www-form-urlencoded";

Request make_request(http::verb method, std::string_view target, std::string_view body = "",
                     std::string_view content_type = "") {
  Request req{method, target, 11};
  req.set(http::field::host, "x");
  if (!content_type.empty()) req.set(http::field::content_type, content_type);
  req.body() = std::string(body);
  return req;
}

// "code cause" of the parse error, or "ok".
std::string outcome(http::verb method, std::string_view target, std::string_view body = "",
                    std::string_view content_type = "") {
  auto r = parse_keys_request(make_request(method, target, body, content_type));
  if (r) return "ok";
  EXPECT_EQ(r.error().index, 0u);
  return std::to_string(static_cast<int>(r.error().code)) + " " + r.error().cause;
}

struct Case {
  http::verb method;
  const char* target;
  const char* expected;
};

// Every row was sent to etcd 3.4.23; `expected` is its errorCode and cause.
TEST(ParseKeysRequest, ErrorTableMatchesEtcd) {
  using http::verb;
  const Case cases[] = {
      {verb::get, "/v2/keys/a?recursive=x", "209 invalid value for \"recursive\""},
      {verb::get, "/v2/keys/a?recursive=", "209 invalid value for \"recursive\""},
      {verb::get, "/v2/keys/a?recursive", "209 invalid value for \"recursive\""},
      {verb::get, "/v2/keys/a?recursive=tRue", "209 invalid value for \"recursive\""},
      {verb::get, "/v2/keys/a?sorted=x", "209 invalid value for \"sorted\""},
      {verb::get, "/v2/keys/a?wait=x", "209 invalid value for \"wait\""},
      {verb::get, "/v2/keys/a?dir=x", "209 invalid value for \"dir\""},
      {verb::get, "/v2/keys/a?quorum=x", "209 invalid value for \"quorum\""},
      {verb::get, "/v2/keys/a?stream=x", "209 invalid value for \"stream\""},
      {verb::get, "/v2/keys/a?noValueOnSuccess=x", "209 invalid value for \"noValueOnSuccess\""},
      {verb::get, "/v2/keys/a?prevExist=x", "209 invalid value for prevExist"},
      {verb::get, "/v2/keys/a?prevExist=", "209 invalid value for prevExist"},
      {verb::get, "/v2/keys/a?refresh=x", "209 invalid value for refresh"},
      {verb::get, "/v2/keys/a?refresh=", "209 invalid value for refresh"},
      {verb::get, "/v2/keys/a?prevIndex=x", "203 invalid value for \"prevIndex\""},
      {verb::get, "/v2/keys/a?prevIndex=", "203 invalid value for \"prevIndex\""},
      {verb::get, "/v2/keys/a?prevIndex=%2B1", "203 invalid value for \"prevIndex\""},
      {verb::get, "/v2/keys/a?waitIndex=x", "203 invalid value for \"waitIndex\""},
      {verb::get, "/v2/keys/a?waitIndex=-1", "203 invalid value for \"waitIndex\""},
      {verb::get, "/v2/keys/a?ttl=x", "202 invalid value for \"ttl\""},
      {verb::get, "/v2/keys/a?ttl=-1", "202 invalid value for \"ttl\""},
      {verb::get, "/v2/keys/a?ttl=+1", "202 invalid value for \"ttl\""},
      {verb::get, "/v2/keys/a?ttl=18446744073709551616", "202 invalid value for \"ttl\""},
      {verb::get, "/v2/keys/a?ttl=18446744073709551615", "ok"},
      {verb::get, "/v2/keys/a?prevValue=", "201 \"prevValue\" cannot be empty"},
      {verb::put, "/v2/keys/a?wait=true", "209 \"wait\" can only be used with GET requests"},
      {verb::delete_, "/v2/keys/a?wait=true", "209 \"wait\" can only be used with GET requests"},
      {verb::head, "/v2/keys/a?wait=true", "209 \"wait\" can only be used with GET requests"},
      {verb::post, "/v2/keys/a?wait=true", "209 \"wait\" can only be used with GET requests"},
      {verb::put, "/v2/keys/a?refresh=true", "212 No TTL value set"},
      {verb::put, "/v2/keys/a?refresh=true&value=z", "211 A value was provided on a refresh"},
      {verb::put, "/v2/keys/a?refresh=true&value=&ttl=", "212 No TTL value set"},
      {verb::put, "/v2/keys/a?refresh=true&value=z&ttl=5", "211 A value was provided on a refresh"},
      {verb::put, "/v2/keys/a?refresh=false&value=z", "ok"},
      {verb::get, "/v2/keys/a?a=1;b=2", "210 invalid semicolon separator in query"},
      {verb::get, "/v2/keys/a?x=%zz", "210 invalid URL escape \"%zz\""},
      {verb::get, "/v2/keys/a?x=%z", "210 invalid URL escape \"%z\""},
      {verb::get, "/v2/keys/a?x=%", "210 invalid URL escape \"%\""},
      {verb::get, "/v2/keys/a?%zz=1", "210 invalid URL escape \"%zz\""},
      {verb::get, "/v2/keys/a?x=%zz;", "210 invalid semicolon separator in query"},
      {verb::get, "/v2/keys/a?x=1;&y=%zz", "210 invalid semicolon separator in query"},
      {verb::get, "/v2/keys/a?y=%zz&x=1;", "210 invalid semicolon separator in query"},
      {verb::get, "/v2/keys/a?recursive=T", "ok"},
      {verb::get, "/v2/keys/a?recursive=TRUE", "ok"},
      {verb::get, "/v2/keys/a?recursive=1&recursive=x", "ok"},
      {verb::get, "/v2/keys/a?recursive=x&recursive=1", "209 invalid value for \"recursive\""},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(outcome(c.method, c.target), c.expected) << c.target;
  }
}

// Which error etcd 3.4.23 reports when several parameters are bad.
TEST(ParseKeysRequest, PrecedenceMatchesEtcd) {
  using http::verb;
  const Case cases[] = {
      {verb::get, "/v2/keys/a?recursive=x&prevIndex=x", "203 invalid value for \"prevIndex\""},
      {verb::get, "/v2/keys/a?waitIndex=x&prevIndex=x", "203 invalid value for \"prevIndex\""},
      {verb::get, "/v2/keys/a?ttl=x&recursive=x", "209 invalid value for \"recursive\""},
      {verb::get, "/v2/keys/a?stream=x&sorted=x&quorum=y", "209 invalid value for \"sorted\""},
      {verb::put,
       "/v2/keys/a?wait=true&prevValue=", "209 \"wait\" can only be used with GET requests"},
      {verb::put, "/v2/keys/a?prevValue=&noValueOnSuccess=x", "201 \"prevValue\" cannot be empty"},
      {verb::get, "/v2/keys/a?noValueOnSuccess=x&ttl=x",
       "209 invalid value for \"noValueOnSuccess\""},
      {verb::get, "/v2/keys/a?ttl=x&prevExist=x", "202 invalid value for \"ttl\""},
      {verb::get, "/v2/keys/a?prevExist=x&refresh=x", "209 invalid value for prevExist"},
      {verb::put, "/v2/keys/a?wait=x&dir=y", "209 invalid value for \"wait\""},
      {verb::put, "/v2/keys/a?stream=x&wait=true", "209 invalid value for \"stream\""},
      {verb::put, "/v2/keys/a?wait=true&noValueOnSuccess=x",
       "209 \"wait\" can only be used with GET requests"},
      {verb::get, "/v2/keys/a?x=%zz&recursive=x", "210 invalid URL escape \"%zz\""},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(outcome(c.method, c.target), c.expected) << c.target;
  }
}

TEST(ParseKeysRequest, FormBodyErrors) {
  using http::verb;
  EXPECT_EQ(outcome(verb::put, "/v2/keys/b?x=%zz", "a=1;b", kForm),
            "210 invalid semicolon separator in query");
  EXPECT_EQ(outcome(verb::put, "/v2/keys/b?x=1;", "a=%zz", kForm),
            "210 invalid URL escape \"%zz\"");
  EXPECT_EQ(
      outcome(verb::put, "/v2/keys/b", "value=body", "application/x-www-form-urlencoded; charset"),
      "210 mime: invalid media parameter");
  EXPECT_EQ(outcome(verb::put, "/v2/keys/b", "value=body", ";"), "210 mime: no media type");
  EXPECT_EQ(outcome(verb::put, "/v2/keys/b", "value=body", "application/"),
            "210 mime: expected token after slash");
  EXPECT_EQ(outcome(verb::put, "/v2/keys/b", "value=body", "a/b c"),
            "210 mime: unexpected content after media subtype");
  EXPECT_EQ(outcome(verb::put, "/v2/keys/b", "v=1", "application/x-www-form-urlencoded; a=1; a=2"),
            "210 mime: duplicate parameter name");
  EXPECT_EQ(outcome(verb::delete_, "/v2/keys/b", "value=a;", kForm), "ok");
}

KeysRequest parsed(http::verb method, std::string_view target, std::string_view body = "",
                   std::string_view content_type = "") {
  auto r = parse_keys_request(make_request(method, target, body, content_type));
  EXPECT_TRUE(r) << target;
  return r ? *r : KeysRequest{};
}

TEST(ParseKeysRequest, KeyPath) {
  using http::verb;
  EXPECT_EQ(parsed(verb::get, "/v2/keys").key, "/");
  EXPECT_EQ(parsed(verb::get, "/v2/keys/").key, "/");
  EXPECT_EQ(parsed(verb::get, "/v2/keys/a+b%2Fc%20d/").key, "/a+b/c d");
  EXPECT_EQ(parsed(verb::put, "/v2/keys/x%2Fy?value=1").key, "/x/y");
  EXPECT_EQ(parsed(verb::get, "/v2/keys/a%3Fb").key, "/a?b");
  EXPECT_EQ(parsed(verb::get, "/v2/keys/a#frag").key, "/a#frag");
  EXPECT_EQ(parsed(verb::get, "/v2/keys/%00").key, std::string("/\0", 2));
}

TEST(ParseKeysRequest, PxcEntrypointRequests) {
  using http::verb;
  KeysRequest r =
      parsed(verb::post, "/v2/keys/pxc-cluster/queue/percona", "value=10.0.0.5&ttl=60", kForm);
  EXPECT_EQ(r.method, KeysMethod::Post);
  EXPECT_EQ(r.key, "/pxc-cluster/queue/percona");
  EXPECT_EQ(r.value, "10.0.0.5");
  EXPECT_EQ(r.ttl_seconds, 60u);
  r = parsed(verb::put, "/v2/keys/pxc-cluster/percona/10.0.0.5", "ttl=30&dir=true&prevExist=true",
             kForm);
  EXPECT_TRUE(r.dir);
  EXPECT_EQ(r.prev_exist, true);
  EXPECT_EQ(r.ttl_seconds, 30u);
  r = parsed(verb::get, "/v2/keys/pxc-cluster/percona/?quorum=true");
  EXPECT_EQ(r.key, "/pxc-cluster/percona");
  EXPECT_TRUE(r.quorum);
  r = parsed(verb::delete_, "/v2/keys/pxc-cluster/percona/10.0.0.5/?recursive=true");
  EXPECT_TRUE(r.recursive);
  EXPECT_TRUE(r.is_write());
}

TEST(ParseKeysRequest, AllFields) {
  KeysRequest r = parsed(http::verb::get,
                         "/v2/keys/w?wait=true&waitIndex=7&stream=1&recursive=t&sorted=True"
                         "&prevIndex=3&prevValue=pv&prevExist=false&refresh=false&ttl=&value=v"
                         "&noValueOnSuccess=true&dir=F&quorum=TRUE");
  KeysRequest want;
  want.method = KeysMethod::Get;
  want.key = "/w";
  want.value = "v";
  want.wait = want.stream = want.recursive = want.sorted = want.no_value_on_success = true;
  want.quorum = true;
  want.wait_index = 7;
  want.prev_index = 3;
  want.prev_value = "pv";
  want.prev_exist = false;
  want.refresh = false;
  EXPECT_EQ(r, want);
}

TEST(ParseKeysRequest, ValueSources) {
  using http::verb;
  EXPECT_EQ(parsed(verb::put, "/v2/keys/b?value=q", "value=body", kForm).value, "body");
  EXPECT_EQ(parsed(verb::put, "/v2/keys/b?value=q", "value=body").value, "q");
  EXPECT_EQ(parsed(verb::put, "/v2/keys/b?value=q", "{\"value\":\"j\"}", "application/json").value,
            "q");
  EXPECT_EQ(parsed(verb::put, "/v2/keys/b", "value=a+b%20c%2B", kForm).value, "a b c+");
  EXPECT_EQ(parsed(verb::put, "/v2/keys/b", "{\"value\":\"j\"}", "application/json").value, "");
  EXPECT_EQ(
      parsed(verb::put, "/v2/keys/b", "value=body", "APPLICATION/X-WWW-FORM-URLENCODED").value,
      "body");
  EXPECT_FALSE(parsed(verb::put, "/v2/keys/c", "value=1&ttl=", kForm).ttl_seconds);
}

std::int64_t expiration_of(std::string_view ttl, std::int64_t now_ns) {
  KeysRequest r = parsed(http::verb::put, "/v2/keys/d?value=v&ttl=" + std::string(ttl));
  const auto cmd = make_write_command(r, WallTime{std::chrono::nanoseconds{now_ns}});
  EXPECT_EQ(cmd.time_unix_ns(), now_ns);
  return cmd.write().expiration_unix_ns();
}

TEST(MakeWriteCommand, ExpirationWrapsLikeGo) {
  EXPECT_EQ(expiration_of("100", 1'000), 100'000'001'000);
  EXPECT_EQ(expiration_of("0", 5), 5);
  // etcd 3.4.23 answered ttl=18446744073709551615 with now - 1 s ("ttl":-1)...
  EXPECT_EQ(format_rfc3339_nano_unix_ns(expiration_of("18446744073709551615", 1795761555468105175)),
            "2026-11-27T06:39:14.468105175Z");
  // ...and an update with ttl=10000000000 with an expiration in 1759.
  EXPECT_EQ(format_rfc3339_nano_unix_ns(expiration_of("10000000000", 1795761555466815219)),
            "1759-03-29T00:51:21.757263603Z");
}

TEST(MakeWriteCommand, CopiesTheRequest) {
  KeysRequest r = parsed(http::verb::put,
                         "/v2/keys/a/b?value=v&dir=true&prevValue=p&prevIndex=9&prevExist=true"
                         "&recursive=true");
  const auto cmd = make_write_command(r, WallTime{std::chrono::seconds{2}});
  const auto& w = cmd.write();
  EXPECT_EQ(w.method(), store::pb::Write::PUT);
  EXPECT_EQ(w.key(), "/a/b");
  EXPECT_EQ(w.value(), "v");
  EXPECT_TRUE(w.dir());
  EXPECT_EQ(w.prev_value(), "p");
  EXPECT_EQ(w.prev_index(), 9u);
  EXPECT_TRUE(w.has_prev_exist());
  EXPECT_TRUE(w.prev_exist());
  EXPECT_TRUE(w.recursive());
  EXPECT_FALSE(w.refresh());
  EXPECT_EQ(w.expiration_unix_ns(), 0);
  EXPECT_EQ(cmd.time_unix_ns(), 2'000'000'000);

  r = parsed(http::verb::put, "/v2/keys/r?refresh=true&ttl=50&prevExist=true");
  EXPECT_TRUE(make_write_command(r, WallTime{}).write().refresh());
  r = parsed(http::verb::post, "/v2/keys/q?value=x");
  EXPECT_EQ(make_write_command(r, WallTime{}).write().method(), store::pb::Write::POST);
  EXPECT_FALSE(make_write_command(r, WallTime{}).write().has_prev_exist());
  r = parsed(http::verb::delete_, "/v2/keys/q");
  EXPECT_EQ(make_write_command(r, WallTime{}).write().method(), store::pb::Write::DELETE);
}

}  // namespace
}  // namespace discovery::api
