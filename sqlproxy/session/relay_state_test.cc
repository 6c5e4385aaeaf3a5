#include "sqlproxy/session/relay_state.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sqlproxy/protocol/codecs.h"
#include "sqlproxy/protocol/responses.h"
#include "sqlproxy/protocol/wire.h"

namespace sqlproxy::session {
namespace {

namespace p = protocol;

constexpr std::uint32_t kServerCaps = 0xFFFFFFFEu & ~p::cap::kSsl & ~p::cap::kDeprecateEof;
constexpr std::uint32_t kClientCaps = p::cap::kProtocol41 | p::cap::kTransactions |
                                      p::cap::kSecureConnection | p::cap::kPluginAuth |
                                      p::cap::kMultiStatements | p::cap::kMultiResults;

// One packet of a recorded exchange: who sent it and its payload.
struct Step {
  bool from_server;
  std::string payload;
};

std::string greeting(std::uint32_t caps = kServerCaps, std::uint32_t mariadb_caps = 0x1D) {
  p::HandshakeV10 h;
  h.server_version = "5.5.5-10.11.19-MariaDB";
  h.auth_plugin_data = std::string(20, 'S') + '\0';
  h.capabilities = caps;
  h.auth_plugin_data_len = 21;
  std::string reserved(6, '\0');
  p::put_u32(reserved, mariadb_caps);
  h.reserved = reserved;
  h.auth_plugin_name = "mysql_native_password";
  return p::build_handshake_v10(h);
}

std::string response(std::uint32_t caps = kClientCaps, std::uint32_t mariadb_caps = 0x1D) {
  p::HandshakeResponse41 r;
  r.capabilities = caps;
  r.mariadb_capabilities = mariadb_caps;
  r.user = "app";
  r.auth_response = std::string(20, 'a');
  r.auth_plugin = "mysql_native_password";
  return p::build_handshake_response41(r);
}

std::string ok(std::uint16_t flags, std::uint8_t header = 0x00, std::uint32_t caps = kClientCaps) {
  p::OkPacket o;
  o.header = header;
  o.status_flags = flags;
  return p::build_ok(o, caps);
}
std::string eof(std::uint16_t flags) { return p::build_eof(p::EofPacket{0, flags}, kClientCaps); }
std::string err() { return p::build_proxy_err(1064, "42000", "syntax"); }
std::string command(p::Command c, std::string_view body = "") {
  return std::string(1, static_cast<char>(c)) + std::string(body);
}
std::string column_def() {
  return std::string(
      "\x03"
      "def\x00\x00\x00\x01x",
      10);
}
std::string row() {
  return "\x01"
         "1";
}
std::string column_count(std::uint64_t n, bool follows = true) {
  return p::build_column_count(p::ColumnCount{n, follows}, p::mariadb_cap::kCacheMetadata);
}

constexpr std::uint16_t kAuto = p::status::kAutocommit;
constexpr std::uint16_t kTrans = p::status::kInTrans;
constexpr std::uint16_t kMore = p::status::kMoreResultsExist;

// Runs a whole exchange, expecting every packet to be accepted.
RelayState run(const std::vector<Step>& steps) {
  RelayState state;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const p::PacketHead head{0, steps[i].payload.size(), steps[i].payload};
    auto r = steps[i].from_server ? state.on_server_packet(head) : state.on_client_packet(head);
    EXPECT_TRUE(r) << "step " << i << ": " << (r ? "" : r.error());
  }
  return state;
}

std::vector<Step> login() { return {{true, greeting()}, {false, response()}, {true, ok(kAuto)}}; }

std::vector<Step> operator+(std::vector<Step> a, const std::vector<Step>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST(RelayStateTest, LoginThenIdle) {
  RelayState s = run(login());
  EXPECT_EQ(s.phase(), Phase::Command);
  EXPECT_TRUE(s.can_close_now());
  EXPECT_EQ(s.mariadb_capabilities(), 0x1Du);
}

TEST(RelayStateTest, TransactionAcrossResultSet) {
  // BEGIN; SELECT 1 (one column, one row, EOFs with the metadata byte); COMMIT.
  auto steps = login() + std::vector<Step>{{false, command(p::Command::Query, "BEGIN")},
                                           {true, ok(kAuto | kTrans)}};
  RelayState s = run(steps);
  EXPECT_TRUE(s.idle());
  EXPECT_TRUE(s.in_transaction());
  EXPECT_FALSE(s.can_close_now());
  steps = steps + std::vector<Step>{{false, command(p::Command::Query, "SELECT 1")},
                                    {true, column_count(1)},
                                    {true, column_def()},
                                    {true, eof(kAuto | kTrans)},
                                    {true, row()}};
  s = run(steps);
  EXPECT_FALSE(s.idle());
  steps = steps + std::vector<Step>{{true, eof(kAuto | kTrans)},
                                    {false, command(p::Command::Query, "COMMIT")},
                                    {true, ok(kAuto)}};
  s = run(steps);
  EXPECT_TRUE(s.can_close_now());
}

TEST(RelayStateTest, MultiResultsChainUntilLastHasNoMoreFlag) {
  auto steps = login() + std::vector<Step>{{false, command(p::Command::Query, "SELECT 1; DO 1")},
                                           {true, column_count(1)},
                                           {true, column_def()},
                                           {true, eof(kAuto)},
                                           {true, row()},
                                           {true, eof(kAuto | kMore)},
                                           {true, ok(kAuto | kMore)}};
  EXPECT_FALSE(run(steps).idle());
  EXPECT_TRUE(run(steps + std::vector<Step>{{true, ok(kAuto)}}).can_close_now());
}

TEST(RelayStateTest, DeprecateEofEndsRowsWithFeOk) {
  const std::uint32_t caps = kClientCaps | p::cap::kDeprecateEof;
  std::vector<Step> steps = {{true, greeting(kServerCaps | p::cap::kDeprecateEof)},
                             {false, response(caps)},
                             {true, ok(kAuto, 0x00, caps)},
                             {false, command(p::Command::Query, "SELECT 1")},
                             {true, column_count(1)},
                             {true, column_def()},
                             {true, row()}};
  EXPECT_FALSE(run(steps).idle());
  EXPECT_TRUE(run(steps + std::vector<Step>{{true, ok(kAuto | kTrans, 0xFE, caps)}}).idle());
}

TEST(RelayStateTest, PipelinedPrepareAndExecute) {
  // Connector/C's mariadb_stmt_execute_direct sends PREPARE and EXECUTE back to back.
  auto steps =
      login() + std::vector<Step>{{false, command(p::Command::StmtPrepare, "SELECT ?")},
                                  {false, command(p::Command::StmtExecute, "\xff\xff\xff\xff")},
                                  {true, p::build_stmt_prepare_ok({1, 1, 1, 0})},
                                  {true, column_def()},  // parameter
                                  {true, eof(kAuto)},
                                  {true, column_def()},  // column
                                  {true, eof(kAuto)}};
  RelayState s = run(steps);
  EXPECT_EQ(s.pending(), 1u);
  steps = steps + std::vector<Step>{{true, column_count(1, false)},  // cached metadata
                                    {true, eof(kAuto)},
                                    {true, row()},
                                    {true, eof(kAuto)},
                                    {false, command(p::Command::StmtClose, "\x01\0\0\0")}};
  s = run(steps);
  EXPECT_TRUE(s.can_close_now());
}

TEST(RelayStateTest, BulkExecuteAndProcessInfoMayAnswerWithResultSets) {
  for (p::Command c : {p::Command::StmtBulkExecute, p::Command::ProcessInfo}) {
    auto steps = login() + std::vector<Step>{{false, command(c, "x")},
                                             {true, column_count(1)},
                                             {true, column_def()},
                                             {true, eof(kAuto)},
                                             {true, row()}};
    EXPECT_FALSE(run(steps).idle());
    EXPECT_TRUE(run(steps + std::vector<Step>{{true, eof(kAuto)}}).idle());
  }
}

TEST(RelayStateTest, CursorExecuteThenFetch) {
  auto steps = login() + std::vector<Step>{{false, command(p::Command::StmtExecute, "x")},
                                           {true, column_count(1)},
                                           {true, column_def()},
                                           {true, eof(kAuto | p::status::kCursorExists)}};
  EXPECT_TRUE(run(steps).idle());
  steps =
      steps + std::vector<Step>{
                  {false, command(p::Command::StmtFetch, "x")}, {true, row()}, {true, eof(kAuto)}};
  EXPECT_TRUE(run(steps).idle());
}

TEST(RelayStateTest, LocalInfileClientSendsDataThenEmptyPacket) {
  auto steps = login() + std::vector<Step>{{false, command(p::Command::Query, "LOAD DATA LOCAL")},
                                           {true, p::build_local_infile_request("/tmp/f")},
                                           {false, "1,2\n"},
                                           {false, "3,4\n"}};
  EXPECT_FALSE(run(steps).idle());
  steps = steps + std::vector<Step>{{false, ""}, {true, ok(kAuto)}};
  EXPECT_TRUE(run(steps).can_close_now());
}

TEST(RelayStateTest, ChangeUserWithAuthSwitch) {
  auto steps = login() + std::vector<Step>{
                             {false, command(p::Command::Query, "BEGIN")},
                             {true, ok(kAuto | kTrans)},
                             {false, command(p::Command::ChangeUser, "other")},
                             {true, p::build_auth_switch_request({"mysql_native_password", "s"})},
                             {false, std::string(20, 'r')}};
  EXPECT_FALSE(run(steps).idle());
  // The new user starts outside any transaction.
  EXPECT_TRUE(run(steps + std::vector<Step>{{true, ok(kAuto)}}).can_close_now());
}

TEST(RelayStateTest, AuthSwitchAtLoginAndRefusal) {
  std::vector<Step> steps = {{true, greeting()},
                             {false, response()},
                             {true, p::build_auth_switch_request({"client_ed25519", "x"})},
                             {false, std::string(64, 's')},
                             {true, p::build_proxy_err(1045, "28000", "Access denied")}};
  EXPECT_EQ(run(steps).phase(), Phase::Closed);
}

TEST(RelayStateTest, SslRequestAndCompressionGoOpaque) {
  p::SslRequest ssl;
  ssl.capabilities = kClientCaps | p::cap::kSsl;
  RelayState s = run({{true, greeting(kServerCaps | p::cap::kSsl)},
                      {false, p::build_ssl_request(ssl)},
                      {false, "\x16\x03\x01 tls bytes"},
                      {true, "\x16\x03\x03 tls bytes"}});
  EXPECT_TRUE(s.opaque());
  EXPECT_TRUE(s.in_transaction());
  EXPECT_FALSE(s.can_close_now());
  s = run({{true, greeting()}, {false, response(kClientCaps | p::cap::kCompress)}});
  EXPECT_TRUE(s.opaque());
}

TEST(RelayStateTest, ProgressReportsDoNotEndAResponse) {
  auto steps = login() + std::vector<Step>{{false, command(p::Command::Query, "ALTER TABLE t")},
                                           {true, std::string("\xff\xff\xff\x01\x01\x02", 6)}};
  EXPECT_FALSE(run(steps).idle());
  EXPECT_TRUE(run(steps + std::vector<Step>{{true, ok(kAuto)}}).idle());
}

TEST(RelayStateTest, ResetConnectionEndsTheTransaction) {
  auto steps = login() + std::vector<Step>{{false, command(p::Command::Query, "BEGIN")},
                                           {true, ok(kAuto | kTrans)},
                                           {false, command(p::Command::ResetConnection)}};
  EXPECT_FALSE(run(steps).can_close_now());
  EXPECT_TRUE(run(steps + std::vector<Step>{{true, ok(kAuto)}}).can_close_now());
}

TEST(RelayStateTest, BadHandshakeErrBeforeAWholeClientPacketCloses) {
  EXPECT_EQ(run({{true, greeting()}, {true, err()}}).phase(), Phase::Closed);
}

TEST(RelayStateTest, ErrEndsResultAndUnsolicitedErrIsAccepted) {
  auto steps = login() + std::vector<Step>{{false, command(p::Command::Query, "bad")},
                                           {true, err()},
                                           {true, err()}};  // e.g. the session was killed
  EXPECT_TRUE(run(steps).idle());
}

TEST(RelayStateTest, QuitClosesAndNoResponseCommandsQueueNothing) {
  auto steps = login() + std::vector<Step>{{false, command(p::Command::StmtSendLongData, "x")},
                                           {false, command(p::Command::StmtClose, "x")}};
  EXPECT_TRUE(run(steps).idle());
  EXPECT_EQ(run(steps + std::vector<Step>{{false, command(p::Command::Quit)}}).phase(),
            Phase::Closed);
}

// Malformed or out-of-turn packets are errors, and the error sticks.
TEST(RelayStateTest, ProtocolViolations) {
  struct Case {
    const char* name;
    std::vector<Step> steps;
  };
  const std::vector<Case> cases = {
      {"client first", {{false, response()}}},
      {"bad greeting", {{true, "\x09junk"}}},
      {"short response", {{true, greeting()}, {false, "\x01\x02"}}},
      {"server out of turn", {{true, greeting()}, {true, ok(0)}}},
      {"server out of turn after login", login() + std::vector<Step>{{true, ok(0)}}},
      {"unsolicited row", login() + std::vector<Step>{{true, row()}}},
      {"empty command", login() + std::vector<Step>{{false, ""}}},
      {"bad column count",
       login() + std::vector<Step>{{false, command(p::Command::Query)}, {true, "\xfc\x01"}}},
      {"bad prepare ok",
       login() + std::vector<Step>{{false, command(p::Command::StmtPrepare)}, {true, ok(0)}}},
      {"client auth out of turn", {{true, greeting()}, {false, response()}, {false, "extra"}}},
  };
  for (const Case& c : cases) {
    RelayState s;
    bool failed = false;
    for (const Step& step : c.steps) {
      const p::PacketHead head{0, step.payload.size(), step.payload};
      auto r = step.from_server ? s.on_server_packet(head) : s.on_client_packet(head);
      if (!r) {
        failed = true;
        const p::PacketHead again{0, 2, "\x00\x00"};
        EXPECT_FALSE(s.on_client_packet(again)) << c.name;
        break;
      }
    }
    EXPECT_TRUE(failed) << c.name;
  }
}

}  // namespace
}  // namespace sqlproxy::session
