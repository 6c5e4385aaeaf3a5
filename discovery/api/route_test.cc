#include "discovery/api/route.h"

#include <gtest/gtest.h>

#include "discovery/api/test_wire.h"

namespace discovery::api {
namespace {

using testing::kCors;
using testing::wire;

constexpr std::uint64_t kClusterId = 0x8af6ec0d51b28919;

Request make_request(std::string_view method, std::string_view target, bool host = true,
                     std::string_view content_type = "") {
  Request req;
  req.method_string(method);
  req.target(target);
  req.version(11);
  if (host) req.set(http::field::host, "x");
  if (!content_type.empty()) req.set(http::field::content_type, content_type);
  return req;
}

Route route_of(std::string_view method, std::string_view target, bool host = true,
               std::string_view content_type = "") {
  return route(make_request(method, target, host, content_type), kClusterId, std::nullopt);
}

// The bytes of the ready answer, or "routed <endpoint number>".
std::string answer(std::string_view method, std::string_view target, bool host = true,
                   std::string_view content_type = "") {
  const Route r = route_of(method, target, host, content_type);
  if (const auto* routed = std::get_if<Routed>(&r)) {
    return "routed " + std::to_string(static_cast<int>(routed->endpoint));
  }
  return wire(std::get<Response>(r));
}

Routed routed(std::string_view method, std::string_view target,
              std::string_view content_type = "") {
  const Route r = route_of(method, target, true, content_type);
  EXPECT_TRUE(std::holds_alternative<Routed>(r)) << method << " " << target;
  return std::holds_alternative<Routed>(r) ? std::get<Routed>(r) : Routed{};
}

const std::string k404 = std::string("HTTP/1.1 404 Not Found\r\n") + kCors +
                         "Content-Type: text/plain; charset=utf-8\r\n"
                         "X-Content-Type-Options: nosniff\r\nContent-Length: 19\r\n\r\n";

std::string method_not_allowed(std::string_view allow, bool head = false) {
  return std::string("HTTP/1.1 405 Method Not Allowed\r\n") + kCors +
         "Allow: " + std::string(allow) +
         "\r\nContent-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\n"
         "Content-Length: 19\r\n\r\n" +
         (head ? "" : "Method Not Allowed\n");
}

// All expected bytes below are etcd 3.4.23's answers (Date and Connection left out).
TEST(Route, UnknownPaths) {
  for (const char* p : {"/v2", "/v2/keysfoo", "/", "/v2/stats", "/v2/stats/", "/v2/machines/",
                        "/version/", "/health/", "/v3beta", "/debug/pprof/"}) {
    EXPECT_EQ(answer("GET", p), k404 + "404 page not found\n") << p;
  }
  EXPECT_EQ(answer("PUT", "/nope"), k404 + "404 page not found\n");
  EXPECT_EQ(answer("HEAD", "/nope"), k404);
}

TEST(Route, OptionsAnywhere) {
  const std::string ok = std::string("HTTP/1.1 200 OK\r\n") + kCors + "Content-Length: 0\r\n\r\n";
  for (const char* p : {"/nope", "/v2/keys/a", "/v2/keys//a", "/health", "/v2/members"}) {
    EXPECT_EQ(answer("OPTIONS", p), ok) << p;
  }
}

TEST(Route, RedirectsNonCleanPaths) {
  const std::string html = "Content-Type: text/html; charset=utf-8\r\n";
  EXPECT_EQ(answer("GET", "/v2//keys/a"), std::string("HTTP/1.1 301 Moved Permanently\r\n") +
                                              kCors + html +
                                              "Location: /v2/keys/a\r\nContent-Length: 45\r\n\r\n"
                                              "<a href=\"/v2/keys/a\">Moved Permanently</a>.\n\n");
  EXPECT_EQ(answer("GET", "/v2/keys//a?x=1&y=%zz"),
            std::string("HTTP/1.1 301 Moved Permanently\r\n") + kCors + html +
                "Location: /v2/keys/a?x=1&y=%zz\r\nContent-Length: 59\r\n\r\n"
                "<a href=\"/v2/keys/a?x=1&amp;y=%zz\">Moved Permanently</a>.\n\n");
  EXPECT_EQ(answer("HEAD", "/v2/keys/./a"), std::string("HTTP/1.1 301 Moved Permanently\r\n") +
                                                kCors + html + "Location: /v2/keys/a\r\n\r\n");
  EXPECT_EQ(answer("PUT", "/v2/keys/a/../b?value=1"),
            std::string("HTTP/1.1 301 Moved Permanently\r\n") + kCors +
                "Location: /v2/keys/b?value=1\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(answer("POST", "/v2/keys/a/.."), std::string("HTTP/1.1 301 Moved Permanently\r\n") +
                                                 kCors +
                                                 "Location: /v2/keys\r\nContent-Length: 0\r\n\r\n");
}

std::string location(std::string_view method, std::string_view target) {
  const Route r = route_of(method, target);
  if (!std::holds_alternative<Response>(r)) return "routed";
  return std::string(std::get<Response>(r)[http::field::location]);
}

TEST(Route, RedirectLocations) {
  EXPECT_EQ(location("GET", "/v2/keys/a%2F..%2Fb"), "/v2/keys/b");
  EXPECT_EQ(location("GET", "/v2/keys/%C3%A9//x"), "/v2/keys/%C3%A9/x");
  EXPECT_EQ(location("GET", "/v2/keys/\xC3\xA9//x?q"), "/v2/keys/%C3%A9/x?q");
  EXPECT_EQ(location("GET", "/v2/keys/a\"<b>//"), "/v2/keys/a%22%3Cb%3E/");
  EXPECT_EQ(location("GET", "/v2/keys/%2e%2e/x"), "/v2/x");
  EXPECT_EQ(location("GET", "/v2/keys/x%2F%2F"), "/v2/keys/x/");
  EXPECT_EQ(location("GET", "//v2/keys"), "/v2/keys");
  EXPECT_EQ(location("GET", "/v3"), "/v3/");
  EXPECT_EQ(location("GET", "http://h/v2/keys//a?x"), "/v2/keys/a?x");
  EXPECT_EQ(location("GET", "/v2/keys//a!*()$,;:@=+%25"), "/v2/keys/a%21%2A%28%29$,;:@=+%25");
  EXPECT_EQ(location("GET", "/v2/keys//a?\xC3\xA9=1&q=\"<>'"), "/v2/keys/a?%c3%a9=1&q=\"<>'");
  const Route r = route_of("GET", "/v2/keys//a?\xC3\xA9=1&q=\"<>'");
  EXPECT_EQ(
      std::get<Response>(r).body(),
      "<a href=\"/v2/keys/a?\xC3\xA9=1&amp;q=&#34;&lt;&gt;&#39;\">Moved Permanently</a>.\n\n");
}

TEST(Route, GoBadRequests) {
  EXPECT_EQ(answer("GET", "/v2/keys/a", false),
            "HTTP/1.1 400 Bad Request: missing required Host header\r\n"
            "Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"
            "400 Bad Request: missing required Host header");
  EXPECT_EQ(answer("GET", "/v2/keys/%zz"),
            "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Connection: close\r\n\r\n400 Bad Request");
  // Go writes these pages raw, with the body, even for HEAD (etcd 3.4.23).
  EXPECT_EQ(answer("HEAD", "ht"),
            "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Connection: close\r\n\r\n400 Bad Request");
  Request http10 = make_request("GET", "/v2/keys/a", false);
  http10.version(10);
  EXPECT_TRUE(std::holds_alternative<Routed>(route(http10, kClusterId, std::nullopt)));
  Request two_hosts = make_request("GET", "/v2/keys/a");
  two_hosts.insert(http::field::host, "y");
  EXPECT_EQ(wire(std::get<Response>(route(two_hosts, kClusterId, std::nullopt))),
            "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Connection: close\r\n\r\n400 Bad Request");
}

TEST(Route, AsteriskTarget) {
  EXPECT_EQ(answer("OPTIONS", "*"), "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(answer("GET", "*"), std::string("HTTP/1.1 400 Bad Request\r\n") + kCors +
                                    "Connection: close\r\nContent-Length: 0\r\n\r\n");
  Request http10 = make_request("PUT", "*", false);
  http10.version(10);
  EXPECT_EQ(wire(std::get<Response>(route(http10, kClusterId, std::nullopt))),
            std::string("HTTP/1.0 400 Bad Request\r\n") + kCors + "Content-Length: 0\r\n\r\n");
}

TEST(Route, MethodRules) {
  EXPECT_EQ(answer("PATCH", "/v2/keys/a"), method_not_allowed("HEAD,GET,PUT,POST,DELETE"));
  for (const char* p :
       {"/version", "/health", "/v2/stats/self", "/v2/stats/leader", "/v2/stats/store"}) {
    for (const char* m : {"PUT", "POST", "DELETE", "PATCH", "FOO"}) {
      EXPECT_EQ(answer(m, p), method_not_allowed("GET")) << m << " " << p;
    }
    EXPECT_EQ(answer("HEAD", p), method_not_allowed("GET", true)) << p;
  }
  for (const char* m : {"PUT", "POST", "DELETE", "PATCH"}) {
    EXPECT_EQ(answer(m, "/v2/machines"), method_not_allowed("GET,HEAD")) << m;
  }
  EXPECT_EQ(answer("HEAD", "/v2/members"), method_not_allowed("GET,POST,DELETE,PUT", true));
  EXPECT_EQ(answer("PATCH", "/v2/members/leader"), method_not_allowed("GET,POST,DELETE,PUT"));
  EXPECT_EQ(answer("POST", "/v2/auth/enable"), method_not_allowed("GET,PUT,DELETE"));
  EXPECT_EQ(answer("POST", "/v2/auth/users/x"), method_not_allowed("GET,PUT,DELETE"));
  EXPECT_EQ(answer("POST", "/v2/auth/roles/x"), method_not_allowed("GET,PUT,DELETE"));
  EXPECT_EQ(answer("POST", "/v2/auth/roles"), method_not_allowed("GET"));
  EXPECT_EQ(answer("PATCH", "/v2/auth/users/"), method_not_allowed("GET"));
  EXPECT_EQ(answer("HEAD", "/v2/auth/users"), method_not_allowed("GET", true));
  EXPECT_EQ(answer("GET", "/v2/auth"), k404 + "404 page not found\n");
  for (const char* m : {"GET", "PUT", "POST", "DELETE", "PATCH", "FOO", "HEAD"}) {
    EXPECT_EQ(answer(m, "/metrics"),
              "routed " + std::to_string(static_cast<int>(Endpoint::Metrics)));
  }
}

TEST(Route, Endpoints) {
  EXPECT_EQ(routed("GET", "/v2/keys").endpoint, Endpoint::Keys);
  for (const char* m : {"GET", "HEAD", "PUT", "POST", "DELETE"}) {
    const Routed r = routed(m, "/v2/keys/a%20b/?recursive=true");
    EXPECT_EQ(r.endpoint, Endpoint::Keys);
    EXPECT_EQ(r.path, "/v2/keys/a b/");
    EXPECT_EQ(r.raw_query, "recursive=true");
  }
  EXPECT_EQ(routed("GET", "/v2/members").endpoint, Endpoint::MembersList);
  EXPECT_EQ(routed("GET", "/v2/members/").endpoint, Endpoint::MembersList);
  EXPECT_EQ(routed("GET", "/v2/members/leader").endpoint, Endpoint::MembersLeader);
  EXPECT_EQ(routed("GET", "/v2/machines").endpoint, Endpoint::Machines);
  EXPECT_EQ(routed("HEAD", "/v2/machines").endpoint, Endpoint::Machines);
  EXPECT_EQ(routed("GET", "/v2/stats/self").endpoint, Endpoint::StatsSelf);
  EXPECT_EQ(routed("GET", "/v2/stats/leader").endpoint, Endpoint::StatsLeader);
  EXPECT_EQ(routed("GET", "/v2/stats/store").endpoint, Endpoint::StatsStore);
  EXPECT_EQ(routed("GET", "/version").endpoint, Endpoint::Version);
  EXPECT_EQ(routed("GET", "/health?exclude=NOSPACE").endpoint, Endpoint::Health);
  EXPECT_EQ(routed("GET", "/v2/auth/enable").endpoint, Endpoint::Auth);
  EXPECT_EQ(routed("GET", "/v2/auth/users").endpoint, Endpoint::Auth);
  EXPECT_EQ(routed("PUT", "/v2/auth/roles/r1").endpoint, Endpoint::Auth);
  EXPECT_EQ(routed("GET", "/debug/vars").endpoint, Endpoint::DebugVars);
  EXPECT_EQ(routed("PUT", "/config/local/log").endpoint, Endpoint::ConfigLocalLog);
  EXPECT_EQ(routed("GET", "/v3/kv/range").endpoint, Endpoint::V3Gateway);
}

TEST(Route, MembersEarlyAnswers) {
  const std::string json_head = std::string(kCors) +
                                "Content-Type: application/json\r\n"
                                "X-Etcd-Cluster-Id: 8af6ec0d51b28919\r\n";
  EXPECT_EQ(answer("GET", "/v2/members/xyz"),
            "HTTP/1.1 404 Not Found\r\n" + json_head +
                "Content-Length: 23\r\n\r\n{\"message\":\"Not found\"}");
  EXPECT_EQ(answer("GET", "/v2/members/leader/"),
            "HTTP/1.1 404 Not Found\r\n" + json_head +
                "Content-Length: 23\r\n\r\n{\"message\":\"Not found\"}");
  EXPECT_EQ(answer("DELETE", "/v2/members/abc"),
            "routed " + std::to_string(static_cast<int>(Endpoint::MemberRemove)));
  EXPECT_EQ(answer("DELETE", "/v2/members/leader"),
            "HTTP/1.1 404 Not Found\r\n" + json_head +
                "Content-Length: 36\r\n\r\n{\"message\":\"No such member: leader\"}");
  EXPECT_EQ(answer("PUT", "/v2/members/leader"),
            "HTTP/1.1 404 Not Found\r\n" + json_head +
                "Content-Length: 36\r\n\r\n{\"message\":\"No such member: leader\"}");
  EXPECT_EQ(
      answer("DELETE", "/v2/members"),
      std::string("HTTP/1.1 405 Method Not Allowed\r\n") + kCors +
          "Content-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\n"
          "X-Etcd-Cluster-Id: 8af6ec0d51b28919\r\nContent-Length: 19\r\n\r\nMethod Not Allowed\n");
  EXPECT_EQ(answer("PUT", "/v2/members/"), answer("DELETE", "/v2/members"));
  EXPECT_EQ(answer("POST", "/v2/members"),
            "HTTP/1.1 415 Unsupported Media Type\r\n" + json_head +
                "Content-Length: 56\r\n\r\n"
                "{\"message\":\"Bad Content-Type , accept application/json\"}");
  EXPECT_EQ(answer("POST", "/v2/members", true, "Application/JSON"),
            "HTTP/1.1 415 Unsupported Media Type\r\n" + json_head +
                "Content-Length: 72\r\n\r\n"
                "{\"message\":\"Bad Content-Type Application/JSON, accept application/json\"}");
  EXPECT_EQ(routed("POST", "/v2/members", "Application/JSON ; x").endpoint, Endpoint::MemberAdd);
  const Routed update = routed("PUT", "/v2/members/37713A9A8CB61A64", "application/json");
  EXPECT_EQ(update.endpoint, Endpoint::MemberUpdate);
  EXPECT_EQ(update.member_id, 0x37713a9a8cb61a64u);
  EXPECT_EQ(answer("DELETE", "/v2/members/10000000000000000"),
            "HTTP/1.1 404 Not Found\r\n" + json_head +
                "Content-Length: 47\r\n\r\n{\"message\":\"No such member: 10000000000000000\"}");
}

}  // namespace
}  // namespace discovery::api
