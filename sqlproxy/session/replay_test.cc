// Replays real sessions recorded between real clients and MariaDB 10.11 (see
// test/support/record_mysql_sessions.py) through the relay's scanners and state machine: every
// exchange must be followed without a protocol error, in any chunking, and the transaction and
// idle states must match what the clients did.

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "sqlproxy/session/recorded_session.h"

namespace sqlproxy::session {
namespace {

std::vector<RecordedChunk> load(const std::string& name) {
  std::ifstream in(std::string(HAWP_TESTDATA_DIR) + "/sqlproxy/" + name + ".rec", std::ios::binary);
  std::ostringstream data;
  data << in.rdbuf();
  auto chunks = parse_recording(data.str());
  EXPECT_TRUE(chunks) << name;
  EXPECT_FALSE(chunks->empty()) << name;
  return chunks ? *chunks : std::vector<RecordedChunk>{};
}

// What the state machine said after each chunk.
struct Trace {
  bool ever_in_transaction = false;
  bool ever_busy = false;
  std::size_t max_pending = 0;
};

Trace replay(const std::vector<RecordedChunk>& chunks, std::size_t split, Replayer& r) {
  Trace t;
  for (const RecordedChunk& c : chunks) {
    for (std::size_t pos = 0; pos < c.bytes.size(); pos += split) {
      auto error = r.feed(c.from_server, std::string_view(c.bytes).substr(pos, split));
      EXPECT_FALSE(error) << *error;
      if (error) return t;
    }
    t.ever_in_transaction |= r.state().phase() == Phase::Command && r.state().in_transaction();
    t.ever_busy |= r.state().phase() == Phase::Command && !r.state().idle();
    t.max_pending = std::max(t.max_pending, r.state().pending());
  }
  return t;
}

class ReplayTest : public testing::TestWithParam<const char*> {};

TEST_P(ReplayTest, FollowedWithoutErrorInAnyChunking) {
  const auto chunks = load(GetParam());
  for (std::size_t split : {std::size_t{1}, std::size_t{3}, std::size_t{7}, std::size_t{1} << 20}) {
    Replayer r;
    const Trace t = replay(chunks, split, r);
    // Every client here ends with COM_QUIT after its last answer.
    EXPECT_EQ(r.state().phase(), Phase::Closed) << GetParam() << " split " << split;
    EXPECT_TRUE(t.ever_busy);
    EXPECT_EQ(r.state().pending(), 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(Recorded, ReplayTest,
                         testing::Values("cli_multi_results", "cli_local_infile",
                                         "php_prepared_change_user"));

TEST(ReplayTest, TransactionsSeenWhereClientsOpenedThem) {
  Replayer cli;
  EXPECT_TRUE(replay(load("cli_multi_results"), 1 << 20, cli).ever_in_transaction);
  Replayer infile;
  EXPECT_FALSE(replay(load("cli_local_infile"), 1 << 20, infile).ever_in_transaction);
  Replayer php;
  EXPECT_TRUE(replay(load("php_prepared_change_user"), 1 << 20, php).ever_in_transaction);
}

TEST(ReplayTest, TruncatedRecordingStopsBusyOrMidPacketButNeverErrs) {
  // Cutting the server stream anywhere leaves a state the relay accepts (more bytes may come).
  const auto chunks = load("cli_multi_results");
  for (std::size_t keep = 0; keep < chunks.size(); ++keep) {
    Replayer r;
    for (std::size_t i = 0; i < keep; ++i) {
      EXPECT_FALSE(r.feed(chunks[i].from_server, chunks[i].bytes));
    }
  }
}

TEST(ReplayTest, BadRecordingIsRejected) {
  EXPECT_FALSE(parse_recording("X\x01\0\0\0a"));
  EXPECT_FALSE(parse_recording(std::string("C\x05\0\0\0ab", 7)));
  EXPECT_TRUE(parse_recording(""));
}

}  // namespace
}  // namespace sqlproxy::session
