#include "discovery/api/response.h"

#include <gtest/gtest.h>

#include "discovery/api/test_wire.h"

namespace discovery::api {
namespace {

using testing::kCors;
using testing::wire;

constexpr std::uint64_t kClusterId = 0x8af6ec0d51b28919;

ResponseMeta meta_at(std::int64_t unix_seconds, unsigned version = 11, bool head = false) {
  return ResponseMeta{version, true, head, WallTime{std::chrono::seconds{unix_seconds}}};
}

constexpr std::int64_t k064557 = 1795761957;  // Fri, 27 Nov 2026 06:45:57 GMT

store::Event cap_event(store::Action action) {
  store::Event e;
  e.action = action;
  e.node.key = "/cap";
  e.node.value = "x";
  e.node.modified_index = e.node.created_index = 36;
  e.etcd_index = 36;
  return e;
}

TEST(HttpDate, GoTimeFormat) {
  EXPECT_EQ(format_http_date(WallTime{std::chrono::seconds{k064557}}),
            "Fri, 27 Nov 2026 06:45:57 GMT");
  EXPECT_EQ(format_http_date(WallTime{}), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(format_http_date(WallTime{std::chrono::seconds{951782400}}),
            "Tue, 29 Feb 2000 00:00:00 GMT");
}

// Expected bytes: etcd 3.4.23's answers to the same requests (keep-alive, so no Connection).
TEST(KeysResponse, CreatedSetMatchesEtcd) {
  const Response res = keys_event_response(cap_event(store::Action::Set), false, kClusterId,
                                           {112, 2}, meta_at(k064557));
  EXPECT_EQ(wire(res), std::string("HTTP/1.1 201 Created\r\n") + kCors +
                           "Content-Type: application/json\r\n"
                           "X-Etcd-Cluster-Id: 8af6ec0d51b28919\r\n"
                           "X-Etcd-Index: 36\r\nX-Raft-Index: 112\r\nX-Raft-Term: 2\r\n"
                           "Date: Fri, 27 Nov 2026 06:45:57 GMT\r\nContent-Length: 88\r\n\r\n"
                           "{\"action\":\"set\",\"node\":{\"key\":\"/cap\",\"value\":\"x\","
                           "\"modifiedIndex\":36,\"createdIndex\":36}}\n");
}

TEST(KeysResponse, Http10GetAndHead) {
  const store::Event get = cap_event(store::Action::Get);
  const std::string headers = std::string(kCors) +
                              "Content-Type: application/json\r\n"
                              "X-Etcd-Cluster-Id: 8af6ec0d51b28919\r\n"
                              "X-Etcd-Index: 36\r\nX-Raft-Index: 113\r\nX-Raft-Term: 2\r\n"
                              "Date: Fri, 27 Nov 2026 06:46:04 GMT\r\nContent-Length: 88\r\n\r\n";
  ResponseMeta http10 = meta_at(k064557 + 7, 10);
  http10.keep_alive = false;
  EXPECT_EQ(wire(keys_event_response(get, false, kClusterId, {113, 2}, http10)),
            "HTTP/1.0 200 OK\r\n" + headers +
                "{\"action\":\"get\",\"node\":{\"key\":\"/cap\",\"value\":\"x\","
                "\"modifiedIndex\":36,\"createdIndex\":36}}\n");
  EXPECT_EQ(
      wire(keys_event_response(get, false, kClusterId, {113, 2}, meta_at(k064557 + 7, 11, true))),
      "HTTP/1.1 200 OK\r\n" + headers);
}

TEST(KeysResponse, ErrorsMatchEtcd) {
  const store::Error not_found{store::ErrorCode::KeyNotFound, "/nope", 36};
  const store::Error bad_field{store::ErrorCode::InvalidField, "invalid value for \"recursive\"",
                               0};
  EXPECT_EQ(wire(keys_error_response(not_found, kClusterId, meta_at(k064557 + 1))),
            std::string("HTTP/1.1 404 Not Found\r\n") + kCors +
                "Content-Type: application/json\r\nX-Etcd-Cluster-Id: 8af6ec0d51b28919\r\n"
                "X-Etcd-Index: 36\r\nDate: Fri, 27 Nov 2026 06:45:58 GMT\r\nContent-Length: 71\r\n"
                "\r\n{\"errorCode\":100,\"message\":\"Key not "
                "found\",\"cause\":\"/nope\",\"index\":36}\n");
  EXPECT_EQ(
      wire(keys_error_response(bad_field, kClusterId, meta_at(k064557 + 2))),
      std::string("HTTP/1.1 400 Bad Request\r\n") + kCors +
          "Content-Type: application/json\r\nX-Etcd-Cluster-Id: 8af6ec0d51b28919\r\n"
          "X-Etcd-Index: 0\r\nDate: Fri, 27 Nov 2026 06:45:59 GMT\r\nContent-Length: 96\r\n"
          "\r\n{\"errorCode\":209,\"message\":\"Invalid field\",\"cause\":\"invalid value for "
          "\\\"recursive\\\"\",\"index\":0}\n");
}

// etcd 3.4.23 with a GET body of exactly 2048 bytes sends Content-Length; 2049 goes chunked in
// one chunk; HEAD above 2048 has neither header.
TEST(KeysResponse, ChunkedAbove2048Bytes) {
  store::Event e = cap_event(store::Action::Get);
  e.node.key = "/big";
  e.node.modified_index = e.node.created_index = 30;
  const std::size_t base = render_event(e).size();
  ResponseMeta meta{11, true, false, std::nullopt};
  e.node.value = std::string(2048 - base + 1, 'v');
  Response res = keys_event_response(e, false, kClusterId, {1, 2}, meta);
  EXPECT_EQ(res[http::field::content_length], "2048");
  EXPECT_FALSE(res.chunked());
  e.node.value->push_back('v');
  res = keys_event_response(e, false, kClusterId, {1, 2}, meta);
  EXPECT_TRUE(res.chunked());
  EXPECT_EQ(res.count(http::field::content_length), 0u);
  const std::string bytes = wire(res);
  EXPECT_NE(bytes.find("Transfer-Encoding: chunked\r\n\r\n801\r\n{\"action\""), std::string::npos);
  EXPECT_EQ(bytes.substr(bytes.size() - 10), "}}\n\r\n0\r\n\r\n");
  meta.head = true;
  res = keys_event_response(e, false, kClusterId, {1, 2}, meta);
  EXPECT_FALSE(res.chunked());
  EXPECT_EQ(res.count(http::field::content_length), 0u);
  EXPECT_EQ(res.body(), "");
}

TEST(KeysResponse, WatchHeaderIsChunked) {
  const auto res = keys_watch_header(36, kClusterId, {113, 2}, ResponseMeta{});
  // The server writes the header alone (async_write_header), then one chunk per event.
  EXPECT_EQ(wire(res.base()), std::string("HTTP/1.1 200 OK\r\n") + kCors +
                                  "Content-Type: application/json\r\n"
                                  "X-Etcd-Cluster-Id: 8af6ec0d51b28919\r\n"
                                  "X-Etcd-Index: 36\r\nX-Raft-Index: 113\r\nX-Raft-Term: 2\r\n"
                                  "Transfer-Encoding: chunked\r\n\r\n");
}

TEST(OtherResponses, MachinesHealthVersionMatchEtcd) {
  EXPECT_EQ(wire(machines_response({"http://127.0.0.1:60529"}, meta_at(k064557 + 3))),
            std::string("HTTP/1.1 200 OK\r\n") + kCors +
                "Date: Fri, 27 Nov 2026 06:46:00 GMT\r\nContent-Length: 22\r\n"
                "Content-Type: text/plain; charset=utf-8\r\n\r\nhttp://127.0.0.1:60529");
  EXPECT_EQ(wire(health_response(true, meta_at(k064557 + 4))),
            std::string("HTTP/1.1 200 OK\r\n") + kCors +
                "Date: Fri, 27 Nov 2026 06:46:01 GMT\r\nContent-Length: 17\r\n"
                "Content-Type: text/plain; charset=utf-8\r\n\r\n{\"health\":\"true\"}");
  EXPECT_EQ(wire(version_response("3.4.23", "3.4.0", meta_at(k064557 + 5))),
            std::string("HTTP/1.1 200 OK\r\n") + kCors +
                "Content-Type: application/json\r\nDate: Fri, 27 Nov 2026 06:46:02 GMT\r\n"
                "Content-Length: 45\r\n\r\n{\"etcdserver\":\"3.4.23\",\"etcdcluster\":\"3.4.0\"}");
  EXPECT_EQ(wire(health_response(false, ResponseMeta{})),
            std::string("HTTP/1.1 503 Service Unavailable\r\n") + kCors +
                "Content-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\n"
                "Content-Length: 19\r\n\r\n{\"health\":\"false\"}\n");
}

TEST(OtherResponses, MembersAndStatsMatchEtcd) {
  EXPECT_EQ(wire(members_error_response(404, "Not found", kClusterId, meta_at(k064557 + 8))),
            std::string("HTTP/1.1 404 Not Found\r\n") + kCors +
                "Content-Type: application/json\r\nX-Etcd-Cluster-Id: 8af6ec0d51b28919\r\n"
                "Date: Fri, 27 Nov 2026 06:46:05 GMT\r\nContent-Length: 23\r\n\r\n"
                "{\"message\":\"Not found\"}");
  EXPECT_EQ(wire(stats_leader_response(LeaderStats{0x37713a9a8cb61a64, {}}, meta_at(k064557 + 12))),
            std::string("HTTP/1.1 200 OK\r\n") + kCors +
                "Content-Type: application/json\r\nDate: Fri, 27 Nov 2026 06:46:09 GMT\r\n"
                "Content-Length: 44\r\n\r\n{\"leader\":\"37713a9a8cb61a64\",\"followers\":{}}");
  EXPECT_EQ(wire(stats_leader_response(std::nullopt, ResponseMeta{})),
            std::string("HTTP/1.1 403 Forbidden\r\n") + kCors +
                "Content-Type: application/json\r\nContent-Length: 32\r\n\r\n"
                "{\"message\":\"not current leader\"}");
  const Response removed = members_no_content_response(kClusterId, ResponseMeta{});
  EXPECT_EQ(wire(removed), std::string("HTTP/1.1 204 No Content\r\n") + kCors +
                               "X-Etcd-Cluster-Id: 8af6ec0d51b28919\r\n\r\n");
  Member m{0x37713a9a8cb61a64, "default", {"http://127.0.0.1:38807"}, {"http://127.0.0.1:60529"}};
  const std::string list = wire(members_response({m}, kClusterId, ResponseMeta{}));
  EXPECT_NE(list.find("X-Etcd-Cluster-Id: 8af6ec0d51b28919\r\nContent-Length: 135\r\n\r\n"),
            std::string::npos);
  EXPECT_EQ(members_leader_response(std::nullopt, kClusterId, ResponseMeta{}).body(),
            "{\"message\":\"During election\"}");
  EXPECT_EQ(member_created_response(m, kClusterId, ResponseMeta{}).result_int(), 201);
}

TEST(OtherResponses, MetricsFramedLikeGo) {
  const std::string small = "# HELP x y\nx 1\n";
  EXPECT_EQ(wire(metrics_response(small, ResponseMeta{})),
            std::string("HTTP/1.1 200 OK\r\n") + kCors +
                "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: 15\r\n"
                "\r\n" +
                small);
  // etcd 3.4.23: a real scrape is larger than 2048 bytes, so GET is chunked and HEAD has no length.
  const Response big = metrics_response(std::string(5000, 'm'), ResponseMeta{11, false, true, {}});
  EXPECT_EQ(wire(big), std::string("HTTP/1.1 200 OK\r\n") + kCors +
                           "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                           "Connection: close\r\n\r\n");
}

}  // namespace
}  // namespace discovery::api

namespace discovery::api {
namespace {

// to_wire must write exactly what Beast's serializer writes, for every framing.
TEST(ToWire, EqualsBeastSerializer) {
  store::Event e;
  e.action = store::Action::Set;
  e.node.key = "/w";
  e.node.value = "x";
  e.node.modified_index = e.node.created_index = 9;
  e.etcd_index = 9;
  std::vector<Response> responses;
  for (const bool head : {false, true}) {
    for (const unsigned version : {10u, 11u}) {
      const ResponseMeta meta{version, version == 11, head, WallTime{std::chrono::seconds{7}}};
      responses.push_back(keys_event_response(e, false, 1, {2, 3}, meta));
      responses.push_back(
          keys_error_response({store::ErrorCode::KeyNotFound, "/w", 9}, std::uint64_t{1}, meta));
      responses.push_back(plain_error_response(404, "404 page not found", "", meta));
      responses.push_back(health_response(true, meta));
      e.node.value = std::string(3000, 'v');
      responses.push_back(keys_event_response(e, false, 1, {2, 3}, meta));
      e.node.value = "x";
    }
  }
  for (const Response& response : responses) EXPECT_EQ(to_wire(response), wire(response));
}

}  // namespace
}  // namespace discovery::api
