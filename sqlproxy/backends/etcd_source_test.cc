// EtcdDiscoverySource against a real etcd 3.4 (--enable-v2=true) on free 127.0.0.1 ports, fed
// the exact requests a Percona XtraDB Cluster container's entrypoint and clustercheck loop send
// (see the project's pxc-discovery-requests notes).

#include "sqlproxy/backends/etcd_source.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <thread>

extern char** environ;

namespace sqlproxy::backends {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using namespace std::chrono_literals;

constexpr auto kDeadline = 30s;

// Runs `io` until `done()` holds or kDeadline passes; returns done().
template <class Done>
bool run_until(asio::io_context& io, Done done) {
  const auto deadline = std::chrono::steady_clock::now() + kDeadline;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    io.run_for(10ms);
    io.restart();
  }
  return done();
}
const std::string kCluster = "percona";

std::uint16_t free_port() {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  return acceptor.local_endpoint().port();
}

struct HttpAnswer {
  unsigned status = 0;
  std::string body;
};

// A plain curl-like request: form body, no redirects, errors as status 0.
HttpAnswer send(std::uint16_t port, http::verb verb, const std::string& target,
                const std::string& form = "") {
  try {
    asio::io_context io;
    beast::tcp_stream stream(io);
    stream.expires_after(5s);
    stream.connect({asio::ip::make_address("127.0.0.1"), port});
    http::request<http::string_body> request{verb, target, 11};
    request.set(http::field::host, "127.0.0.1");
    if (!form.empty()) {
      request.set(http::field::content_type, "application/x-www-form-urlencoded");
      request.body() = form;
      request.prepare_payload();
    }
    http::write(stream, request);
    beast::flat_buffer buffer;
    http::response<http::string_body> response;
    http::read(stream, buffer, response);
    return {response.result_int(), response.body()};
  } catch (const std::exception&) {
    return {};
  }
}

// One etcd member this test started; stopped by its PID.
class Etcd {
 public:
  Etcd() : client_port_(free_port()), peer_port_(free_port()) {
    char dir[] = "/tmp/galera-etcd-XXXXXX";
    CHECK_DIR(mkdtemp(dir));
    dir_ = dir;
  }
  ~Etcd() {
    stop();
    std::filesystem::remove_all(dir_);
  }

  void start() {
    const std::string client = "http://127.0.0.1:" + std::to_string(client_port_);
    const std::string peer = "http://127.0.0.1:" + std::to_string(peer_port_);
    const char* bin = std::getenv("ETCD_BIN");
    std::vector<std::string> args = {bin != nullptr ? bin : "etcd",
                                     "--name",
                                     "m1",
                                     "--data-dir",
                                     dir_ + "/data",
                                     "--listen-client-urls",
                                     client,
                                     "--advertise-client-urls",
                                     client,
                                     "--listen-peer-urls",
                                     peer,
                                     "--initial-advertise-peer-urls",
                                     peer,
                                     "--initial-cluster",
                                     "m1=" + peer,
                                     "--enable-v2=true"};
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    const std::string log = dir_ + "/etcd.log";
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    ASSERT_EQ(posix_spawnp(&pid_, argv[0], &actions, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    const auto deadline = std::chrono::steady_clock::now() + kDeadline;
    while (send(client_port_, http::verb::get, "/health").status != 200) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "etcd not healthy, see " << log;
      std::this_thread::sleep_for(50ms);
    }
  }

  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  std::uint16_t port() const { return client_port_; }

 private:
  static void CHECK_DIR(const char* made) { ASSERT_NE(made, nullptr); }

  std::uint16_t client_port_;
  std::uint16_t peer_port_;
  std::string dir_;
  pid_t pid_ = -1;
};

class EtcdSourceTest : public testing::Test {
 protected:
  void SetUp() override {
    etcd_.start();
    EtcdDiscoveryConfig config;
    config.url = {{{"127.0.0.1", etcd_.port()}}, "/pxc-cluster/" + kCluster};
    config.backend_port = 3306;
    config.retry_interval = 100ms;
    source_ = std::make_unique<EtcdDiscoverySource>(io_.get_executor(), config,
                                                    [this](std::vector<BackendSpec> backends) {
                                                      std::vector<std::string> names;
                                                      for (const auto& b : backends)
                                                        names.push_back(b.name());
                                                      std::lock_guard lock(mutex_);
                                                      deliveries_.push_back(names);
                                                      changed_.notify_all();
                                                    });
    source_->start();
    thread_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    source_->stop();
    thread_.join();  // run() returns once the cancelled coroutine finished
    source_.reset();
  }

  // Waits until the delivery number `index` (0-based) arrives and returns it.
  std::vector<std::string> delivery(size_t index) {
    std::unique_lock lock(mutex_);
    const bool arrived =
        changed_.wait_for(lock, kDeadline, [&] { return deliveries_.size() > index; });
    EXPECT_TRUE(arrived) << "no delivery #" << index << " within the deadline";
    return arrived ? deliveries_[index] : std::vector<std::string>{};
  }

  // The PXC entrypoint's registration (requests A.1 to A.6), then one clustercheck refresh.
  void register_node(const std::string& ip, const std::string& hostname, int dir_ttl = 30) {
    const auto p = etcd_.port();
    EXPECT_EQ(send(p, http::verb::post, "/v2/keys/pxc-cluster/queue/" + kCluster,
                   "value=" + ip + "&ttl=60")
                  .status,
              201u);
    EXPECT_EQ(send(p, http::verb::get, "/v2/keys/pxc-cluster/queue/" + kCluster).status, 200u);
    refresh(ip, hostname, dir_ttl);
    EXPECT_EQ(send(p, http::verb::get, "/v2/keys/pxc-cluster/" + kCluster + "/?quorum=true").status,
              200u);
  }

  // clustercheckcron while the node is Synced (requests B: ipaddr, hostname, dir TTL).
  void refresh(const std::string& ip, const std::string& hostname, int dir_ttl = 30) {
    const auto p = etcd_.port();
    const std::string base = "/v2/keys/pxc-cluster/" + kCluster + "/" + ip;
    EXPECT_LT(send(p, http::verb::put, base + "/ipaddr", "value=" + ip + "&ttl=30").status, 300u);
    EXPECT_LT(send(p, http::verb::put, base + "/hostname", "value=" + hostname + "&ttl=30").status,
              300u);
    EXPECT_EQ(send(p, http::verb::put, base,
                   "ttl=" + std::to_string(dir_ttl) + "&dir=true&prevExist=true")
                  .status,
              200u);
  }

  // clustercheckcron when the node is not Synced.
  void deregister(const std::string& ip) {
    EXPECT_EQ(send(etcd_.port(), http::verb::delete_,
                   "/v2/keys/pxc-cluster/" + kCluster + "/" + ip + "/?recursive=true")
                  .status,
              200u);
  }

  Etcd etcd_;
  asio::io_context io_;
  std::unique_ptr<EtcdDiscoverySource> source_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::vector<std::string>> deliveries_;
};

using Names = std::vector<std::string>;

TEST_F(EtcdSourceTest, FollowsRegistrationsRefreshesAndRemovals) {
  EXPECT_EQ(delivery(0), Names{});  // the directory does not exist yet: 404, empty set
  register_node("127.0.0.1:3307", "pxc-0");
  EXPECT_EQ(delivery(1), Names{"127.0.0.1:3307"});
  register_node("127.0.0.2", "pxc-1");  // a bare IP gets --backend-port
  EXPECT_EQ(delivery(2), (Names{"127.0.0.1:3307", "127.0.0.2:3306"}));
  // TTL refreshes are events too, but the set does not change: no delivery. The next delivery
  // is the one after the third node registers.
  refresh("127.0.0.1:3307", "pxc-0");
  refresh("127.0.0.2", "pxc-1");
  register_node("127.0.0.3", "pxc-2");
  EXPECT_EQ(delivery(3), (Names{"127.0.0.1:3307", "127.0.0.2:3306", "127.0.0.3:3306"}));
  deregister("127.0.0.2");
  EXPECT_EQ(delivery(4), (Names{"127.0.0.1:3307", "127.0.0.3:3306"}));
}

TEST_F(EtcdSourceTest, DirectoryExpiryRemovesTheMember) {
  EXPECT_EQ(delivery(0), Names{});
  register_node("127.0.0.4", "pxc-3", /*dir_ttl=*/2);  // the node stopped refreshing
  EXPECT_EQ(delivery(1), Names{"127.0.0.4:3306"});
  EXPECT_EQ(delivery(2), Names{});  // etcd's "expire" event on the directory
}

TEST_F(EtcdSourceTest, SurvivesAnEtcdRestart) {
  register_node("127.0.0.1:3307", "pxc-0", 300);
  // The first delivery is the set at the first successful listing (empty or not).
  const Names first = delivery(0);
  size_t next = 1;
  if (first.empty()) {
    EXPECT_EQ(delivery(next++), Names{"127.0.0.1:3307"});
  }
  etcd_.stop();
  etcd_.start();  // same ports and data: the member is still there
  register_node("127.0.0.5", "pxc-4", 300);
  EXPECT_EQ(delivery(next), (Names{"127.0.0.1:3307", "127.0.0.5:3306"}));
}

// The first endpoint refuses connections (nothing listens there): the source moves on to the
// live one at once, follows the keys there, and the cluster refresh names the endpoint in use.
TEST(EtcdSourceEndpoints, MovesPastADeadEndpoint) {
  Etcd etcd;
  etcd.start();
  asio::io_context io;
  EtcdDiscoveryConfig config;
  const std::uint16_t dead = free_port();
  config.url = {{{"127.0.0.1", dead}, {"127.0.0.1", etcd.port()}}, "/pxc-cluster/" + kCluster};
  config.retry_interval = 100ms;
  config.cluster_interval = 50ms;
  std::vector<std::vector<BackendSpec>> deliveries;
  std::vector<DiscoveryCluster> reports;
  EtcdDiscoverySource source(
      io.get_executor(), config,
      [&](const std::vector<BackendSpec>& backends) { deliveries.push_back(backends); },
      [&](const DiscoveryCluster& c) { reports.push_back(c); });
  source.start();
  ASSERT_TRUE(run_until(io, [&] { return !deliveries.empty(); }));
  EXPECT_TRUE(deliveries[0].empty());
  const std::string live = "http://127.0.0.1:" + std::to_string(etcd.port());
  ASSERT_TRUE(run_until(io, [&] { return !reports.empty() && reports.back().endpoint == live; }));
  EXPECT_EQ(reports.back().error, "");
  EXPECT_EQ(send(etcd.port(), http::verb::put,
                 "/v2/keys/pxc-cluster/" + kCluster + "/10.0.0.9/ipaddr", "value=10.0.0.9")
                .status,
            201u);
  ASSERT_TRUE(run_until(io, [&] { return deliveries.size() >= 2; }));
  ASSERT_EQ(deliveries[1].size(), 1u);
  EXPECT_EQ(deliveries[1][0].name(), "10.0.0.9:3306");
  source.stop();
  io.run_for(100ms);
}

// Answers every request on its port as an etcd member without a leader answers a quorum read:
// HTTP 500, errorCode 300. Runs on its own thread until destroyed; counts the requests.
class LeaderlessMember {
 public:
  LeaderlessMember() : acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
    accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~LeaderlessMember() {
    io_.stop();
    thread_.join();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  int requests() const { return requests_; }

 private:
  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, asio::ip::tcp::socket socket) {
      if (ec) return;
      ++requests_;
      beast::flat_buffer buffer;
      http::request<http::string_body> request;
      boost::system::error_code io_error;
      http::read(socket, buffer, request, io_error);
      http::response<http::string_body> response{http::status::internal_server_error, 11};
      response.set(http::field::content_type, "application/json");
      response.body() = R"({"errorCode":300,"message":"Raft Internal Error",)"
                        R"("cause":"etcdserver: request timed out","index":0})";
      response.prepare_payload();
      http::write(socket, response, io_error);
      accept();
    });
  }

  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
  std::thread thread_;
  std::atomic<int> requests_{0};
};

// The first endpoint answers but has no leader: its 500 counts as a failure like a refused
// connection, and the keys come from the next endpoint.
TEST(EtcdSourceEndpoints, MovesPastAMemberWithoutLeader) {
  LeaderlessMember leaderless;
  Etcd etcd;
  etcd.start();
  asio::io_context io;
  EtcdDiscoveryConfig config;
  config.url = {{{"127.0.0.1", leaderless.port()}, {"127.0.0.1", etcd.port()}},
                "/pxc-cluster/" + kCluster};
  config.retry_interval = 100ms;
  std::vector<std::vector<BackendSpec>> deliveries;
  EtcdDiscoverySource source(io.get_executor(), config,
                             [&](const std::vector<BackendSpec>& b) { deliveries.push_back(b); });
  EXPECT_EQ(send(etcd.port(), http::verb::put,
                 "/v2/keys/pxc-cluster/" + kCluster + "/10.0.0.7/ipaddr", "value=10.0.0.7")
                .status,
            201u);
  source.start();
  ASSERT_TRUE(run_until(io, [&] { return !deliveries.empty(); }));
  ASSERT_EQ(deliveries.size(), 1u);
  ASSERT_EQ(deliveries[0].size(), 1u);
  EXPECT_EQ(deliveries[0][0].name(), "10.0.0.7:3306");
  // A change after the first listing comes through the watch on etcd: the leaderless member,
  // asked once, is not asked again while etcd answers.
  EXPECT_EQ(send(etcd.port(), http::verb::put,
                 "/v2/keys/pxc-cluster/" + kCluster + "/10.0.0.8/ipaddr", "value=10.0.0.8")
                .status,
            201u);
  ASSERT_TRUE(run_until(io, [&] { return deliveries.size() >= 2; }));
  EXPECT_EQ(deliveries[1].size(), 2u);
  EXPECT_EQ(leaderless.requests(), 1);
  source.stop();
  io.run_for(100ms);
}

// The cluster refresh against etcd's real /v2/members and /v2/members/leader answers: one
// member, which leads; after etcd stops the refresh says why and keeps the members it knew.
TEST(EtcdSourceCluster, ReportsMembersLeaderAndFailures) {
  Etcd etcd;
  etcd.start();
  asio::io_context io;
  EtcdDiscoveryConfig config;
  config.url = {{{"127.0.0.1", etcd.port()}}, "/pxc-cluster/" + kCluster};
  config.retry_interval = 100ms;
  config.cluster_interval = 50ms;
  std::vector<DiscoveryCluster> reports;
  EtcdDiscoverySource source(
      io.get_executor(), config, [](const std::vector<BackendSpec>&) {},
      [&](const DiscoveryCluster& c) { reports.push_back(c); });
  source.start();
  ASSERT_TRUE(run_until(io, [&] { return !reports.empty() && !reports.back().leader_id.empty(); }));
  const DiscoveryCluster up = reports.back();
  EXPECT_EQ(up.error, "");
  ASSERT_EQ(up.members.size(), 1u);
  EXPECT_EQ(up.members[0].name, "m1");
  EXPECT_EQ(up.members[0].id, up.leader_id);
  EXPECT_EQ(up.members[0].client_urls,
            std::vector<std::string>{"http://127.0.0.1:" + std::to_string(etcd.port())});
  etcd.stop();
  ASSERT_TRUE(run_until(io, [&] { return !reports.back().error.empty(); }));
  EXPECT_TRUE(reports.back().error.starts_with("GET /v2/members: ")) << reports.back().error;
  EXPECT_EQ(reports.back().members, up.members);
  source.stop();
  io.run_for(100ms);
}

}  // namespace
}  // namespace sqlproxy::backends
