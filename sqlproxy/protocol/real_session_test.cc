#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sqlproxy/protocol/codecs.h"
#include "sqlproxy/protocol/framing.h"

namespace sqlproxy::protocol {
namespace {

// One real session, recorded by a byte relay between the Debian 12 `mariadb` client (libmariadb
// 3.3) and mariadbd 10.11.19 on 127.0.0.1: `mariadb -uroot --skip-ssl -e "BEGIN; SELECT 1 AS x;
// COMMIT"`. Server-to-client and client-to-server bytes, each stream in order.
const std::string kServerBytes = std::string(
    "\x64\x00\x00\x00\x0a\x35\x2e\x35\x2e\x35\x2d\x31\x30\x2e\x31\x31\x2e\x31\x39\x2d\x4d\x61"
    "\x72\x69\x61\x44\x42\x2d\x30\x2b\x64\x65\x62\x31\x32\x75\x31\x00\x04\x00\x00\x00\x60\x3f"
    "\x58\x7e\x30\x72\x6f\x54\x00\xfe\xf7\x08\x02\x00\xff\x81\x15\x00\x00\x00\x00\x00\x00\x1d"
    "\x00\x00\x00\x3a\x61\x59\x7d\x29\x50\x3a\x6e\x3f\x2d\x63\x2e\x00\x6d\x79\x73\x71\x6c\x5f"
    "\x6e\x61\x74\x69\x76\x65\x5f\x70\x61\x73\x73\x77\x6f\x72\x64\x00\x07\x00\x00\x02\x00\x00"
    "\x00\x02\x00\x00\x00\x07\x00\x00\x01\x00\x00\x00\x03\x00\x00\x00\x02\x00\x00\x01\x01\x01"
    "\x18\x00\x00\x02\x03\x64\x65\x66\x00\x00\x00\x01\x78\x00\x00\x0c\x3f\x00\x01\x00\x00\x00"
    "\x03\x81\x00\x00\x00\x00\x05\x00\x00\x03\xfe\x00\x00\x03\x00\x02\x00\x00\x04\x01\x31\x05"
    "\x00\x00\x05\xfe\x00\x00\x03\x00\x07\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00",
    195);
const std::string kClientBytes = std::string(
    "\xba\x00\x00\x01\x84\xa2\xbf\x00\x00\x00\x10\x00\x21\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x1d\x00\x00\x00\x72\x6f\x6f\x74\x00\x00\x6d\x79"
    "\x73\x71\x6c\x5f\x6e\x61\x74\x69\x76\x65\x5f\x70\x61\x73\x73\x77\x6f\x72\x64\x00\x7d\x03"
    "\x5f\x6f\x73\x05\x4c\x69\x6e\x75\x78\x0c\x5f\x63\x6c\x69\x65\x6e\x74\x5f\x6e\x61\x6d\x65"
    "\x0a\x6c\x69\x62\x6d\x61\x72\x69\x61\x64\x62\x04\x5f\x70\x69\x64\x03\x36\x30\x32\x0f\x5f"
    "\x63\x6c\x69\x65\x6e\x74\x5f\x76\x65\x72\x73\x69\x6f\x6e\x06\x33\x2e\x33\x2e\x32\x30\x09"
    "\x5f\x70\x6c\x61\x74\x66\x6f\x72\x6d\x06\x78\x38\x36\x5f\x36\x34\x0c\x70\x72\x6f\x67\x72"
    "\x61\x6d\x5f\x6e\x61\x6d\x65\x05\x6d\x79\x73\x71\x6c\x0c\x5f\x73\x65\x72\x76\x65\x72\x5f"
    "\x68\x6f\x73\x74\x09\x31\x32\x37\x2e\x30\x2e\x30\x2e\x31\x06\x00\x00\x00\x03\x42\x45\x47"
    "\x49\x4e\x0e\x00\x00\x00\x03\x53\x45\x4c\x45\x43\x54\x20\x31\x20\x41\x53\x20\x78\x07\x00"
    "\x00\x00\x03\x43\x4f\x4d\x4d\x49\x54\x01\x00\x00\x00\x01",
    234);

std::vector<Packet> packets_of(const std::string& bytes) {
  PacketReader reader(1 << 20);
  std::vector<Packet> out;
  for (char ch : bytes) {  // one byte at a time, as a slow socket might deliver them
    reader.feed(std::string_view(&ch, 1));
    while (true) {
      auto p = reader.next();
      EXPECT_TRUE(p);
      if (!p || !*p) break;
      out.push_back(std::move(**p));
    }
  }
  EXPECT_EQ(reader.buffered(), 0u);
  return out;
}

TEST(RealSessionTest, ClientSide) {
  const auto packets = packets_of(kClientBytes);
  ASSERT_EQ(packets.size(), 5u);
  EXPECT_EQ(packets[0].sequence_id, 1);
  EXPECT_FALSE(is_ssl_request(packets[0].payload));
  auto resp = parse_handshake_response41(packets[0].payload);
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->user, "root");
  EXPECT_EQ(resp->auth_response, "");
  EXPECT_EQ(resp->database, "");
  EXPECT_EQ(resp->auth_plugin, "mysql_native_password");
  EXPECT_TRUE(resp->capabilities & cap::kPluginAuthLenencClientData);
  EXPECT_FALSE(resp->capabilities & cap::kDeprecateEof);
  bool saw_client_name = false;
  for (const auto& [key, value] : resp->attrs) {
    if (key == "_client_name") saw_client_name = value == "libmariadb";
  }
  EXPECT_TRUE(saw_client_name);
  // MariaDB's extended capabilities (here with MARIADB_CLIENT_CACHE_METADATA, 0x10) sit at the
  // end of the filler.
  EXPECT_EQ(resp->mariadb_capabilities, 0x1Du);
  EXPECT_EQ(build_handshake_response41(*resp), packets[0].payload);
  for (std::size_t n = 0; n < packets[0].payload.size(); ++n) {
    EXPECT_FALSE(parse_handshake_response41(packets[0].payload.substr(0, n))) << n;
  }
  EXPECT_EQ(*command_of(packets[1].payload), Command::Query);
  EXPECT_EQ(packets[1].payload.substr(1), "BEGIN");
  EXPECT_EQ(packets[1].sequence_id, 0);
  EXPECT_EQ(*command_of(packets[2].payload), Command::Query);
  EXPECT_EQ(*command_of(packets[3].payload), Command::Query);
  EXPECT_EQ(*command_of(packets[4].payload), Command::Quit);
}

TEST(RealSessionTest, ServerSideTracksTransaction) {
  const auto packets = packets_of(kServerBytes);
  ASSERT_EQ(packets.size(), 9u);
  const std::uint32_t caps =
      parse_handshake_response41(packets_of(kClientBytes)[0].payload)->capabilities;
  ASSERT_TRUE(parse_handshake_v10(packets[0].payload));
  // Authentication OK, then BEGIN's OK with the in-transaction flag.
  auto auth_ok = parse_ok(packets[1].payload, caps);
  ASSERT_TRUE(auth_ok);
  EXPECT_EQ(packets[1].sequence_id, 2);
  EXPECT_FALSE(in_transaction(auth_ok->status_flags));
  EXPECT_TRUE(autocommit(auth_ok->status_flags));
  auto begin_ok = parse_ok(packets[2].payload, caps);
  ASSERT_TRUE(begin_ok);
  EXPECT_TRUE(in_transaction(begin_ok->status_flags));
  // SELECT: column count, column definition, EOF, one row, EOF (no CLIENT_DEPRECATE_EOF).
  EXPECT_EQ(*classify_query_response(packets[3].payload), QueryResponse::ResultSet);
  const std::uint32_t mariadb_caps =
      parse_handshake_response41(packets_of(kClientBytes)[0].payload)->mariadb_capabilities;
  auto columns = parse_column_count(packets[3].payload, mariadb_caps);
  ASSERT_TRUE(columns);
  EXPECT_EQ(columns->columns, 1u);
  EXPECT_TRUE(columns->metadata_follows);
  EXPECT_EQ(build_column_count(*columns, mariadb_caps), packets[3].payload);
  EXPECT_FALSE(parse_column_count(packets[3].payload, 0));  // the extra byte is unexpected
  EXPECT_FALSE(is_end_of_rows(packets[4].payload, caps));
  EXPECT_TRUE(is_end_of_rows(packets[5].payload, caps));
  EXPECT_FALSE(is_end_of_rows(packets[6].payload, caps));
  EXPECT_EQ(packets[6].payload, std::string("\x01"
                                            "1"));
  ASSERT_TRUE(is_end_of_rows(packets[7].payload, caps));
  auto eof = parse_eof(packets[7].payload, caps);
  ASSERT_TRUE(eof);
  EXPECT_TRUE(in_transaction(eof->status_flags));
  EXPECT_FALSE(more_results_exist(eof->status_flags));
  EXPECT_EQ(build_eof(*eof, caps), packets[7].payload);
  // COMMIT's OK ends the transaction.
  auto commit_ok = parse_ok(packets[8].payload, caps);
  ASSERT_TRUE(commit_ok);
  EXPECT_FALSE(in_transaction(commit_ok->status_flags));
  EXPECT_EQ(build_ok(*commit_ok, caps), packets[8].payload);
}

}  // namespace
}  // namespace sqlproxy::protocol
