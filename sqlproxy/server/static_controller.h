#pragma once
// StaticController: the built-in control plane used until the Galera health monitor is wired in.
// Backends come from --backends. Each is probed every probe_interval by opening a TCP connection
// and reading the server's first packet (a HandshakeV10 means up; an ERR greeting, a refused or
// timed-out connection means down). The first reachable backend in list order becomes the writer
// and stays writer while it is reachable (no failback); every reachable backend is a reader.
// A backend turning unreachable is fenced; one turning reachable again is readmitted.
//
// With a monitor user the probe also logs in (mysql_native_password) and ends with COM_QUIT, so
// the server sees a clean session; a refused login marks the backend down with the server's
// error. Without one the probe stops after the greeting, which MariaDB counts as an aborted
// connection: off loopback, max_connect_errors of them in a row (no successful login from the
// proxy's address in between) would get the proxy's host blocked, so give a monitor user.
//
// Limits: it knows nothing of Galera state (desync, donor, non-Primary); it is a stand-in with
// the Controller duties (controller.h) so the binary works end to end.
//
// Threads: probing and decisions run on the control io_context's thread; the published View and
// StatusSnapshot are immutable and swapped atomically, so pickers and status() lock nothing but
// the atomic shared_ptr.

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/metrics.h"
#include "sqlproxy/admin/writer_history.h"
#include "sqlproxy/server/controller.h"

namespace sqlproxy::server {

struct StaticBackend {
  std::string name;  // "host:port" as given
  std::string host;
  std::uint16_t port = 0;
};

struct StaticControllerOptions {
  std::vector<StaticBackend> backends;
  std::chrono::milliseconds probe_interval{250};
  std::chrono::milliseconds probe_timeout{1000};
  int fall = 2;              // consecutive failed probes before a reachable backend counts as down
  int rise = 2;              // consecutive good probes before a down backend counts as up again
  std::string monitor_user;  // empty: probe without logging in
  std::string monitor_password;  // SECRET: never logged
};

class StaticController final : public Controller {
 public:
  StaticController(StaticControllerOptions options, common::metrics::Registry& metrics);

  void start(boost::asio::io_context& io, session::SessionRegistry& registry) override;
  void stop() override;
  session::PickResult pick_writer() const override;
  session::PickResult pick_reader() const override;
  std::shared_ptr<const admin::StatusSnapshot> status() const override;

 private:
  struct Node {
    StaticBackend backend;
    std::optional<boost::asio::ip::tcp::endpoint> endpoint;  // last resolved address
    bool probed = false;
    bool reachable = false;
    int streak = 0;  // consecutive probes disagreeing with `reachable`
    std::string reason;
    std::optional<std::chrono::microseconds> latency;
    std::uint64_t probes = 0;
    std::uint64_t failures = 0;
    common::metrics::Histogram* duration = nullptr;
  };
  struct View {
    std::optional<session::BackendEndpoint> writer;
    std::vector<session::BackendEndpoint> readers;
    std::string none_reason;
  };

  boost::asio::awaitable<void> probe_loop(std::size_t index);
  boost::asio::awaitable<common::Result<boost::asio::ip::tcp::endpoint, std::string>> probe_once(
      const StaticBackend& backend);
  // Logs in as the monitor user on a connection whose greeting was `greeting`, then quits.
  boost::asio::awaitable<common::Result<void, std::string>> probe_login(
      boost::asio::ip::tcp::socket& socket, std::string_view greeting);
  void on_probe_result(Node& node, bool ok, std::string reason);
  void decide();
  std::string none_reason() const;

  StaticControllerOptions options_;
  std::vector<Node> nodes_;
  // Set by start() before any listener runs; read by pick_reader() on worker threads.
  std::atomic<session::SessionRegistry*> registry_{nullptr};
  bool stopped_ = false;
  std::string writer_;
  std::uint64_t writer_changes_ = 0;
  admin::WriterHistory writer_history_;  // wall times from the system clock (server/ edge)
  std::string writer_reason_ = "no probe has completed yet";
  std::atomic<std::shared_ptr<const View>> view_;
  std::atomic<std::shared_ptr<const admin::StatusSnapshot>> status_;
};

}  // namespace sqlproxy::server
