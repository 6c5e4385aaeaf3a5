// Snapshots: compaction, catch-up of a lagging follower by a chunked snapshot, lost chunks, and
// restart from an applied index.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>

#include "raft/test_cluster.h"

namespace raft {
namespace {

size_t count(const std::vector<pb::Message>& messages, pb::MessageType type, uint64_t to,
             bool first_chunks_only = false) {
  size_t n = 0;
  for (const pb::Message& m : messages) {
    if (m.type() != type || m.to() != to) continue;
    if (first_chunks_only && m.snapshot_offset() != 0) continue;
    ++n;
  }
  return n;
}

// Leader 1 commits `entries` proposals while member 3 is cut off, then compacts its log.
void lag_and_compact(Network& net, int entries) {
  ASSERT_TRUE(net.node(1).campaign());
  net.stabilize();
  ASSERT_EQ(net.leader(), 1u);
  net.isolate(3);
  for (const std::string& s : strings("v", entries)) ASSERT_TRUE(net.node(1).propose(s));
  net.stabilize();
  net.compact(1);
  ASSERT_GT(net.storage(1).first_index(), net.node(3).log().last_index() + 1);
  net.delivered().clear();
}

TEST(Snapshot, ALaggingFollowerCatchesUpFromTheSnapshotInChunks) {
  Config config;
  config.max_snapshot_chunk_bytes = 16;
  Network net(3, config);
  lag_and_compact(net, 20);
  net.heal();
  net.tick(3);
  const size_t chunks = count(net.delivered(), pb::MsgSnap, 3);
  EXPECT_GE(chunks, 4u);  // 20 entries of 3 or 4 bytes, in chunks of 16
  for (const pb::Message& m : net.delivered()) {
    if (m.type() == pb::MsgSnap) {
      EXPECT_LE(m.snapshot().data().size(), 16u);
    }
  }
  EXPECT_EQ(count(net.delivered(), pb::MsgSnap, 3, true), 1u);  // one transfer
  EXPECT_EQ(net.applied(3), net.applied(1));
  EXPECT_EQ(net.storage(3).first_index(), net.storage(1).first_index());
  // It resumes normal replication after the snapshot.
  ASSERT_TRUE(net.node(1).propose("after"));
  net.stabilize();
  EXPECT_EQ(last(net.applied(3)), "after");
  EXPECT_EQ(net.node(1).status().progress.at(3).state, Progress::State::Replicate);
}

TEST(Snapshot, ALostChunkMakesTheFollowerRejectAndTheLeaderRestartsTheTransfer) {
  Config config;
  config.max_snapshot_chunk_bytes = 8;
  Network net(3, config);
  lag_and_compact(net, 10);
  bool dropped = false;
  net.set_drop([&](const pb::Message& m) {
    if (m.type() != pb::MsgSnap || m.snapshot_offset() != 8 || dropped) return false;
    return dropped = true;
  });
  net.heal();
  net.tick(3);
  ASSERT_TRUE(dropped);
  size_t rejections = 0;
  for (const pb::Message& m : net.delivered()) {
    // A rejected chunk carries no log term (a rejected MsgApp carries the fast back-off's).
    rejections += m.type() == pb::MsgAppResp && m.from() == 3 && m.reject() && m.log_term() == 0;
  }
  EXPECT_EQ(rejections, 1u);  // once per broken transfer, not once per later chunk
  EXPECT_EQ(count(net.delivered(), pb::MsgSnap, 3, true), 2u);
  EXPECT_EQ(net.applied(3), net.applied(1));
}

TEST(Snapshot, ALostLastChunkIsResentAfterHeartbeatsWithoutAnAnswer) {
  Config config;
  config.max_snapshot_chunk_bytes = 8;
  Network net(3, config);
  lag_and_compact(net, 10);
  bool dropped = false;
  net.set_drop([&](const pb::Message& m) {
    if (m.type() != pb::MsgSnap || !m.snapshot_done() || dropped) return false;
    return dropped = true;
  });
  net.heal();
  net.tick(3);
  ASSERT_TRUE(dropped);
  EXPECT_NE(net.applied(3), net.applied(1));
  EXPECT_EQ(net.node(1).status().progress.at(3).state, Progress::State::Snapshot);
  net.tick(2 * config.election_tick);
  EXPECT_EQ(count(net.delivered(), pb::MsgSnap, 3, true), 2u);
  EXPECT_EQ(net.applied(3), net.applied(1));
}

TEST(Snapshot, NoAppendGoesToAFollowerWhileItsSnapshotIsInFlight) {
  Network net(3);
  lag_and_compact(net, 10);
  net.set_drop([](const pb::Message& m) { return m.type() == pb::MsgSnap; });
  net.heal();
  net.tick(1);
  ASSERT_EQ(net.node(1).status().progress.at(3).state, Progress::State::Snapshot);
  net.delivered().clear();
  ASSERT_TRUE(net.node(1).propose("x"));
  net.stabilize();
  EXPECT_EQ(count(net.delivered(), pb::MsgApp, 3), 0u);
  EXPECT_GE(count(net.delivered(), pb::MsgApp, 2), 1u);
}

TEST(Snapshot, AFailedReportMakesTheLeaderSendItAgain) {
  Network net(3);
  lag_and_compact(net, 10);
  net.set_drop([](const pb::Message& m) { return m.type() == pb::MsgSnap; });
  net.heal();
  net.tick(1);
  ASSERT_EQ(net.node(1).status().progress.at(3).state, Progress::State::Snapshot);
  net.set_drop(nullptr);
  net.node(1).report_snapshot(3, false);
  EXPECT_EQ(net.node(1).status().progress.at(3).state, Progress::State::Probe);
  net.tick(1);  // the heartbeat response unpauses the probe, which finds the log compacted
  EXPECT_EQ(net.applied(3), net.applied(1));
}

TEST(Snapshot, AFollowerHoldingTheSnapshotsLastEntryKeepsItsLog) {
  MemoryStorage storage;
  fill(storage, {1, 1, 1, 1, 1}, 1);
  Node node(manual_config(2), storage);
  pb::Message snap = response(pb::MsgSnap, 1, 1);
  snap.set_to(2);
  snap.mutable_snapshot()->mutable_metadata()->set_index(3);
  snap.mutable_snapshot()->mutable_metadata()->set_term(1);
  snap.set_snapshot_done(true);
  ASSERT_TRUE(node.step(snap));
  std::vector<pb::Message> sent;
  persist(node, storage, &sent);
  EXPECT_EQ(node.log().committed(), 3u);
  EXPECT_EQ(node.log().last_index(), 5u);  // entries after the snapshot survive
  EXPECT_EQ(storage.first_index(), 1u);    // nothing was installed
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].index(), 3u);
}

TEST(Snapshot, ChunksAreAssembledInAnyOrder) {
  MemoryStorage storage;
  Node node(manual_config(2), storage);
  const std::string data = "abcdefghij";
  std::vector<pb::Message> chunks;
  for (uint64_t offset = 0; offset < data.size(); offset += 3) {
    pb::Message m = response(pb::MsgSnap, 1, 1);
    m.set_to(2);
    m.mutable_snapshot()->mutable_metadata()->set_index(7);
    m.mutable_snapshot()->mutable_metadata()->set_term(1);
    m.mutable_snapshot()->set_data(data.substr(offset, 3));
    m.set_snapshot_offset(offset);
    m.set_snapshot_done(offset + 3 >= data.size());
    chunks.push_back(m);
  }
  std::reverse(chunks.begin(), chunks.end());
  chunks.push_back(chunks[1]);  // a duplicate
  std::vector<pb::Message> sent;
  std::optional<pb::Snapshot> installed;
  for (const pb::Message& m : chunks) {
    ASSERT_TRUE(node.step(m));
    while (node.has_ready()) {
      Ready rd = node.ready();
      if (rd.snapshot) {
        installed = rd.snapshot;
        ASSERT_TRUE(storage.apply_snapshot(*rd.snapshot).has_value());
      }
      sent.insert(sent.end(), rd.messages.begin(), rd.messages.end());
      node.advance(rd);
    }
  }
  ASSERT_TRUE(installed.has_value());
  EXPECT_EQ(installed->data(), data);
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_TRUE(sent[0].reject());  // the last chunk came first: a hole, so one rejection
  EXPECT_FALSE(sent[1].reject());
  EXPECT_EQ(sent[1].index(), 7u);
  EXPECT_EQ(node.log().committed(), 7u);
}

TEST(Restart, CommittedEntriesAtOrBelowAppliedAreNotHandedOutAgain) {
  Network net(3);
  ASSERT_TRUE(net.node(1).campaign());
  net.stabilize();
  for (const std::string& s : strings("a", 5)) ASSERT_TRUE(net.node(1).propose(s));
  net.stabilize();
  const uint64_t applied = net.applied_index(2);
  ASSERT_GE(applied, 6u);
  // The network asserts that each member applies index applied + 1 next.
  net.restart(2);
  EXPECT_EQ(net.node(2).log().applied(), applied);
  ASSERT_TRUE(net.node(1).propose("b"));
  net.tick(2);
  EXPECT_EQ(last(net.applied(2)), "b");
  EXPECT_EQ(net.applied(2).size(), 6u);
}

TEST(Restart, AMemberRestartsFromItsSnapshotAndLog) {
  Network net(3);
  ASSERT_TRUE(net.node(1).campaign());
  net.stabilize();
  for (const std::string& s : strings("a", 5)) ASSERT_TRUE(net.node(1).propose(s));
  net.stabilize();
  net.compact(2);
  ASSERT_TRUE(net.node(1).propose("b"));
  net.stabilize();
  net.restart(2);
  EXPECT_EQ(net.node(2).log().first_index(), net.storage(2).first_index());
  EXPECT_EQ(net.node(2).conf_state().voters_size(), 3);
  ASSERT_TRUE(net.node(1).propose("c"));
  net.tick(2);
  EXPECT_EQ(net.applied(2), net.applied(1));
}

}  // namespace
}  // namespace raft
