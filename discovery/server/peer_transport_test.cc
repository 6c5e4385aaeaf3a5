#include "discovery/server/peer_transport.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <fstream>
#include <numeric>
#include <random>

#include "discovery/server/rocksdb_raft_log.h"
#include "discovery/server/rocksdb_storage.h"
#include "discovery/server/snapshot_checkpoint.h"

namespace discovery::server {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using tcp = asio::ip::tcp;

constexpr std::uint64_t kCluster = 0xc1;
constexpr auto kDeadline = std::chrono::seconds(20);

raft::pb::Message message(std::uint64_t from, std::uint64_t to, std::uint64_t index,
                          raft::pb::MessageType type = raft::pb::MsgApp) {
  raft::pb::Message m;
  m.set_type(type);
  m.set_from(from);
  m.set_to(to);
  m.set_index(index);
  m.set_snapshot_done(type == raft::pb::MsgSnap);  // one MsgSnap: the data is empty
  return m;
}

// One member's transport on its own io_context, so it can be stopped and destroyed (a restart)
// while the others keep running. Everything it records is written by handlers on that io_context,
// which only the test thread runs.
struct TestMember {
  TestMember(std::uint64_t id, std::uint64_t cluster, fs::path dir, std::uint16_t port = 0,
             std::function<void(PeerTransportConfig&)> tune = {}) {
    PeerTransportConfig config;
    config.self_id = id;
    config.cluster_id = cluster;
    config.listen = {tcp::endpoint(asio::ip::make_address("127.0.0.1"), port),
                     tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
    config.snapshot_dir = std::move(dir);
    config.backoff_initial = std::chrono::milliseconds(5);
    config.backoff_max = std::chrono::milliseconds(50);
    config.seed = id;
    if (tune) tune(config);
    PeerTransportHandlers handlers;
    handlers.on_message = [this](raft::pb::Message m) { received.push_back(std::move(m)); };
    handlers.on_unreachable = [this](std::uint64_t peer) { unreachable.push_back(peer); };
    handlers.on_snapshot = [this](raft::pb::Message m, fs::path staged) {
      snapshots.emplace_back(std::move(m), std::move(staged));
    };
    handlers.on_snapshot_sent = [this](std::uint64_t peer, bool ok) {
      snapshots_sent.emplace_back(peer, ok);
    };
    transport = std::make_unique<PeerTransport>(io, config, handlers, io.get_executor(), registry);
    auto started = transport->start();
    EXPECT_TRUE(started.has_value()) << started.error();
  }
  // Stops the transport and runs its io_context dry, as a member's shutdown does.
  ~TestMember() {
    transport->stop();
    const auto deadline = std::chrono::steady_clock::now() + kDeadline;
    while (!io.stopped() && std::chrono::steady_clock::now() < deadline) {
      io.run_for(std::chrono::milliseconds(1));
    }
    EXPECT_TRUE(io.stopped()) << "transport work left after stop()";
  }
  tcp::endpoint endpoint() const { return transport->local_endpoint(); }
  const PeerTransportMetrics& metrics() const { return transport->metrics(); }

  asio::io_context io;
  common::metrics::Registry registry;
  std::unique_ptr<PeerTransport> transport;
  std::vector<raft::pb::Message> received;
  std::vector<std::uint64_t> unreachable;
  std::vector<std::pair<raft::pb::Message, fs::path>> snapshots;
  std::vector<std::pair<std::uint64_t, bool>> snapshots_sent;
};

class PeerTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("raftio-transport-" + std::to_string(::getpid()) + "-" +
                                        std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    members_.clear();
    fs::remove_all(dir_);
  }
  TestMember& add(std::uint64_t id, std::uint64_t cluster = kCluster, std::uint16_t port = 0,
                  std::function<void(PeerTransportConfig&)> tune = {}) {
    members_[id] = std::make_unique<TestMember>(id, cluster, dir_ / ("snap-" + std::to_string(id)),
                                                port, std::move(tune));
    return *members_[id];
  }
  // Runs every member's io_context until `done` holds; false at the deadline.
  template <class F>
  bool pump_until(F done) {
    const auto deadline = std::chrono::steady_clock::now() + kDeadline;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      for (auto& [id, member] : members_) {
        if (member->io.stopped()) member->io.restart();
        member->io.run_for(std::chrono::microseconds(500));
      }
    }
    return true;
  }
  static std::vector<std::uint64_t> indexes(const std::vector<raft::pb::Message>& messages) {
    std::vector<std::uint64_t> out;
    for (const auto& m : messages) out.push_back(m.index());
    return out;
  }

  fs::path dir_;
  std::map<std::uint64_t, std::unique_ptr<TestMember>> members_;
};

TEST_F(PeerTransportTest, DeliversInOrderBothWays) {
  TestMember& a = add(1);
  TestMember& b = add(2);
  TestMember& c = add(3);
  // Every member listens on two addresses; b is reached on its second.
  a.transport->add_peer(2, PeerAddress::of(b.transport->local_endpoints().at(1)));
  // By name, resolved at the dial (to 127.0.0.1 and ::1; only the first listens).
  a.transport->add_peer(3, {"localhost", std::to_string(c.endpoint().port())});
  b.transport->add_peer(1, PeerAddress::of(a.endpoint()));
  std::vector<std::uint64_t> want;
  for (std::uint64_t i = 1; i <= 2000; i += 50) {
    std::vector<raft::pb::Message> batch;
    for (std::uint64_t j = i; j < i + 50; ++j) {
      batch.push_back(message(1, 2, j));
      batch.push_back(message(1, 3, j));
      want.push_back(j);
    }
    a.transport->send(std::move(batch));
  }
  b.transport->send({message(2, 1, 7), message(2, 1, 8), message(2, 9, 1)});  // 9 is unknown
  // The members take turns on this thread, so the receivers can hold everything before the
  // sender's write completions (which count what was sent) have run.
  ASSERT_TRUE(pump_until([&] {
    return b.received.size() == 2000 && c.received.size() == 2000 && a.received.size() == 2 &&
           a.metrics().sent_messages.value() >= 4000;
  }));
  EXPECT_EQ(indexes(b.received), want);
  EXPECT_EQ(indexes(c.received), want);
  EXPECT_EQ(indexes(a.received), (std::vector<std::uint64_t>{7, 8}));
  EXPECT_EQ(b.received[0].from(), 1u);
  EXPECT_EQ(a.metrics().sent_messages.value(), 4000u);
  EXPECT_EQ(b.metrics().received_messages.value(), 2000u);
  EXPECT_EQ(b.metrics().dropped_messages.value(), 1u);
  EXPECT_EQ(a.metrics().dropped_messages.value(), 0u);
  EXPECT_TRUE(a.unreachable.empty());
}

TEST_F(PeerTransportTest, ReconnectsAfterThePeerRestarts) {
  TestMember& a = add(1);
  const std::uint16_t port = add(2).endpoint().port();
  a.transport->add_peer(2, PeerAddress::of(members_[2]->endpoint()));
  a.transport->send({message(1, 2, 1)});
  ASSERT_TRUE(pump_until([&] { return members_[2]->received.size() == 1; }));

  members_.erase(2);  // stopped and gone: dials fail, a is told once
  std::uint64_t index = 100;
  ASSERT_TRUE(pump_until([&] {
    a.transport->send({message(1, 2, ++index)});
    return !a.unreachable.empty() && a.metrics().send_failures.value() >= 3;
  }));
  EXPECT_EQ(a.unreachable, (std::vector<std::uint64_t>{2}));

  TestMember& b = add(2, kCluster, port);  // back on the same address
  ASSERT_TRUE(pump_until([&] {
    a.transport->send({message(1, 2, ++index)});
    return !b.received.empty();
  }));
  // Whatever arrives after the restart arrives in order.
  const std::uint64_t first = b.received.front().index();
  ASSERT_TRUE(pump_until([&] { return b.received.back().index() == index; }));
  std::vector<std::uint64_t> want;
  for (std::uint64_t i = first; i <= index; ++i) want.push_back(i);
  EXPECT_EQ(indexes(b.received), want);
  // A new failure streak would be reported again; a healthy connection reports nothing more.
  EXPECT_EQ(a.unreachable.size(), 1u);
}

TEST_F(PeerTransportTest, MembersOfAnotherClusterRefuseEachOther) {
  TestMember& a = add(1);
  TestMember& other = add(2, kCluster + 1);
  TestMember& b = add(3);
  a.transport->add_peer(2, PeerAddress::of(other.endpoint()));
  other.transport->add_peer(1, PeerAddress::of(a.endpoint()));
  b.transport->add_peer(5,
                        PeerAddress::of(a.endpoint()));  // the right cluster, but a is not member 5
  ASSERT_TRUE(pump_until([&] {
    a.transport->send({message(1, 2, 1)});
    other.transport->send({message(2, 1, 1)});
    b.transport->send({message(3, 5, 1)});
    return a.metrics().cluster_mismatches.value() >= 6 &&
           other.metrics().cluster_mismatches.value() >= 3 &&
           b.metrics().cluster_mismatches.value() >= 3;
  }));
  EXPECT_TRUE(a.received.empty());
  EXPECT_TRUE(other.received.empty());
  EXPECT_EQ(a.unreachable, (std::vector<std::uint64_t>{2}));
  EXPECT_EQ(b.unreachable, (std::vector<std::uint64_t>{5}));
  EXPECT_EQ(a.metrics().sent_messages.value(), 0u);
}

TEST_F(PeerTransportTest, FullQueueDropsAndCounts) {
  TestMember& a = add(1, kCluster, 0, [](PeerTransportConfig& c) { c.queue_messages_max = 10; });
  TestMember& b = add(2);
  a.transport->add_peer(2, PeerAddress::of(b.endpoint()));
  // One send() runs as one step on the transport's strand, before the dial can complete, so the
  // queue holds exactly its bound and the rest is dropped.
  std::vector<raft::pb::Message> batch;
  for (std::uint64_t i = 1; i <= 100; ++i) batch.push_back(message(1, 2, i));
  a.transport->send(std::move(batch));
  ASSERT_TRUE(pump_until([&] { return b.received.size() == 10; }));
  EXPECT_EQ(indexes(b.received), (std::vector<std::uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  EXPECT_EQ(a.metrics().dropped_messages.value(), 90u);
  a.transport->send({message(1, 2, 101)});
  ASSERT_TRUE(pump_until([&] { return b.received.size() == 11; }));
}

TEST_F(PeerTransportTest, InlineWritesLeaveAtOnceAndKeepTheOrder) {
  TestMember& a = add(1, kCluster, 0, [](PeerTransportConfig& c) { c.inline_writes = true; });
  TestMember& b = add(2);
  a.transport->add_peer(2, PeerAddress::of(b.endpoint()));
  // Not connected yet: queued for the writer, which delivers once the dial is done.
  EXPECT_FALSE(a.transport->send({message(1, 2, 1)}));
  ASSERT_TRUE(pump_until([&] { return b.received.size() == 1; }));
  // Connected and idle: written within send() itself, before any handler runs.
  EXPECT_TRUE(a.transport->send({message(1, 2, 2), message(1, 2, 3)}));
  EXPECT_EQ(a.metrics().sent_messages.value(), 3u);
  // More than the socket takes at once: the rest (a frame cut short included) goes through the
  // writer, after what send() wrote and before anything sent later.
  std::vector<raft::pb::Message> big;
  for (std::uint64_t i = 4; i < 204; ++i) {
    raft::pb::Message m = message(1, 2, i);
    m.add_entries()->set_data(std::string(64 << 10, 'x'));
    big.push_back(std::move(m));
  }
  EXPECT_FALSE(a.transport->send(std::move(big)));
  a.transport->send({message(1, 2, 204)});
  ASSERT_TRUE(pump_until([&] { return b.received.size() == 204; }));
  std::vector<std::uint64_t> want(204);
  std::iota(want.begin(), want.end(), 1);
  EXPECT_EQ(indexes(b.received), want);
  EXPECT_EQ(a.metrics().dropped_messages.value(), 0u);
  EXPECT_EQ(b.metrics().malformed_frames.value(), 0u);
}

std::string frame_of(const pb::Envelope& envelope) {
  std::string out;
  append_frame(out, envelope);
  return out;
}

std::string hello_frame(std::uint64_t from, std::uint64_t to) {
  pb::Envelope e;
  e.mutable_hello()->set_cluster_id(kCluster);
  e.mutable_hello()->set_from(from);
  e.mutable_hello()->set_to(to);
  return frame_of(e);
}

TEST_F(PeerTransportTest, BadFramesCloseTheConnectionAndAreCounted) {
  TestMember& b = add(2, kCluster, 0, [](PeerTransportConfig& c) {
    c.frame_bytes_max = 1 << 16;
    c.snapshot_chunk_bytes = 1 << 12;
  });
  pb::Envelope forged;
  *forged.mutable_message() = message(7, 2, 1);  // not the member that said hello
  pb::Envelope good;
  *good.mutable_message() = message(1, 2, 42);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"no handshake", "GET / HTTP/1.1\r\nHost: x\r\n\r\n"},
      {"oversized", hello_frame(1, 2) + std::string("\x7f\xff\xff\xff", 4)},
      {"garbage body", hello_frame(1, 2) + std::string("\0\0\0\4\xff\xff\xff\xff", 8)},
      {"empty envelope", hello_frame(1, 2) + std::string("\0\0\0\0", 4)},
      {"forged sender", hello_frame(1, 2) + frame_of(good) + frame_of(forged)},
  };
  asio::io_context client_io;
  std::uint64_t malformed = 0;
  for (const auto& [name, bytes] : cases) {
    SCOPED_TRACE(name);
    tcp::socket raw(client_io);
    raw.connect(b.endpoint());
    asio::write(raw, asio::buffer(bytes));
    raw.non_blocking(true);
    boost::system::error_code ec;
    ASSERT_TRUE(pump_until([&] {
      char buffer[256];
      raw.read_some(asio::buffer(buffer), ec);
      return ec == asio::error::eof || ec == asio::error::connection_reset;
    }));
    EXPECT_EQ(b.metrics().malformed_frames.value(), ++malformed);
  }
  // The good message before the forged one got through; nothing else did, and b still serves.
  EXPECT_EQ(indexes(b.received), (std::vector<std::uint64_t>{42}));
  TestMember& a = add(1);
  a.transport->add_peer(2, PeerAddress::of(b.endpoint()));
  a.transport->send({message(1, 2, 43)});
  ASSERT_TRUE(pump_until([&] { return b.received.size() == 2; }));
}

TEST_F(PeerTransportTest, StreamsASnapshotInChunks) {
  const auto small_chunks = [](PeerTransportConfig& c) {
    c.snapshot_chunk_bytes = 1000;
    c.frame_bytes_max = 8192;
  };
  TestMember& a = add(1, kCluster, 0, small_chunks);
  TestMember& b = add(2, kCluster, 0, small_chunks);
  a.transport->add_peer(2, PeerAddress::of(b.endpoint()));
  const fs::path checkpoint = dir_ / "checkpoint";
  fs::create_directories(checkpoint);
  std::string sst(25'500, '\0');
  for (std::size_t i = 0; i < sst.size(); ++i) sst[i] = static_cast<char>(i % 251);
  std::ofstream(checkpoint / "000007.sst", std::ios::binary) << sst;
  std::ofstream(checkpoint / "CURRENT", std::ios::binary) << "MANIFEST-000005\n";
  raft::pb::Message snap = message(1, 2, 0, raft::pb::MsgSnap);
  snap.mutable_snapshot()->mutable_metadata()->set_index(77);
  snap.mutable_snapshot()->mutable_metadata()->set_term(3);
  a.transport->send_snapshot(snap, checkpoint);
  a.transport->send({message(1, 2, 5)});  // heartbeats keep flowing on their own connection
  ASSERT_TRUE(pump_until([&] { return !a.snapshots_sent.empty() && !b.snapshots.empty(); }));
  EXPECT_EQ(a.snapshots_sent.front(), (std::pair<std::uint64_t, bool>{2, true}));
  const auto& [got, staged] = b.snapshots.front();
  EXPECT_EQ(got.type(), raft::pb::MsgSnap);
  EXPECT_EQ(got.snapshot().metadata().index(), 77u);
  std::ifstream in(staged / "000007.sst", std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), sst);
  EXPECT_TRUE(fs::exists(staged / "CURRENT"));
  EXPECT_EQ(a.metrics().snapshots_sent.value(), 1u);
  EXPECT_EQ(b.metrics().snapshots_received.value(), 1u);
  ASSERT_TRUE(pump_until([&] { return b.received.size() == 1; }));
  // A snapshot to a peer that is not there fails, and says so.
  a.transport->send_snapshot(message(1, 4, 0, raft::pb::MsgSnap), checkpoint);
  ASSERT_TRUE(pump_until([&] { return a.snapshots_sent.size() == 2; }));
  EXPECT_EQ(a.snapshots_sent.back(), (std::pair<std::uint64_t, bool>{4, false}));
}

// The whole path a snapshot takes: the leader's checkpoint, the transfer, the receiver's install.
TEST_F(PeerTransportTest, CheckpointTravelsAndInstallsOnTheReceiver) {
  const auto small_chunks = [](PeerTransportConfig& c) { c.snapshot_chunk_bytes = 4096; };
  TestMember& a = add(1, kCluster, 0, small_chunks);
  TestMember& b = add(2, kCluster, 0, small_chunks);
  a.transport->add_peer(2, PeerAddress::of(b.endpoint()));
  raft::pb::SnapshotMetadata metadata;
  metadata.set_index(500);
  metadata.set_term(4);
  metadata.mutable_conf_state()->add_voters(1);
  metadata.mutable_conf_state()->add_voters(2);
  const fs::path checkpoint = dir_ / "leader-checkpoint";
  {
    auto leader = std::move(*RocksdbStorage::open(dir_ / "leader"));
    auto log = RocksdbRaftLog::load(leader->db());
    rocksdb::WriteBatch batch;
    std::vector<store::Change> changes;
    for (int i = 0; i < 500; ++i) {
      store::Change change{store::Change::Kind::Put, "/key" + std::to_string(i), {}};
      change.node.set_value(std::string(100, static_cast<char>('a' + i % 26)));
      changes.push_back(std::move(change));
    }
    RocksdbStorage::append(batch, changes, 500);
    RocksdbStorage::set_applied(batch, 500);
    log->apply_snapshot(batch, metadata);  // a log whose base is 500, as after an earlier install
    log->set_hard_state(batch, [] {
      raft::pb::HardState hs;
      hs.set_term(4);
      hs.set_vote(1);
      hs.set_commit(500);
      return hs;
    }());
    leader->commit(batch);
    ASSERT_TRUE(create_checkpoint(leader->db(), checkpoint).has_value());
  }
  raft::pb::Message snap = message(1, 2, 0, raft::pb::MsgSnap);
  *snap.mutable_snapshot()->mutable_metadata() = metadata;
  a.transport->send_snapshot(snap, checkpoint);
  ASSERT_TRUE(pump_until([&] { return !b.snapshots.empty() && !a.snapshots_sent.empty(); }));
  ASSERT_TRUE(a.snapshots_sent.front().second);

  const fs::path live = dir_ / "receiver";
  ASSERT_TRUE(RocksdbStorage::open(live).has_value());  // an empty database of its own
  raft::pb::HardState own;
  own.set_term(4);
  own.set_commit(500);
  const fs::path staged = b.snapshots.front().second;
  ASSERT_TRUE(
      prepare_received_checkpoint(staged, b.snapshots.front().first.snapshot().metadata(), own));
  ASSERT_TRUE(swap_in_checkpoint(live, staged));
  auto receiver = std::move(*RocksdbStorage::open(live));
  const RocksdbStorage::Loaded loaded = receiver->load();
  EXPECT_EQ(loaded.index, 500u);
  EXPECT_EQ(loaded.records.size(), 500u);
  auto log = RocksdbRaftLog::load(receiver->db());
  EXPECT_EQ(log->first_index(), 501u);
  EXPECT_EQ(log->hard_state().vote(), 0u);
  EXPECT_EQ(log->conf_state().voters_size(), 2);
}

TEST_F(PeerTransportTest, UpdatedAddressIsDialedAndRemovedPeerIsDropped) {
  TestMember& a = add(1);
  TestMember& b = add(2);
  // Member 3's port: bound once and released, so nothing listens there.
  tcp::endpoint nowhere;
  {
    asio::io_context io;
    tcp::acceptor probe(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    nowhere = probe.local_endpoint();
  }
  a.transport->add_peer(2, PeerAddress::of(nowhere));
  ASSERT_TRUE(pump_until([&] {
    a.transport->send({message(1, 2, 1)});
    return !a.unreachable.empty();
  }));
  a.transport->update_peer(2, PeerAddress::of(b.endpoint()));
  std::uint64_t index = 1;
  ASSERT_TRUE(pump_until([&] {
    a.transport->send({message(1, 2, ++index)});
    return !b.received.empty();
  }));
  // Once everything sent has arrived the queue is empty, so the removal drops exactly one more.
  ASSERT_TRUE(pump_until([&] { return b.received.back().index() == index; }));
  const std::uint64_t dropped = a.metrics().dropped_messages.value();
  a.transport->remove_peer(2);
  a.transport->send({message(1, 2, 1000)});
  ASSERT_TRUE(pump_until([&] { return a.metrics().dropped_messages.value() == dropped + 1; }));
  EXPECT_EQ(b.received.back().index(), index);
}

}  // namespace
}  // namespace discovery::server
