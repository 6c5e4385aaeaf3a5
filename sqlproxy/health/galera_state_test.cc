#include "sqlproxy/health/galera_state.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

namespace sqlproxy::health {
namespace {

// Loads one recorded answer (test/testdata/galera/<name>.tsv: `name<TAB>value` rows, `#` lines
// are comments) into a Sample through the same parser the prober uses.
Sample load(const std::string& name) {
  std::ifstream file(std::string(HAWP_GALERA_TESTDATA) + "/" + name + ".tsv");
  EXPECT_TRUE(file.good()) << name;
  std::vector<std::pair<std::string, std::string>> rows;
  std::string line;
  while (std::getline(file, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t tab = line.find('\t');
    rows.emplace_back(line.substr(0, tab), tab == std::string::npos ? "" : line.substr(tab + 1));
  }
  auto sample = sample_from_rows(rows);
  EXPECT_TRUE(sample.has_value()) << name;
  return sample.has_value() ? *sample : Sample{};
}

struct Case {
  const char* file;
  bool allow_donor;
  State state;
  const char* reason;
};

class RecordedSample : public testing::TestWithParam<Case> {};

TEST_P(RecordedSample, Classifies) {
  const Case& c = GetParam();
  const NodeHealth health = classify(load(c.file), ClassifierConfig{c.allow_donor});
  EXPECT_EQ(state_name(health.state), state_name(c.state)) << c.file << ": " << health.reason;
  EXPECT_EQ(health.reason, c.reason) << c.file;
}

INSTANTIATE_TEST_SUITE_P(
    Galera, RecordedSample,
    testing::Values(
        Case{"synced", false, State::Writable, "synced"},
        Case{"desynced", false, State::Draining, "wsrep_desync=ON"},
        // A desynced node stays draining even when donors are allowed: desync is the operator's.
        Case{"desynced", true, State::Draining, "wsrep_desync=ON"},
        Case{"sst_donor", false, State::Draining, "donor (allow_donor off)"},
        Case{"sst_donor", true, State::Writable, "donor (allowed)"},
        Case{"ist_donor", true, State::Writable, "donor (allowed)"},
        Case{"ist_donor", false, State::Draining, "donor (allow_donor off)"},
        Case{"sst_donor_rejecting", true, State::Draining, "donor rejecting queries"},
        Case{"joiner_ist_non_primary", false, State::Offline, "wsrep_cluster_status=non-Primary"},
        Case{"joiner_ist_primary", false, State::Offline, "wsrep_ready=OFF"},
        Case{"joiner_receiving_state", false, State::Offline, "wsrep_ready=OFF"},
        Case{"joined", false, State::Draining, "joined, catching up (recv queue 37)"},
        Case{"non_primary_survivor", false, State::Offline, "wsrep_cluster_status=non-Primary"},
        Case{"disconnected", false, State::Offline, "wsrep_connected=OFF"},
        Case{"reject_queries_all", false, State::Offline, "wsrep_reject_queries=ALL"},
        Case{"reject_queries_all_kill", false, State::Offline, "wsrep_reject_queries=ALL_KILL"},
        Case{"read_only", false, State::ReadOnly, "read_only=ON"},
        Case{"pxc_maint_shutdown", false, State::Draining, "pxc_maint_mode=SHUTDOWN"},
        Case{"pxc_maint_maintenance", false, State::Draining, "pxc_maint_mode=MAINTENANCE"},
        Case{"pxc_maint_disabled", false, State::Writable, "synced"}),
    [](const testing::TestParamInfo<Case>& param_info) {
      return std::string(param_info.param.file) +
             (param_info.param.allow_donor ? "_allow_donor" : "");
    });

TEST(SampleFromRows, ParsesRecordedFields) {
  const Sample s = load("synced");
  EXPECT_EQ(s.wsrep_local_state, LocalState::Synced);
  EXPECT_EQ(s.wsrep_local_state_comment, "Synced");
  EXPECT_EQ(s.wsrep_cluster_status, "Primary");
  EXPECT_TRUE(s.wsrep_ready);
  EXPECT_TRUE(s.wsrep_connected);
  EXPECT_FALSE(s.wsrep_desync);
  EXPECT_FALSE(s.read_only);
  EXPECT_EQ(s.wsrep_reject_queries, "NONE");
  EXPECT_EQ(s.pxc_maint_mode, "DISABLED");  // absent on MariaDB
  EXPECT_EQ(s.wsrep_cluster_size, 3);
  EXPECT_EQ(s.wsrep_local_index, 2);
  EXPECT_EQ(s.wsrep_cluster_state_uuid, "040f4368-ea45-11f1-ba73-5217d720ef02");
}

TEST(SampleFromRows, UnsignedMinusOneIsMinusOne) {
  // A joiner outside the Primary component reports wsrep_local_index 18446744073709551615.
  EXPECT_EQ(load("joiner_ist_non_primary").wsrep_local_index, -1);
  EXPECT_EQ(load("non_primary_survivor").wsrep_cluster_conf_id, -1);
}

TEST(SampleFromRows, NamesAreCaseInsensitiveAndUnknownOnesIgnored) {
  auto s = sample_from_rows({{"WSREP_LOCAL_STATE", "4"}, {"Read_Only", "ON"}, {"other", "x"}});
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->wsrep_local_state, LocalState::Synced);
  EXPECT_TRUE(s->read_only);
}

TEST(SampleFromRows, NotAGaleraNodeIsAnError) {
  EXPECT_FALSE(sample_from_rows({{"read_only", "OFF"}}).has_value());
}

TEST(SampleFromRows, GarbageStateIsUnknownAndOffline) {
  Sample s = load("synced");
  auto parsed = sample_from_rows({{"wsrep_local_state", "banana"},
                                  {"wsrep_connected", "ON"},
                                  {"wsrep_ready", "ON"},
                                  {"wsrep_cluster_status", "Primary"}});
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->wsrep_local_state, LocalState::Unknown);
  EXPECT_EQ(classify(*parsed, {}).state, State::Offline);
  EXPECT_EQ(classify(s, {}).state, State::Writable);
}

TEST(Classify, TransferDonorOnly) {
  EXPECT_TRUE(transfer_donor_only(load("sst_donor")));
  EXPECT_TRUE(transfer_donor_only(load("ist_donor")));
  EXPECT_FALSE(transfer_donor_only(load("desynced")));  // the operator's desync
  EXPECT_FALSE(transfer_donor_only(load("sst_donor_rejecting")));
  EXPECT_FALSE(transfer_donor_only(load("synced")));
  Sample donor_read_only = load("sst_donor");
  donor_read_only.read_only = true;
  EXPECT_TRUE(transfer_donor_only(donor_read_only));
  EXPECT_EQ(classify(donor_read_only, {.allow_donor = true}).state, State::ReadOnly);
}

TEST(Classify, FailedProbeIsOffline) {
  Sample s = load("synced");
  s.probe_error = "connect: Can't connect to server on '127.0.0.1' (111)";
  const NodeHealth health = classify(s, {});
  EXPECT_EQ(health.state, State::Offline);
  EXPECT_EQ(health.reason, "probe failed: connect: Can't connect to server on '127.0.0.1' (111)");
}

TEST(Classify, OfflineRulesWinOverDrainingAndReadOnly) {
  Sample s = load("non_primary_survivor");
  s.wsrep_desync = true;
  s.read_only = true;
  s.pxc_maint_mode = "MAINTENANCE";
  EXPECT_EQ(classify(s, {}).state, State::Offline);
  s = load("read_only");
  s.pxc_maint_mode = "SHUTDOWN";
  EXPECT_EQ(classify(s, {}).state, State::Draining);
}

}  // namespace
}  // namespace sqlproxy::health
