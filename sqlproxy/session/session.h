#pragma once
// Session: one client connection relayed to one backend. It asks its Picker for a backend
// (sending the client a MySQL ERR packet in place of the greeting when there is none or it cannot
// be reached), connects, registers with the SessionRegistry, then runs two pumps: client->backend
// and backend->client. Each pump reads into its own fixed buffer, scans the packet heads
// (FrameScanner) into the shared RelayState, and writes the bytes on unchanged before reading
// again, so a side whose peer does not read stops being read (backpressure with a bounded buffer
// per direction). The relay never rewrites a byte: authentication, TLS after an SSLRequest, and
// compression pass through, and the database authenticates the client itself.
//
// Closing: either side's EOF or error, a malformed packet (logged once, counted), a write stalled
// past write_timeout, fence() (at once), or drain() (when RelayState says idle outside a
// transaction and no write is in flight, or at the deadline).
//
// Ownership and threads: Session::start() creates a shared_ptr owned by its own coroutines; the
// registry holds a weak one. Every member is used only on the thread running the session's
// io_context (one thread per io_context, so no strand is needed); fence() and drain() may be
// called from any thread and post to it. SessionEnv is shared and immutable.

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "common/metrics.h"
#include "sqlproxy/protocol/frame_scanner.h"
#include "sqlproxy/session/picker.h"
#include "sqlproxy/session/relay_state.h"
#include "sqlproxy/session/session_registry.h"

namespace sqlproxy::session {

struct SessionLimits {
  std::chrono::milliseconds connect_timeout{3000};
  // When the picked node cannot be reached (dead before the probes have said so), how long the
  // session waits for the picker to name another node before refusing the client.
  std::chrono::milliseconds repick_wait{2000};
  // A write the peer does not take within this closes the session.
  std::chrono::milliseconds write_timeout{60000};
  std::size_t buffer_bytes = 32 * 1024;  // per direction
  // Bound of one logical packet: MariaDB's largest max_allowed_packet (1 GiB) and some slack.
  std::size_t packet_bytes_max = (std::size_t{1} << 30) + 4096;
  // Client connections held at once (each also holds a backend connection); more are refused
  // with ERR 1040 rather than failing later for want of descriptors.
  std::size_t sessions_max = 10000;
};

// The process-wide counters every session updates (references into a metrics Registry).
struct SessionMetrics {
  explicit SessionMetrics(common::metrics::Registry& registry);
  common::metrics::Gauge& active;
  common::metrics::Counter& accepted;
  common::metrics::Counter& refused_no_backend;
  common::metrics::Counter& refused_connect;
  common::metrics::Counter& refused_fenced;
  common::metrics::Counter& refused_full;
  // Sessions alive (from accept to close, connecting ones included), checked against
  // SessionLimits::sessions_max.
  std::atomic<std::size_t> live{0};
  common::metrics::Counter& bytes_from_client;
  common::metrics::Counter& bytes_from_backend;
  common::metrics::Counter& malformed_from_client;
  common::metrics::Counter& malformed_from_backend;
  common::metrics::Counter& closed_fence;
  common::metrics::Counter& closed_drain;
  common::metrics::Counter& closed_drain_grace;
  common::metrics::Counter& write_timeouts;
};

// What every session of one listener shares. Immutable after construction.
struct SessionEnv {
  Picker picker;
  std::string role;  // "writable" or "readable": names the missing node in the ERR text
  SessionRegistry* registry = nullptr;
  SessionMetrics* metrics = nullptr;
  SessionLimits limits;
};

// The ERR the proxy sends in place of a greeting: 1040 with SQLSTATE 08004 ("server rejected
// the connection"), what a server refusing a connection before its greeting sends, so clients
// treat it as a transient connection failure; the message names the cause. Not a 2xxx code:
// those are client-side codes, and libmariadb 3.3 rejects an ERR carrying one as a malformed
// packet (observed with the Debian 12 `mariadb` client). Never 1045 (access denied), which would
// send people to check passwords.
inline constexpr std::uint16_t kNoBackendErrorCode = 1040;
inline constexpr std::string_view kNoBackendSqlState = "08004";

class Session final : public SessionControl, public std::enable_shared_from_this<Session> {
 public:
  // Takes the accepted client socket (bound to the io_context the session will run on).
  static void start(boost::asio::ip::tcp::socket client, std::shared_ptr<const SessionEnv> env,
                    std::uint64_t id);

  void fence() override;
  void drain(std::chrono::steady_clock::time_point deadline) override;

  Session(boost::asio::ip::tcp::socket client, std::shared_ptr<const SessionEnv> env,
          std::uint64_t id);
  ~Session() override;

 private:
  enum class From { Client, Backend };

  boost::asio::awaitable<void> run();
  // Connects to `backend`, or, when it cannot be reached, to the next node the picker names
  // within limits.repick_wait; refuses the client and returns nullopt when none is reached.
  boost::asio::awaitable<std::optional<BackendEndpoint>> connect_any(BackendEndpoint backend);
  boost::asio::awaitable<boost::system::error_code> connect(const BackendEndpoint& backend);
  boost::asio::awaitable<void> refuse(std::string message);
  boost::asio::awaitable<void> pump(From from);
  // Feeds a chunk's packet heads to the state machine; false after a protocol error.
  bool observe(From from, std::string_view chunk);
  boost::asio::awaitable<boost::system::error_code> write_all(boost::asio::ip::tcp::socket& to,
                                                              std::string_view data);
  void begin_drain(std::chrono::steady_clock::time_point deadline);
  void close_if_drained();
  void close(std::string_view why);

  boost::asio::ip::tcp::socket client_;
  boost::asio::ip::tcp::socket backend_;
  boost::asio::steady_timer drain_timer_;
  std::shared_ptr<const SessionEnv> env_;
  std::uint64_t id_;
  std::string backend_name_;
  RelayState state_;
  protocol::FrameScanner client_scanner_;
  protocol::FrameScanner backend_scanner_;
  int writes_in_flight_ = 0;
  bool draining_ = false;
  bool closed_ = false;
};

}  // namespace sqlproxy::session
