#include "discovery/api/member_request.h"

#include <gtest/gtest.h>

namespace discovery::api {
namespace {

std::string outcome(std::string_view body) {
  auto r = parse_member_peer_urls(body);
  if (!r) return "ERR " + r.error().message;
  std::string out;
  for (const auto& u : *r) out += (out.empty() ? "" : " ") + u;
  return out;
}

// Messages of etcd 3.4.23's 400 answers to POST /v2/members with these bodies.
TEST(MemberRequest, ErrorsMatchEtcd) {
  EXPECT_EQ(outcome(""), "ERR unexpected end of JSON input");
  EXPECT_EQ(outcome("{}"), "ERR no valid URLs given");
  EXPECT_EQ(outcome(R"({"peerURLs":[]})"), "ERR no valid URLs given");
  EXPECT_EQ(outcome(R"({"peerURLs":null})"), "ERR no valid URLs given");
  EXPECT_EQ(outcome(R"({"peerURLs":["foo"]})"),
            "ERR URL scheme must be http, https, unix, or unixs: foo");
  EXPECT_EQ(outcome(R"({"peerURLs":["http://a"]})"),
            "ERR URL address does not have the form \"host:port\": http://a");
  EXPECT_EQ(outcome(R"({"PEERURLS":["http://a"]})"),
            "ERR URL address does not have the form \"host:port\": http://a");
  EXPECT_EQ(outcome(R"({"peerURLs":["http://a:1/x"]})"),
            "ERR URL must not contain a path: http://a:1/x");
  EXPECT_EQ(outcome(R"({"peerURLs":["ftp://a:1"]})"),
            "ERR URL scheme must be http, https, unix, or unixs: ftp://a:1");
  EXPECT_EQ(outcome(R"({"peerURLs":"x"})"),
            "ERR json: cannot unmarshal string into Go struct field .peerURLs of type []string");
  EXPECT_EQ(outcome(R"({"peerURLs":[1]})"),
            "ERR json: cannot unmarshal number into Go struct field .peerURLs of type string");
  EXPECT_EQ(outcome("[1]"),
            "ERR json: cannot unmarshal array into Go value of type struct { PeerURLs []string "
            "\"json:\\\"peerURLs\\\"\" }");
  EXPECT_EQ(outcome(R"({"peerURLs":["http://a:1", "%zz"]})"),
            "ERR parse \"%zz\": invalid URL escape \"%zz\"");
  EXPECT_EQ(outcome(R"({"peerURLs":["http://a:b"]})"),
            "ERR parse \"http://a:b\": invalid port \":b\" after host");
}

TEST(MemberRequest, ValidUrlsSorted) {
  EXPECT_EQ(outcome(R"({"peerURLs":["http://b:2"," http://a:1 ","HTTPS://[::1]:3"]})"),
            "http://a:1 http://b:2 https://[::1]:3");
  EXPECT_EQ(outcome(R"({"peerURLs":["http://a:1?q"]})"), "http://a:1?q");  // accepted by etcd
  EXPECT_EQ(outcome(R"({"peerURLs":["unix://a:1"]})"), "unix://a:1");
}

}  // namespace
}  // namespace discovery::api
