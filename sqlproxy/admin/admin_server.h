#pragma once
// The admin HTTP server: GET /health (the process serves), GET /ready (200 only while a writer
// is chosen, for Kubernetes readiness), GET /status (JSON), GET /metrics (Prometheus text),
// and operator actions POST /fence?backend=N, POST /drain?backend=N[&grace=10s],
// POST /readmit?backend=N, which act through the SessionRegistry.
//
// handle_admin_request() is the pure part (request line in, answer out); AdminServer is the
// Beast/Asio edge: one coroutine per connection with a deadline on every read and write and a
// bound on request size. Ownership: main() owns the AdminServer; the AdminDeps it points to
// outlive it. Threads: runs on the control io_context's thread; the deps are thread-safe.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/metrics.h"
#include "common/result.h"
#include "sqlproxy/admin/status.h"
#include "sqlproxy/session/session_registry.h"

namespace sqlproxy::admin {

struct AdminDeps {
  const StatusSource* status = nullptr;
  session::SessionRegistry* registry = nullptr;
  const common::metrics::Registry* metrics = nullptr;
  std::chrono::milliseconds drain_grace{10000};  // default for POST /drain without grace=
  const common::Clock* clock = nullptr;          // the status page's "now"; required
};

struct AdminAnswer {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers = {};  // beyond Content-Type
};

// `target` is the request target with its query string ("/drain?backend=n1&grace=5s").
AdminAnswer handle_admin_request(std::string_view method, std::string_view target,
                                 const AdminDeps& deps);

class AdminServer {
 public:
  // Binds and listens; the error names the address.
  static common::Result<std::unique_ptr<AdminServer>, std::string> open(
      boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& endpoint, AdminDeps deps);
  void start();
  void stop();
  boost::asio::ip::tcp::endpoint local_endpoint() const;

 private:
  AdminServer(boost::asio::ip::tcp::acceptor acceptor, AdminDeps deps);
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> serve(boost::beast::tcp_stream stream);

  boost::asio::ip::tcp::acceptor acceptor_;
  AdminDeps deps_;
};

}  // namespace sqlproxy::admin
