#include "sqlproxy/protocol/codecs.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "sqlproxy/protocol/framing.h"

namespace sqlproxy::protocol {
namespace {

constexpr std::uint32_t kModernCaps = cap::kLongPassword | cap::kProtocol41 | cap::kTransactions |
                                      cap::kSecureConnection | cap::kPluginAuth |
                                      cap::kMultiResults;

// Truncating a valid payload at every offset must give an error or, where the format allows a
// shorter packet (string<EOF> fields), a value that builds back to exactly that prefix: never a
// crash and never a value that claims bytes that were not there.
template <class T>
void expect_every_prefix_clean(const std::string& payload,
                               const std::function<Result<T>(std::string_view)>& parse,
                               const std::function<std::string(const T&)>& build) {
  for (std::size_t n = 0; n < payload.size(); ++n) {
    const std::string prefix = payload.substr(0, n);
    auto r = parse(prefix);
    if (r) {
      EXPECT_EQ(build(*r), prefix) << "prefix of " << n << " bytes parsed to another value";
    }
  }
}

HandshakeV10 sample_handshake() {
  HandshakeV10 h;
  h.server_version = "5.5.5-10.11.6-MariaDB-0+deb12u1";
  h.connection_id = 42;
  h.auth_plugin_data = std::string("abcdefgh") + "ijklmnopqrst" + std::string(1, '\0');
  h.capabilities = kModernCaps | cap::kSsl | cap::kConnectAttrs | cap::kDeprecateEof;
  h.character_set = 45;
  h.status_flags = status::kAutocommit;
  h.auth_plugin_data_len = 21;
  h.reserved = std::string(6, '\0') + std::string("\x1d\x00\x00\x00", 4);
  h.auth_plugin_name = "mysql_native_password";
  return h;
}

TEST(HandshakeTest, RoundTrip) {
  const HandshakeV10 h = sample_handshake();
  const std::string wire = build_handshake_v10(h);
  auto back = parse_handshake_v10(wire);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, h);
  EXPECT_EQ(build_handshake_v10(*back), wire);
}

TEST(HandshakeTest, CapabilitiesSplitLowerUpper) {
  const std::string wire = build_handshake_v10(sample_handshake());
  const std::size_t lower = 1 + sample_handshake().server_version.size() + 1 + 4 + 8 + 1;
  const std::uint32_t caps = sample_handshake().capabilities;
  EXPECT_EQ(static_cast<std::uint8_t>(wire[lower]), caps & 0xFF);
  EXPECT_EQ(static_cast<std::uint8_t>(wire[lower + 1]), (caps >> 8) & 0xFF);
  EXPECT_EQ(static_cast<std::uint8_t>(wire[lower + 5]), (caps >> 16) & 0xFF);
  EXPECT_EQ(static_cast<std::uint8_t>(wire[lower + 6]), (caps >> 24) & 0xFF);
}

TEST(HandshakeTest, EveryTruncationFails) {
  const std::string wire = build_handshake_v10(sample_handshake());
  for (std::size_t n = 0; n < wire.size(); ++n) {
    EXPECT_FALSE(parse_handshake_v10(wire.substr(0, n))) << n;
  }
}

TEST(HandshakeTest, ErrInsteadOfGreetingIsNotAHandshake) {
  const std::string err = build_proxy_err(1040, "08004", "Too many connections");
  EXPECT_EQ(parse_handshake_v10(err).error(), Error::Malformed);
  EXPECT_TRUE(is_err_packet(err));
}

// A greeting as MariaDB 10.11 sends it, written out by hand from the protocol documentation.
TEST(HandshakeTest, ParsesMariaDbStyleGreeting) {
  std::string wire("\x0a", 1);
  wire += std::string("5.5.5-10.11.6-MariaDB\0", 22);
  wire += std::string("\x07\x00\x00\x00", 4);                      // connection id 7
  wire += "12345678";                                              // scramble part 1
  wire += std::string("\x00\xfe\xf7\x2d\x02\x00\xff\x81\x15", 9);  // filler, caps, cs, status
  wire += std::string("\x00\x00\x00\x00\x00\x00\x1d\x00\x00\x00", 10);
  wire += std::string("abcdefghijkl\0", 13);
  wire += std::string("mysql_native_password\0", 22);
  auto h = parse_handshake_v10(wire);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->server_version, "5.5.5-10.11.6-MariaDB");
  EXPECT_EQ(h->connection_id, 7u);
  EXPECT_EQ(h->capabilities, 0x81FFF7FEu);
  EXPECT_EQ(h->character_set, 0x2D);
  EXPECT_TRUE(autocommit(h->status_flags));
  EXPECT_FALSE(in_transaction(h->status_flags));
  EXPECT_EQ(h->auth_plugin_data.substr(0, 20), "12345678abcdefghijkl");
  EXPECT_EQ(h->auth_plugin_name, "mysql_native_password");
  EXPECT_EQ(build_handshake_v10(*h), wire);
}

TEST(SslRequestTest, DetectedOnlyWith32BytesAndSslFlag) {
  SslRequest req{kModernCaps | cap::kSsl, 16u << 20, 33, 0x1D};
  const std::string wire = build_ssl_request(req);
  ASSERT_EQ(wire.size(), kSslRequestSize);
  EXPECT_TRUE(is_ssl_request(wire));
  EXPECT_EQ(*parse_ssl_request(wire), req);
  EXPECT_FALSE(is_ssl_request(build_ssl_request({kModernCaps, 0, 33, 0})));
  EXPECT_FALSE(is_ssl_request(wire + "u"));
  for (std::size_t n = 0; n < wire.size(); ++n) {
    EXPECT_FALSE(is_ssl_request(wire.substr(0, n)));
    EXPECT_FALSE(parse_ssl_request(wire.substr(0, n)));
  }
}

HandshakeResponse41 sample_response(std::uint32_t extra) {
  HandshakeResponse41 r;
  r.capabilities = kModernCaps | extra;
  r.max_packet_size = 1u << 24;
  r.character_set = 45;
  r.user = "wordpress";
  r.auth_response = std::string(
      "\x01\x02\x00\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"
      "\x10\x11\x12\x13\x14",
      20);
  if (extra & cap::kConnectWithDb) r.database = "wp";
  r.auth_plugin = "mysql_native_password";
  if (extra & cap::kConnectAttrs) r.attrs = {{"_client_name", "libmariadb"}, {"_pid", "123"}};
  return r;
}

class ResponseTest : public ::testing::TestWithParam<std::uint32_t> {};

TEST_P(ResponseTest, RoundTripAndEveryTruncationFails) {
  const HandshakeResponse41 r = sample_response(GetParam());
  const std::string wire = build_handshake_response41(r);
  auto back = parse_handshake_response41(wire);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, r);
  EXPECT_FALSE(is_ssl_request(wire));
  for (std::size_t n = 0; n < wire.size(); ++n) {
    EXPECT_FALSE(parse_handshake_response41(wire.substr(0, n))) << n;
  }
}

INSTANTIATE_TEST_SUITE_P(Flags, ResponseTest,
                         ::testing::Values(0u, cap::kConnectWithDb, cap::kConnectAttrs,
                                           cap::kPluginAuthLenencClientData,
                                           cap::kConnectWithDb | cap::kConnectAttrs |
                                               cap::kPluginAuthLenencClientData));

TEST(ResponseTest, Pre41IsUnsupported) {
  HandshakeResponse41 r = sample_response(0);
  r.capabilities &= ~cap::kProtocol41;
  EXPECT_EQ(parse_handshake_response41(build_handshake_response41(r)).error(), Error::Unsupported);
}

class OkTest : public ::testing::TestWithParam<std::uint32_t> {};

TEST_P(OkTest, RoundTripAndTruncation) {
  const std::uint32_t caps = GetParam();
  OkPacket ok{0x00, 300, 70000, status::kInTrans | status::kAutocommit, 2, "Rows matched: 1", ""};
  if (!(caps & (cap::kProtocol41 | cap::kTransactions))) ok.status_flags = 0;
  if (!(caps & cap::kProtocol41)) ok.warnings = 0;
  if (caps & cap::kSessionTrack) {
    ok.status_flags |= status::kSessionStateChanged;
    ok.session_state_info = std::string("\x00\x05\x04\x03\x77\x70\x32", 7);
  }
  const std::string wire = build_ok(ok, caps);
  EXPECT_TRUE(is_ok_packet(wire));
  auto back = parse_ok(wire, caps);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, ok);
  expect_every_prefix_clean<OkPacket>(
      wire, [caps](std::string_view p) { return parse_ok(p, caps); },
      [caps](const OkPacket& o) { return build_ok(o, caps); });
}

INSTANTIATE_TEST_SUITE_P(Caps, OkTest,
                         ::testing::Values(0u, cap::kTransactions, cap::kProtocol41,
                                           cap::kProtocol41 | cap::kSessionTrack,
                                           cap::kProtocol41 | cap::kDeprecateEof));

TEST(OkTest, MinimalOkAfterCommitAndStatusAccessors) {
  const std::string wire("\x00\x00\x00\x02\x00\x00\x00", 7);
  auto ok = parse_ok(wire, kModernCaps);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->affected_rows, 0u);
  EXPECT_TRUE(autocommit(ok->status_flags));
  EXPECT_FALSE(in_transaction(ok->status_flags));
  EXPECT_FALSE(more_results_exist(ok->status_flags));
  EXPECT_TRUE(more_results_exist(status::kMoreResultsExist));
}

TEST(OkTest, FeHeaderOnlyUnderDeprecateEof) {
  OkPacket ok;
  ok.header = 0xFE;
  ok.status_flags = status::kAutocommit;
  const std::string wire = build_ok(ok, kModernCaps | cap::kDeprecateEof);
  EXPECT_TRUE(parse_ok(wire, kModernCaps | cap::kDeprecateEof));
  EXPECT_EQ(parse_ok(wire, kModernCaps).error(), Error::Malformed);
  EXPECT_TRUE(is_end_of_rows(wire, kModernCaps | cap::kDeprecateEof));
  // A row whose first column has an 8-byte length prefix is not an end of rows.
  const std::string row = std::string("\xfe", 1) + std::string(8, '\0');
  EXPECT_FALSE(is_end_of_rows(row, kModernCaps));
}

TEST(ErrTest, RoundTripWithAndWithoutSqlState) {
  for (std::uint32_t caps : {0u, kModernCaps}) {
    ErrPacket err{1045, caps ? "28000" : "", "Access denied for user 'x'"};
    const std::string wire = build_err(err, caps);
    auto back = parse_err(wire, caps);
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, err);
    expect_every_prefix_clean<ErrPacket>(
        wire, [caps](std::string_view p) { return parse_err(p, caps); },
        [caps](const ErrPacket& e) { return build_err(e, caps); });
  }
}

TEST(ErrTest, ProxyErrorBytes) {
  const std::string wire = build_proxy_err(2013, "HY000", "no healthy backend");
  EXPECT_EQ(wire, std::string("\xff\xdd\x07#HY000no healthy backend", 27));
  auto back = parse_err(wire, kModernCaps);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->code, 2013);
  EXPECT_EQ(back->sql_state, "HY000");
}

TEST(EofTest, RoundTripAndTruncation) {
  for (std::uint32_t caps : {0u, kModernCaps}) {
    EofPacket eof{
        caps ? std::uint16_t{1} : std::uint16_t{0},
        caps ? std::uint16_t(status::kMoreResultsExist | status::kInTrans) : std::uint16_t{0}};
    const std::string wire = build_eof(eof, caps);
    EXPECT_TRUE(is_end_of_rows(wire, caps));
    EXPECT_EQ(*parse_eof(wire, caps), eof);
    for (std::size_t n = 0; n < wire.size(); ++n) EXPECT_FALSE(parse_eof(wire.substr(0, n), caps));
  }
}

TEST(CommandTest, CommandBytes) {
  EXPECT_EQ(*command_of("\x03SELECT 1"), Command::Query);
  EXPECT_EQ(*command_of("\x01"), Command::Quit);
  EXPECT_EQ(*command_of("\x0e"), Command::Ping);
  EXPECT_EQ(*command_of("\x11"), Command::ChangeUser);
  EXPECT_EQ(*command_of("\x1f"), Command::ResetConnection);
  EXPECT_EQ(*command_of("\x16"), Command::StmtPrepare);
  EXPECT_EQ(*command_of("\x17"), Command::StmtExecute);
  EXPECT_EQ(*command_of("\x18"), Command::StmtSendLongData);
  EXPECT_EQ(*command_of("\x19"), Command::StmtClose);
  EXPECT_EQ(*command_of("\x1a"), Command::StmtReset);
  EXPECT_EQ(*command_of("\x02wp"), Command::InitDb);
  EXPECT_EQ(command_of("").error(), Error::Truncated);
  EXPECT_EQ(command_name(Command::Query), "COM_QUERY");
  EXPECT_EQ(command_name(*command_of("\xee")), "COM_UNKNOWN");
  EXPECT_FALSE(expects_response(Command::Quit));
  EXPECT_FALSE(expects_response(Command::StmtClose));
  EXPECT_TRUE(expects_response(Command::Query));
}

TEST(ColumnCountTest, RoundTripAndTruncation) {
  for (std::uint32_t mcaps : {0u, mariadb_cap::kCacheMetadata}) {
    for (ColumnCount c : {ColumnCount{1, true}, ColumnCount{300, mcaps == 0}}) {
      const std::string wire = build_column_count(c, mcaps);
      EXPECT_EQ(*parse_column_count(wire, mcaps), c);
      for (std::size_t n = 0; n < wire.size(); ++n) {
        EXPECT_FALSE(parse_column_count(wire.substr(0, n), mcaps)) << n;
      }
    }
  }
  EXPECT_FALSE(parse_column_count(std::string("\x00", 1), 0));
  EXPECT_FALSE(parse_column_count("\xfb", 0));
}

TEST(QueryResponseTest, Classify) {
  EXPECT_EQ(*classify_query_response(std::string("\x00\x00\x00\x02\x00\x00\x00", 7)),
            QueryResponse::Ok);
  EXPECT_EQ(*classify_query_response("\xff\x01\x02"), QueryResponse::Err);
  EXPECT_EQ(*classify_query_response("\xfb/tmp/x"), QueryResponse::LocalInfile);
  EXPECT_EQ(*classify_query_response("\x02"), QueryResponse::ResultSet);
  EXPECT_EQ(classify_query_response("").error(), Error::Truncated);
}

}  // namespace
}  // namespace sqlproxy::protocol

namespace sqlproxy::protocol {
namespace {

// The greeting frame of a real MariaDB 10.11.19 (Debian 12 mariadb-server) on 127.0.0.1, read
// with a raw socket right after connecting.
const std::string kMariaDbGreeting = std::string(
    "\x64\x00\x00\x00\x0a\x35\x2e\x35\x2e\x35\x2d\x31\x30\x2e\x31\x31\x2e\x31\x39\x2d\x4d\x61\x72"
    "\x69\x61\x44\x42\x2d\x30\x2b\x64\x65\x62\x31\x32\x75\x31\x00\x04\x00\x00\x00\x37\x35\x45\x3b"
    "\x37\x40\x7b\x6e\x00\xfe\xf7\x08\x02\x00\xff\x81\x15\x00\x00\x00\x00\x00\x00\x1d\x00\x00\x00"
    "\x36\x5f\x5f\x3c\x4e\x55\x3f\x7c\x72\x47\x4c\x29\x00\x6d\x79\x73\x71\x6c\x5f\x6e\x61\x74\x69"
    "\x76\x65\x5f\x70\x61\x73\x73\x77\x6f\x72\x64\x00",
    104);

TEST(RealServerTest, MariaDbGreeting) {
  PacketReader reader(1 << 20);
  reader.feed(kMariaDbGreeting);
  auto packet = reader.next();
  ASSERT_TRUE(packet && *packet);
  EXPECT_EQ((*packet)->sequence_id, 0);
  auto h = parse_handshake_v10((*packet)->payload);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->server_version, "5.5.5-10.11.19-MariaDB-0+deb12u1");
  EXPECT_EQ(h->connection_id, 4u);
  EXPECT_EQ(h->capabilities, 0x81FFF7FEu);
  EXPECT_TRUE(h->capabilities & cap::kProtocol41);
  EXPECT_TRUE(h->capabilities & cap::kSecureConnection);
  EXPECT_TRUE(h->capabilities & cap::kPluginAuth);
  EXPECT_TRUE(h->capabilities & cap::kDeprecateEof);
  EXPECT_FALSE(h->capabilities & cap::kLongPassword);  // MariaDB: extended capabilities follow
  EXPECT_EQ(h->reserved.substr(6), std::string("\x1d\x00\x00\x00", 4));
  EXPECT_EQ(h->character_set, 8);
  EXPECT_TRUE(autocommit(h->status_flags));
  EXPECT_EQ(h->auth_plugin_data_len, 21);
  EXPECT_EQ(h->auth_plugin_data.size(), 21u);  // 8 + 12 + NUL
  EXPECT_EQ(h->auth_plugin_name, "mysql_native_password");
  EXPECT_EQ(frame(build_handshake_v10(*h), 0), kMariaDbGreeting);
  for (std::size_t n = 0; n < (*packet)->payload.size(); ++n) {
    EXPECT_FALSE(parse_handshake_v10((*packet)->payload.substr(0, n))) << n;
  }
}

}  // namespace
}  // namespace sqlproxy::protocol
