#include "sqlproxy/protocol/responses.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <string>

#include "sqlproxy/protocol/codecs.h"
#include "sqlproxy/protocol/wire.h"

namespace sqlproxy::protocol {
namespace {

constexpr std::uint32_t kCaps = cap::kProtocol41 | cap::kTransactions;

HandshakeV10 mariadb_greeting() {
  HandshakeV10 h;
  h.server_version = "5.5.5-10.11.19-MariaDB-0+deb12u1";
  h.connection_id = 4;
  h.auth_plugin_data = std::string(20, 'S') + std::string(1, '\0');
  // MariaDB clears CLIENT_LONG_PASSWORD to say its extended capabilities are in `reserved`.
  h.capabilities = 0xFFFFFFFEu & ~cap::kSsl;
  h.character_set = 8;
  h.status_flags = 2;
  h.auth_plugin_data_len = 21;
  h.reserved = std::string(6, '\0') + std::string("\x1d\x00\x00\x00", 4);
  h.auth_plugin_name = "mysql_native_password";
  return h;
}

TEST(ResponsesTest, GreetingCapabilitiesFromAnyLongEnoughPrefix) {
  const std::string payload = build_handshake_v10(mariadb_greeting());
  const std::size_t needed = 1 + 33 + 21 + 10;
  for (std::size_t n = 0; n <= payload.size(); ++n) {
    auto caps = parse_greeting_capabilities(std::string_view(payload).substr(0, n));
    if (n < needed) {
      EXPECT_FALSE(caps) << n;
      continue;
    }
    ASSERT_TRUE(caps) << n;
    EXPECT_EQ(caps->capabilities, mariadb_greeting().capabilities);
    EXPECT_EQ(caps->mariadb_capabilities, 0x1Du);
  }
}

TEST(ResponsesTest, ClientCapabilities) {
  HandshakeResponse41 r;
  r.capabilities = cap::kProtocol41 | cap::kCompress | cap::kPluginAuth;
  r.mariadb_capabilities = 0x1D;
  r.user = "u";
  const std::string payload = build_handshake_response41(r);
  for (std::size_t n = 0; n < kSslRequestSize; ++n) {
    EXPECT_FALSE(parse_client_capabilities(payload.substr(0, n))) << n;
  }
  auto caps = parse_client_capabilities(payload);
  ASSERT_TRUE(caps);
  EXPECT_EQ(caps->capabilities, r.capabilities);
  EXPECT_EQ(caps->mariadb_capabilities, 0x1Du);
  r.capabilities |= cap::kLongPassword;  // a MySQL client: the filler is not MariaDB's
  caps = parse_client_capabilities(build_handshake_response41(r));
  ASSERT_TRUE(caps);
  EXPECT_EQ(caps->mariadb_capabilities, 0u);
}

TEST(ResponsesTest, OkStatusAtEveryTruncation) {
  OkPacket ok;
  ok.affected_rows = 70000;  // 3-byte length-encoded
  ok.last_insert_id = 1;
  ok.status_flags = status::kInTrans | status::kAutocommit;
  ok.info = "Rows matched";
  const std::string payload = build_ok(ok, kCaps);
  const std::size_t needed = 1 + 4 + 1 + 2;
  for (std::size_t n = 0; n <= payload.size(); ++n) {
    auto flags = parse_ok_status(std::string_view(payload).substr(0, n), kCaps);
    EXPECT_EQ(bool(flags), n >= needed) << n;
    if (flags) {
      EXPECT_EQ(*flags, ok.status_flags);
    }
  }
}

TEST(ResponsesTest, EndOfRowsWithAndWithoutDeprecateEof) {
  const std::string eof = build_eof(EofPacket{0, status::kMoreResultsExist}, kCaps);
  EXPECT_TRUE(is_end_of_rows_head(0xFE, eof.size(), kCaps));
  EXPECT_FALSE(is_end_of_rows_head(0xFE, 9, kCaps));  // a row with an 8-byte length prefix
  EXPECT_EQ(*parse_end_of_rows_status(eof, kCaps), status::kMoreResultsExist);
  const std::uint32_t deprecate = kCaps | cap::kDeprecateEof;
  OkPacket ok;
  ok.header = 0xFE;
  ok.status_flags = status::kInTrans;
  const std::string end = build_ok(ok, deprecate);
  EXPECT_TRUE(is_end_of_rows_head(0xFE, 200, deprecate));
  EXPECT_FALSE(is_end_of_rows_head(0xFE, 0xFFFFFF, deprecate));
  EXPECT_EQ(*parse_end_of_rows_status(end, deprecate), status::kInTrans);
  for (std::size_t n = 0; n < eof.size(); ++n) {
    EXPECT_FALSE(parse_end_of_rows_status(eof.substr(0, n), kCaps)) << n;
  }
}

TEST(ResponsesTest, StmtPrepareOkRoundTripAndTruncation) {
  const StmtPrepareOk ok{77, 3, 2, 1};
  const std::string payload = build_stmt_prepare_ok(ok);
  ASSERT_EQ(payload.size(), kStmtPrepareOkSize);
  EXPECT_EQ(*parse_stmt_prepare_ok(payload), ok);
  for (std::size_t n = 0; n < payload.size(); ++n) {
    EXPECT_FALSE(parse_stmt_prepare_ok(payload.substr(0, n))) << n;
  }
  EXPECT_FALSE(parse_stmt_prepare_ok(build_proxy_err(1064, "42000", "x")));
}

TEST(ResponsesTest, LocalInfileAndProgress) {
  EXPECT_TRUE(is_local_infile_request(build_local_infile_request("/tmp/x.csv")));
  EXPECT_FALSE(is_local_infile_request(""));
  std::string progress = "\xff\xff\xff\x01\x01";
  EXPECT_TRUE(is_progress_report(progress));
  EXPECT_FALSE(is_progress_report(build_proxy_err(1064, "42000", "x")));
  for (std::size_t n = 0; n < 3; ++n) EXPECT_FALSE(is_progress_report(progress.substr(0, n)));
}

TEST(ResponsesTest, AuthReplies) {
  const AuthSwitchRequest sw{"mysql_native_password", std::string(20, 'a') + '\0'};
  const std::string payload = build_auth_switch_request(sw);
  EXPECT_EQ(*classify_auth_reply(payload), AuthReply::Switch);
  EXPECT_EQ(*parse_auth_switch_request(payload), sw);
  for (std::size_t n = 0; n < 1 + sw.plugin.size() + 1; ++n) {
    EXPECT_FALSE(parse_auth_switch_request(payload.substr(0, n))) << n;
  }
  EXPECT_EQ(*classify_auth_reply(std::string("\x01\x03", 2)), AuthReply::FastAuthOk);
  EXPECT_EQ(*classify_auth_reply(std::string("\x01\x04", 2)), AuthReply::MoreData);
  EXPECT_EQ(*classify_auth_reply(build_ok(OkPacket{}, kCaps)), AuthReply::Ok);
  EXPECT_EQ(*classify_auth_reply(build_proxy_err(1045, "28000", "denied")), AuthReply::Err);
  EXPECT_FALSE(classify_auth_reply(""));
  EXPECT_FALSE(classify_auth_reply("\x05"));
}

TEST(ResponsesTest, NativePasswordScramble) {
  std::string nonce;
  for (char c = 1; c <= 20; ++c) nonce += c;
  // Computed independently with Python's hashlib.
  const std::string want = "4e401c8365cf3af95534834f565cea879e69625d";
  std::string hex;
  for (unsigned char c : native_password_scramble("monitor-pw", nonce)) {
    hex += fmt::format("{:02x}", c);
  }
  EXPECT_EQ(hex, want);
  EXPECT_EQ(native_password_scramble("", nonce), "");
}

}  // namespace
}  // namespace sqlproxy::protocol
