#include "discovery/api/auth.h"

#include <gtest/gtest.h>

namespace discovery::api {
namespace {

constexpr std::uint64_t kClusterId = 0x8af6ec0d51b28919;

// "<status> <body>" of the answer; the cluster id header is checked on every one.
std::string answer(std::string_view method, std::string_view target) {
  Request req;
  req.method_string(method);
  req.target(target);
  req.set(http::field::host, "x");
  const Route r = route(req, kClusterId, std::nullopt);
  const Routed& routed = std::get<Routed>(r);
  EXPECT_EQ(routed.endpoint, Endpoint::Auth);
  const Response res = auth_disabled_response(req, routed, kClusterId, ResponseMeta{});
  EXPECT_EQ(res["X-Etcd-Cluster-Id"], "8af6ec0d51b28919");
  EXPECT_EQ(res[http::field::content_type], "application/json");
  return std::to_string(res.result_int()) + " " + res.body();
}

// etcd 3.4.23 with authentication never enabled.
TEST(AuthDisabled, MatchesEtcd) {
  const std::string root = R"({"role":"root","permissions":{"kv":{"read":["/*"],"write":["/*"]}}})";
  EXPECT_EQ(answer("GET", "/v2/auth/enable"), "200 {\"enabled\":false}\n");
  EXPECT_EQ(answer("PUT", "/v2/auth/enable"),
            "409 {\"message\":\"auth: No root user available, please create one\"}");
  EXPECT_EQ(answer("DELETE", "/v2/auth/enable"), "409 {\"message\":\"auth: already disabled\"}");
  EXPECT_EQ(answer("GET", "/v2/auth/users"), "200 {\"users\":null}\n");
  EXPECT_EQ(answer("GET", "/v2/auth/users/"), "200 {\"users\":null}\n");
  EXPECT_EQ(answer("GET", "/v2/auth/users/root"),
            "404 {\"message\":\"auth: User root does not exist.\"}");
  EXPECT_EQ(answer("GET", "/v2/auth/users/a%20b"),
            "404 {\"message\":\"auth: User a b does not exist.\"}");
  EXPECT_EQ(answer("DELETE", "/v2/auth/users/nobody"),
            "404 {\"message\":\"auth: User nobody does not exist\"}");
  EXPECT_EQ(answer("GET", "/v2/auth/roles"), "200 {\"roles\":[" + root + "]}\n");
  EXPECT_EQ(answer("GET", "/v2/auth/roles/"), "200 {\"roles\":[" + root + "]}\n");
  EXPECT_EQ(answer("GET", "/v2/auth/roles/root"), "200 " + root + "\n");
  EXPECT_EQ(answer("GET", "/v2/auth/roles/guest"),
            "404 {\"message\":\"auth: Role guest does not exist.\"}");
  EXPECT_EQ(answer("DELETE", "/v2/auth/roles/nobody"),
            "404 {\"message\":\"auth: Role nobody doesn't exist.\"}");
  EXPECT_EQ(answer("DELETE", "/v2/auth/roles/root"),
            "403 {\"message\":\"auth: Cannot modify role root: is root role.\"}");
  EXPECT_EQ(answer("PUT", "/v2/auth/users/bob"),
            "501 {\"message\":\"auth: not supported by this server\"}");
}

}  // namespace
}  // namespace discovery::api
