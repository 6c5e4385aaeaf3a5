#include "sqlproxy/admin/status_page.h"

#include <gtest/gtest.h>

#include "sqlproxy/admin/admin_server.h"
#include "sqlproxy/admin/writer_history.h"

namespace sqlproxy::admin {
namespace {

using namespace std::chrono_literals;

// 2027-01-15 08:00:00 UTC.
const common::WallTime kNow{std::chrono::seconds{1'800'000'000}};

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

BackendStatus backend(std::string name, BackendState state, std::string reason) {
  BackendStatus b;
  b.name = std::move(name);
  b.address = b.name;
  b.state = state;
  b.reason = std::move(reason);
  return b;
}

StatusSnapshot three_nodes() {
  StatusSnapshot s;
  s.writer = "10.0.0.1:3306";
  s.writer_reason = "lowest name among writable nodes";
  s.writer_changes = 1;
  s.backend_source = "discovery";
  BackendStatus w = backend("10.0.0.1:3306", BackendState::Writable, "ok");
  w.writer = true;
  w.last_probe_latency = 1250us;
  w.probes_total = 40;
  w.details = {{"wsrep_local_state_comment", "Synced"},
               {"wsrep_cluster_status", "Primary"},
               {"wsrep_cluster_size", "3"}};
  s.backends = {w, backend("10.0.0.2:3306", BackendState::Draining, "wsrep_desync=ON"),
                backend("10.0.0.3:3306", BackendState::Offline, "connect: Connection refused")};
  s.writer_history = {{kNow - 185s, "10.0.0.3:3306", "10.0.0.1:3306", "writer offline"},
                      {kNow - 3700s, "", "10.0.0.3:3306", "first writable node"}};
  return s;
}

TEST(FormatAge, PicksTwoUnits) {
  EXPECT_EQ(format_age(-5s), "0 s");
  EXPECT_EQ(format_age(999ms), "0 s");
  EXPECT_EQ(format_age(45s), "45 s");
  EXPECT_EQ(format_age(192s), "3 min 12 s");
  EXPECT_EQ(format_age(2h + 5min + 7s), "2 h 5 min");
  EXPECT_EQ(format_age(76h), "3 d 4 h");
}

TEST(FormatUtc, IsUtcWithSeconds) { EXPECT_EQ(format_utc(kNow), "2027-01-15 08:00:00 UTC"); }

TEST(StatusPage, ShowsWriterSinceAndEveryBackendWithItsState) {
  const std::string page =
      render_status_page(three_nodes(), {{"10.0.0.1:3306", 7}, {"10.0.0.2:3306#ro", 2}}, kNow);
  EXPECT_TRUE(page.starts_with("<!DOCTYPE html>"));
  EXPECT_TRUE(contains(page, R"(<meta http-equiv="refresh" content="2">)"));
  EXPECT_TRUE(contains(page, R"(<span id="writer" data-writer="10.0.0.1:3306">10.0.0.1:3306<)"));
  EXPECT_TRUE(contains(page, "since 2027-01-15 07:56:55 UTC (3 min 5 s ago)"));
  // Why the writer was chosen (its change's reason), not the latest decision's.
  EXPECT_TRUE(contains(page, "chosen: writer offline"));
  EXPECT_FALSE(contains(page, "lowest name among writable nodes"));
  EXPECT_TRUE(contains(page, "1 writer change after the first choice"));
  EXPECT_TRUE(contains(page, "backends from <b>discovery</b> &middot; 9 client sessions"));
  for (const char* row : {R"(data-backend="10.0.0.1:3306" data-state="writable")",
                          R"(data-backend="10.0.0.2:3306" data-state="draining")",
                          R"(data-backend="10.0.0.3:3306" data-state="offline")"}) {
    EXPECT_TRUE(contains(page, row)) << row;
  }
  EXPECT_TRUE(contains(page, R"(<span class="badge draining">draining</span>)"));
  EXPECT_TRUE(contains(page, "wsrep_desync=ON"));
  EXPECT_TRUE(contains(page, "connect: Connection refused"));
  EXPECT_TRUE(contains(page, "Synced &middot; Primary &middot; size 3"));
  EXPECT_TRUE(contains(page, "1.25 ms"));
  EXPECT_TRUE(contains(page, R"(<td class="num">7 / 0</td>)"));  // writer port / read-only port
  EXPECT_TRUE(contains(page, R"(<td class="num">0 / 2</td>)"));
  EXPECT_TRUE(contains(page, R"(data-state="writable" data-sessions-rw="7" data-sessions-ro="0")"));
  // Only the writer's row carries the tag.
  EXPECT_EQ(page.find("WRITER</span>"), page.rfind("WRITER</span>"));
  EXPECT_LT(page.find("WRITER</span>"), page.find("10.0.0.2:3306"));
}

TEST(StatusPage, GaleraValuesAfterAFailedProbeReadAsHistory) {
  StatusSnapshot s;
  BackendStatus b = backend("gone", BackendState::Offline, "probe failed: connect: refused");
  b.details = {{"wsrep_local_state_comment", "Synced"}, {"probe_error", "connect: refused"}};
  s.backends = {b};
  const std::string page = render_status_page(s, {}, kNow);
  EXPECT_TRUE(contains(page, R"(title="from the last good probe">was Synced</span>)"));
}

TEST(StatusPage, ReadableOnlyAndUnknownStatesRead) {
  StatusSnapshot s;
  s.backends = {backend("r", BackendState::ReadableOnly, "read_only=ON"),
                backend("u", BackendState::Unknown, "not probed yet")};
  const std::string page = render_status_page(s, {}, kNow);
  EXPECT_TRUE(contains(page, R"(<span class="badge readable_only">readable only</span>)"));
  EXPECT_TRUE(contains(page, R"(<span class="badge unknown">unknown</span>)"));
  EXPECT_TRUE(contains(page, "not probed yet"));
}

TEST(StatusPage, NoWriterSaysSoAndWhy) {
  StatusSnapshot s;
  s.writer_reason = "no writable Galera node (a: offline: connect: refused)";
  s.backend_source = "static";
  const std::string page = render_status_page(s, {}, kNow);
  EXPECT_TRUE(contains(page, R"(<span id="writer" data-writer="">no writer</span>)"));
  EXPECT_TRUE(contains(page, R"(<section class="writer none">)"));
  EXPECT_TRUE(contains(page, "no writable Galera node (a: offline: connect: refused)"));
  EXPECT_TRUE(contains(page, "No backend known yet."));
  EXPECT_TRUE(contains(page, "No writer chosen yet."));
  EXPECT_TRUE(contains(page, "no writer chosen since start"));
  EXPECT_FALSE(contains(page, "id=\"discovery\""));  // static backends: no discovery section
}

TEST(StatusPage, WriterChangesNewestFirst) {
  const std::string page = render_status_page(three_nodes(), {}, kNow);
  const auto newest = page.find(R"(data-from="10.0.0.3:3306" data-to="10.0.0.1:3306")");
  const auto oldest = page.find(R"(data-from="" data-to="10.0.0.3:3306")");
  ASSERT_NE(newest, std::string::npos);
  ASSERT_NE(oldest, std::string::npos);
  EXPECT_LT(newest, oldest);
  EXPECT_TRUE(contains(page, "writer offline"));
  EXPECT_TRUE(contains(page, "(1 h 1 min ago)"));
}

TEST(StatusPage, EscapesEverythingFromOutside) {
  StatusSnapshot s;
  const std::string evil = R"(<script>alert("x")</script>&'")";
  s.writer = evil;
  s.writer_reason = evil;
  s.backend_source = evil;
  BackendStatus b = backend(evil, BackendState::Offline, evil);
  b.address = evil + "addr";
  b.details = {{"wsrep_local_state_comment", evil}, {"wsrep_cluster_status", evil}};
  s.backends = {b};
  s.writer_history = {{kNow, evil, evil, evil}};
  auto d = std::make_shared<DiscoveryStatus>();
  d->endpoint = evil;
  d->members = {{evil, evil, {evil}, {evil}}};
  d->leader_id = evil;
  d->error = evil;
  s.discovery = d;
  const std::string page = render_status_page(s, {{evil, 1}}, kNow);
  EXPECT_FALSE(contains(page, "<script"));
  EXPECT_FALSE(contains(page, "alert(\""));
  EXPECT_FALSE(contains(page, "&'"));
  EXPECT_TRUE(contains(page, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&amp;&#39;&#34;"));
  // Every attribute value stays one quoted token: no raw quote appears inside the data- hooks.
  EXPECT_TRUE(contains(page, R"(data-writer="&lt;script&gt;alert(&#34;x&#34;))"));
}

TEST(StatusPage, DiscoveryMembersAndLeader) {
  StatusSnapshot s = three_nodes();
  auto d = std::make_shared<DiscoveryStatus>();
  d->endpoint = "http://127.0.0.1:2379";
  d->members = {{"8e9e05c52164694d", "m1", {"http://127.0.0.1:2379"}, {"http://127.0.0.1:2380"}},
                {"91bc3c398fb3c146", "m2", {"http://127.0.0.1:22379"}, {"http://127.0.0.1:22380"}}};
  d->leader_id = "91bc3c398fb3c146";
  d->updated_at = kNow - 1s;
  s.discovery = d;
  std::string page = render_status_page(s, {}, kNow);
  EXPECT_TRUE(contains(page, "Discovery members (2)"));
  EXPECT_TRUE(contains(page, R"(data-name="m1" data-id="8e9e05c52164694d" data-leader="false")"));
  EXPECT_TRUE(contains(page, R"(data-name="m2" data-id="91bc3c398fb3c146" data-leader="true")"));
  EXPECT_TRUE(contains(page, R"(leader <b class="mono">m2</b>)"));
  EXPECT_TRUE(contains(page, "http://127.0.0.1:22380"));
  EXPECT_TRUE(contains(page, "updated 2027-01-15 07:59:59 UTC (1 s ago)"));
  EXPECT_FALSE(contains(page, "Last refresh failed"));
  EXPECT_TRUE(
      contains(page, R"(<span class="mono" id="discovery-endpoint">http://127.0.0.1:2379</span>)"));
  EXPECT_FALSE(contains(page, "on failure also"));  // one endpoint configured

  d->endpoint = "http://127.0.0.1:22379";
  d->endpoints = {"http://127.0.0.1:2379", "http://127.0.0.1:22379", "http://127.0.0.1:32379"};
  page = render_status_page(s, {}, kNow);
  EXPECT_TRUE(contains(page, R"(id="discovery-endpoint">http://127.0.0.1:22379</span> (of 3; )"
                             R"(on failure also <span class="mono">http://127.0.0.1:2379, )"
                             R"(http://127.0.0.1:32379</span>))"));

  d->leader_id.clear();
  d->error = "GET /v2/members: Connection refused";
  page = render_status_page(s, {}, kNow);
  EXPECT_TRUE(contains(page, "no leader known"));
  EXPECT_TRUE(contains(page, "Last refresh failed: GET /v2/members: Connection refused"));
  EXPECT_FALSE(contains(page, R"(data-leader="true")"));
}

TEST(WriterHistory, BoundedNewestFirst) {
  WriterHistory history(3);
  EXPECT_TRUE(history.entries().empty());
  for (int i = 0; i < 5; ++i) {
    history.record({kNow + std::chrono::seconds(i), "a", std::to_string(i), "r"});
  }
  ASSERT_EQ(history.entries().size(), 3u);
  EXPECT_EQ(history.entries().front().to, "4");
  EXPECT_EQ(history.entries().back().to, "2");
}

TEST(StatusSnapshot, WriterSinceIsTheNewestChange) {
  StatusSnapshot s;
  EXPECT_FALSE(s.writer_since());
  s = three_nodes();
  EXPECT_EQ(s.writer_since(), kNow - 185s);
}

}  // namespace
}  // namespace sqlproxy::admin
