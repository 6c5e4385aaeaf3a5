// Session over real loopback sockets against an in-process fake MySQL server: the ERR that
// replaces a greeting, a malformed client packet closing only its session, and draining that
// waits for a transaction to end. (The real-server suite is test/integration/sqlproxy_test.py.)

#include "sqlproxy/session/session.h"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <functional>
#include <thread>

#include "sqlproxy/protocol/codecs.h"
#include "sqlproxy/protocol/framing.h"
#include "sqlproxy/protocol/wire.h"

namespace sqlproxy::session {
namespace {

namespace asio = boost::asio;
namespace p = protocol;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

constexpr std::uint32_t kCaps =
    p::cap::kProtocol41 | p::cap::kTransactions | p::cap::kSecureConnection | p::cap::kPluginAuth;

// Blocking packet I/O for the fake server and the test client.
void write_packet(tcp::socket& s, std::string_view payload, std::uint8_t seq) {
  asio::write(s, asio::buffer(p::frame(payload, seq)));
}

// The payload of the next packet, or nullopt when the peer closed.
std::optional<std::string> read_packet(tcp::socket& s) {
  unsigned char header[4];
  boost::system::error_code ec;
  asio::read(s, asio::buffer(header), ec);
  if (ec) return std::nullopt;
  std::string payload(header[0] | (header[1] << 8) | (header[2] << 16), '\0');
  asio::read(s, asio::buffer(payload), ec);
  if (ec) return std::nullopt;
  return payload;
}

std::string ok(std::uint16_t flags) {
  p::OkPacket o;
  o.status_flags = flags;
  return p::build_ok(o, kCaps);
}

// A MySQL server on its own thread: greeting, accepts any login, then answers each COM_QUERY
// with OK whose status says "in transaction" between BEGIN and COMMIT.
class FakeServer {
 public:
  FakeServer() : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeServer() {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    thread_.join();
  }
  tcp::endpoint endpoint() const { return acceptor_.local_endpoint(); }

 private:
  void serve() {
    boost::system::error_code ec;
    tcp::socket s(io_);
    acceptor_.accept(s, ec);
    if (ec) return;
    p::HandshakeV10 h;
    h.server_version = "10.11.19-MariaDB-fake";
    h.auth_plugin_data = std::string(20, 'S') + '\0';
    h.capabilities = kCaps | p::cap::kLongPassword;
    h.auth_plugin_data_len = 21;
    h.auth_plugin_name = "mysql_native_password";
    write_packet(s, p::build_handshake_v10(h), 0);
    if (!read_packet(s)) return;
    write_packet(s, ok(p::status::kAutocommit), 2);
    std::uint16_t flags = p::status::kAutocommit;
    while (auto command = read_packet(s)) {
      const std::string_view sql = std::string_view(*command).substr(1);
      if (sql == "BIG") {
        send_big_result(s);
        continue;
      }
      if (sql == "BEGIN") flags |= p::status::kInTrans;
      if (sql == "COMMIT") flags &= ~p::status::kInTrans;
      write_packet(s, ok(flags), 1);
    }
  }

 public:
  static constexpr std::size_t kBigRows = 64;
  static constexpr std::size_t kBigRowBytes = 1 << 20;

 private:
  // One column, kBigRows rows of kBigRowBytes each: 64 MiB for a client that may not read.
  static void send_big_result(tcp::socket& s) {
    std::uint8_t seq = 1;
    write_packet(s, std::string("\x01", 1), seq++);
    write_packet(s,
                 std::string("\x03"
                             "def\x00\x00\x00\x01x",
                             10),
                 seq++);
    write_packet(s, p::build_eof(p::EofPacket{0, p::status::kAutocommit}, kCaps), seq++);
    std::string row;
    p::put_lenenc_str(row, std::string(kBigRowBytes, 'r'));
    for (std::size_t i = 0; i < kBigRows; ++i) write_packet(s, row, seq++);
    write_packet(s, p::build_eof(p::EofPacket{0, p::status::kAutocommit}, kCaps), seq++);
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
};

// Sessions run on `worker_`; the test thread plays the client with blocking sockets.
class SessionTest : public testing::Test {
 protected:
  SessionTest()
      : guard_(asio::make_work_guard(worker_)),
        metrics_(registry_metrics_),
        thread_([this] { worker_.run(); }) {}
  ~SessionTest() override {
    worker_.stop();
    thread_.join();
  }

  // Connects a client and starts a Session for it with `picker`.
  tcp::socket open(Picker picker, std::size_t sessions_max = 100) {
    auto env = std::make_shared<SessionEnv>();
    env->limits.sessions_max = sessions_max;
    env->picker = std::move(picker);
    env->role = "writable";
    env->registry = &registry_;
    env->metrics = &metrics_;
    tcp::acceptor acceptor(client_io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    tcp::socket client(client_io_);
    client.connect(acceptor.local_endpoint());
    tcp::socket accepted(worker_);
    acceptor.accept(accepted);
    Session::start(std::move(accepted), env, ++next_id_);
    return client;
  }

  void login(tcp::socket& client) {
    ASSERT_TRUE(read_packet(client));  // greeting, relayed
    p::HandshakeResponse41 r;
    r.capabilities = kCaps;
    r.user = "app";
    write_packet(client, p::build_handshake_response41(r), 1);
    ASSERT_EQ(read_packet(client), ok(p::status::kAutocommit));
  }

  // Polls (bounded) until `done` holds.
  static bool eventually(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (done()) return true;
      std::this_thread::sleep_for(5ms);
    }
    return false;
  }

  asio::io_context worker_{1};
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  asio::io_context client_io_;
  common::metrics::Registry registry_metrics_;
  SessionRegistry registry_;
  SessionMetrics metrics_;
  std::uint64_t next_id_ = 0;
  std::thread thread_;
};

TEST_F(SessionTest, NoBackendGetsAnErrInPlaceOfTheGreeting) {
  tcp::socket client = open(
      [] { return PickResult(boost::system::in_place_error, std::string("all nodes desynced")); });
  auto err = read_packet(client);
  ASSERT_TRUE(err);
  auto parsed = p::parse_err(*err, p::cap::kProtocol41);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->code, kNoBackendErrorCode);
  EXPECT_EQ(parsed->sql_state, kNoBackendSqlState);
  EXPECT_EQ(parsed->message, "sqlproxy: no writable Galera node: all nodes desynced");
  EXPECT_FALSE(read_packet(client));  // then the proxy closes
  EXPECT_EQ(metrics_.refused_no_backend.value(), 1u);
}

TEST_F(SessionTest, SessionsOverTheBoundAreRefused) {
  FakeServer server;
  tcp::socket first = open([&] { return PickResult(BackendEndpoint{"n1", server.endpoint()}); }, 1);
  login(first);
  tcp::socket second = open(
      [&] {
        return PickResult(BackendEndpoint{"n1", server.endpoint()});
      },
      1);
  auto err = read_packet(second);
  ASSERT_TRUE(err);
  auto parsed = p::parse_err(*err, p::cap::kProtocol41);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->code, 1040);
  EXPECT_EQ(parsed->message, "sqlproxy: too many client connections (1 at most)");
  EXPECT_EQ(metrics_.refused_full.value(), 1u);
}

TEST_F(SessionTest, ClientThatDoesNotReadStopsTheBackendBeingRead) {
  FakeServer server;
  tcp::socket client = open([&] { return PickResult(BackendEndpoint{"n1", server.endpoint()}); });
  login(client);
  const std::uint64_t before = metrics_.bytes_from_backend.value();
  write_packet(client,
               "\x03"
               "BIG",
               0);
  // Wait until the relay stops reading from the backend: the count holds still for a while.
  std::uint64_t last = 0;
  int still = 0;
  ASSERT_TRUE(eventually([&] {
    const std::uint64_t now = metrics_.bytes_from_backend.value();
    still = now == last && now > before ? still + 1 : 0;
    last = now;
    return still >= 20;
  }));
  // 64 MiB were offered; the relay holds one 32 KiB buffer, the rest waits in socket buffers
  // (a few MiB on loopback) and in the server.
  const std::uint64_t total = FakeServer::kBigRows * (FakeServer::kBigRowBytes + 8);
  EXPECT_LT(last - before, total / 2);
  // Reading resumes the flow, and every byte arrives.
  std::size_t rows = 0;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(read_packet(client));  // count, definition, EOF
  while (auto packet = read_packet(client)) {
    if (packet->size() == FakeServer::kBigRowBytes + 4) {
      ++rows;
      continue;
    }
    EXPECT_EQ(static_cast<std::uint8_t>((*packet)[0]), 0xFE);  // the final EOF
    break;
  }
  EXPECT_EQ(rows, FakeServer::kBigRows);
}

TEST_F(SessionTest, MalformedClientPacketClosesOnlyThatSession) {
  FakeServer server;
  tcp::socket client = open([&] { return PickResult(BackendEndpoint{"n1", server.endpoint()}); });
  login(client);
  write_packet(client, "", 0);  // an empty command packet
  EXPECT_FALSE(read_packet(client));
  EXPECT_TRUE(eventually([&] { return metrics_.malformed_from_client.value() == 1; }));
  EXPECT_TRUE(eventually([&] { return registry_.count("n1") == 0; }));
}

TEST_F(SessionTest, DrainWaitsForTheTransactionThenCloses) {
  FakeServer server;
  tcp::socket client = open([&] { return PickResult(BackendEndpoint{"n1", server.endpoint()}); });
  login(client);
  ASSERT_TRUE(eventually([&] { return registry_.count("n1") == 1; }));
  write_packet(client,
               "\x03"
               "BEGIN",
               0);
  ASSERT_EQ(read_packet(client), ok(p::status::kAutocommit | p::status::kInTrans));
  EXPECT_EQ(registry_.drain("n1", 60s), 1u);
  // Still served inside the transaction...
  write_packet(client,
               "\x03"
               "UPDATE",
               0);
  ASSERT_EQ(read_packet(client), ok(p::status::kAutocommit | p::status::kInTrans));
  // ...and closed right after the answer that ends it.
  write_packet(client,
               "\x03"
               "COMMIT",
               0);
  ASSERT_EQ(read_packet(client), ok(p::status::kAutocommit));
  EXPECT_FALSE(read_packet(client));
  EXPECT_EQ(metrics_.closed_drain.value(), 1u);
}

TEST_F(SessionTest, FenceClosesAtOnce) {
  FakeServer server;
  tcp::socket client = open([&] { return PickResult(BackendEndpoint{"n1", server.endpoint()}); });
  login(client);
  ASSERT_TRUE(eventually([&] { return registry_.count("n1") == 1; }));
  write_packet(client,
               "\x03"
               "BEGIN",
               0);
  ASSERT_TRUE(read_packet(client));
  EXPECT_EQ(registry_.fence("n1"), 1u);
  EXPECT_FALSE(read_packet(client));
  EXPECT_EQ(metrics_.closed_fence.value(), 1u);
}

}  // namespace
}  // namespace sqlproxy::session
