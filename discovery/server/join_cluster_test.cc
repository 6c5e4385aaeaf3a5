// A joining member's view of the cluster: asked over a real peer transport (MembersQuery), and
// its own identity picked by peer URLs.

#include "discovery/server/join_cluster.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <thread>

namespace discovery::server {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

TEST(JoinCluster, FetchesTheMemberListFromAPeer) {
  asio::io_context io;
  common::metrics::Registry registry;
  PeerTransportConfig config;
  config.self_id = 0xa;
  config.cluster_id = 0xc1;
  config.listen = {tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  config.snapshot_dir =
      std::filesystem::temp_directory_path() / ("join-cluster-test-" + std::to_string(::getpid()));
  PeerTransportHandlers handlers;
  handlers.on_message = [](raft::pb::Message) {};
  handlers.on_unreachable = [](std::uint64_t) {};
  handlers.on_snapshot = [](raft::pb::Message, std::filesystem::path) {};
  handlers.on_snapshot_sent = [](std::uint64_t, bool) {};
  handlers.on_members_query = [] {
    pb::MembersReply reply;
    reply.set_cluster_id(0xc1);
    auto& a = *reply.add_members();
    a.set_id(0xa);
    a.add_peer_urls("http://127.0.0.1:1");
    auto& b = *reply.add_members();
    b.set_id(0xb);
    b.add_peer_urls("http://127.0.0.2:2");
    b.add_peer_urls("http://127.0.0.1:2");
    return reply;
  };
  PeerTransport transport(io, config, handlers, io.get_executor(), registry);
  ASSERT_TRUE(transport.start().has_value());
  const std::string port = std::to_string(transport.local_endpoint().port());
  std::thread runner([&io] {
    auto guard = asio::make_work_guard(io);
    io.run();
  });
  // The first address refuses connections; the second answers.
  auto cluster = fetch_cluster({PeerAddress{.host = "127.0.0.1", .port = "1"},
                                PeerAddress{.host = "127.0.0.1", .port = port}},
                               std::chrono::seconds{10});
  transport.stop();
  io.stop();
  runner.join();
  std::filesystem::remove_all(config.snapshot_dir);
  ASSERT_TRUE(cluster.has_value()) << cluster.error();
  EXPECT_EQ(cluster->cluster_id, 0xc1u);
  ASSERT_EQ(cluster->members.size(), 2u);
  EXPECT_EQ(cluster->members[1].peer_urls,
            (std::vector<std::string>{"http://127.0.0.1:2", "http://127.0.0.2:2"}));
  auto identity = identity_in(*cluster, {"http://127.0.0.2:2", "http://127.0.0.1:2"});
  ASSERT_TRUE(identity.has_value());
  EXPECT_EQ(identity->member_id, 0xbu);
  EXPECT_EQ(identity->cluster_id, 0xc1u);
  EXPECT_FALSE(identity_in(*cluster, {"http://127.0.0.1:9"}).has_value());
}

}  // namespace
}  // namespace discovery::server
