#include "sqlproxy/session/session.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <exception>
#include <variant>

#include "sqlproxy/protocol/codecs.h"
#include "sqlproxy/protocol/framing.h"

namespace sqlproxy::session {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;  // NOLINT(google-build-using-namespace)

namespace {
constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
// The client gets this long to take the ERR packet that replaces a greeting.
constexpr std::chrono::seconds kRefuseWriteTimeout{5};
}  // namespace

SessionMetrics::SessionMetrics(common::metrics::Registry& r)
    : active(r.gauge("sqlproxy_sessions_active", "Client sessions relayed to a backend now.")),
      accepted(r.counter("sqlproxy_sessions_accepted_total", "Client connections accepted.")),
      refused_no_backend(r.counter("sqlproxy_sessions_refused_total",
                                   "Client connections answered with an ERR packet, by cause.",
                                   {{"reason", "no_backend"}})),
      refused_connect(r.counter("sqlproxy_sessions_refused_total",
                                "Client connections answered with an ERR packet, by cause.",
                                {{"reason", "backend_unreachable"}})),
      refused_fenced(r.counter("sqlproxy_sessions_refused_total",
                               "Client connections answered with an ERR packet, by cause.",
                               {{"reason", "backend_fenced"}})),
      refused_full(r.counter("sqlproxy_sessions_refused_total",
                             "Client connections answered with an ERR packet, by cause.",
                             {{"reason", "too_many_sessions"}})),
      bytes_from_client(r.counter("sqlproxy_bytes_total", "Bytes relayed, by direction.",
                                  {{"direction", "client_to_backend"}})),
      bytes_from_backend(r.counter("sqlproxy_bytes_total", "Bytes relayed, by direction.",
                                   {{"direction", "backend_to_client"}})),
      malformed_from_client(r.counter("sqlproxy_malformed_packets_total",
                                      "Sessions closed for a malformed or out-of-turn packet.",
                                      {{"from", "client"}})),
      malformed_from_backend(r.counter("sqlproxy_malformed_packets_total",
                                       "Sessions closed for a malformed or out-of-turn packet.",
                                       {{"from", "backend"}})),
      closed_fence(r.counter("sqlproxy_sessions_closed_total",
                             "Sessions the proxy closed on the control plane's order, by cause.",
                             {{"reason", "fence"}})),
      closed_drain(r.counter("sqlproxy_sessions_closed_total",
                             "Sessions the proxy closed on the control plane's order, by cause.",
                             {{"reason", "drain_idle"}})),
      closed_drain_grace(r.counter("sqlproxy_sessions_closed_total",
                                   "Sessions the proxy closed on the control plane's order, by "
                                   "cause.",
                                   {{"reason", "drain_grace"}})),
      write_timeouts(r.counter("sqlproxy_write_timeouts_total",
                               "Sessions closed because a peer did not read in time.")) {}

void Session::start(tcp::socket client, std::shared_ptr<const SessionEnv> env, std::uint64_t id) {
  auto session = std::make_shared<Session>(std::move(client), std::move(env), id);
  const auto executor = session->client_.get_executor();
  // The lambda owns the session for as long as the coroutine runs.
  asio::co_spawn(
      executor, [session]() { return session->run(); },
      [id](const std::exception_ptr& e) {
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          spdlog::error("session {}: ended by exception: {}", id, ex.what());
        }
      });
}

Session::Session(tcp::socket client, std::shared_ptr<const SessionEnv> env, std::uint64_t id)
    : client_(std::move(client)),
      backend_(client_.get_executor()),
      drain_timer_(client_.get_executor()),
      env_(std::move(env)),
      id_(id),
      client_scanner_(256, env_->limits.packet_bytes_max),
      backend_scanner_(256, env_->limits.packet_bytes_max) {
  env_->metrics->live.fetch_add(1, std::memory_order_relaxed);
}

Session::~Session() { env_->metrics->live.fetch_sub(1, std::memory_order_relaxed); }

asio::awaitable<void> Session::run() {
  SessionMetrics& metrics = *env_->metrics;
  metrics.accepted.inc();
  if (const std::size_t live = metrics.live.load(std::memory_order_relaxed);
      live > env_->limits.sessions_max) {
    metrics.refused_full.inc();
    co_await refuse(fmt::format("sqlproxy: too many client connections ({} at most)",
                                env_->limits.sessions_max));
    co_return;
  }
  auto pick = env_->picker();
  if (!pick) {
    metrics.refused_no_backend.inc();
    co_await refuse(fmt::format("sqlproxy: no {} Galera node: {}", env_->role, pick.error()));
    co_return;
  }
  const auto connected = co_await connect_any(*pick);
  if (!connected) co_return;
  backend_name_ = connected->name;
  const auto registration = env_->registry->register_session(backend_name_, shared_from_this());
  if (registration.admission == SessionRegistry::Admission::Refuse) {
    metrics.refused_fenced.inc();
    boost::system::error_code ignored;
    backend_.close(ignored);
    co_await refuse(fmt::format("sqlproxy: {} node {} was just fenced; connect again", env_->role,
                                backend_name_));
    co_return;
  }
  metrics.active.inc();
  if (registration.admission == SessionRegistry::Admission::AdmitDraining) {
    begin_drain(registration.drain_deadline);
  }
  co_await (pump(From::Backend) && pump(From::Client));
  env_->registry->unregister_session(backend_name_, this);
  metrics.active.dec();
}

asio::awaitable<std::optional<BackendEndpoint>> Session::connect_any(BackendEndpoint backend) {
  const auto give_up = std::chrono::steady_clock::now() + env_->limits.repick_wait;
  asio::steady_timer timer(client_.get_executor());
  for (;;) {
    const boost::system::error_code ec = co_await connect(backend);
    if (!ec) co_return backend;
    env_->metrics->refused_connect.inc();
    const std::string address =
        backend.endpoint.address().to_string() + ":" + std::to_string(backend.endpoint.port());
    spdlog::warn("session {}: cannot connect to {} node {} ({}): {}", id_, env_->role, backend.name,
                 address, ec.message());
    boost::system::error_code ignored;
    backend_.close(ignored);
    // A refused or silent node is most likely dead and the probes will say so within a few
    // intervals: the client waits for the next choice (a stall) rather than getting an error.
    std::optional<BackendEndpoint> next;
    while (!next && std::chrono::steady_clock::now() < give_up) {
      timer.expires_after(std::chrono::milliseconds(50));
      co_await timer.async_wait(kAwait);
      if (auto pick = env_->picker(); pick && pick->name != backend.name) next = *pick;
    }
    if (!next) {
      co_await refuse(fmt::format("sqlproxy: cannot reach {} Galera node {} ({}): {}", env_->role,
                                  backend.name, address, ec.message()));
      co_return std::nullopt;
    }
    backend = std::move(*next);
  }
}

asio::awaitable<boost::system::error_code> Session::connect(const BackendEndpoint& backend) {
  // Non-blocking before the first asynchronous operation: Asio then skips the FIONBIO it would
  // issue itself, one system call per socket fewer (write_all's direct write needs the mode).
  boost::system::error_code ec;
  client_.non_blocking(true, ec);
  if (!ec) backend_.open(backend.endpoint.protocol(), ec);
  if (!ec) backend_.non_blocking(true, ec);
  if (ec) co_return ec;
  asio::steady_timer timer(client_.get_executor());
  timer.expires_after(env_->limits.connect_timeout);
  auto result =
      co_await (backend_.async_connect(backend.endpoint, kAwait) || timer.async_wait(kAwait));
  ec = asio::error::timed_out;
  if (result.index() == 0) ec = std::get<0>(std::get<0>(result));
  if (!ec) {
    backend_.set_option(tcp::no_delay(true), ec);
    client_.set_option(tcp::no_delay(true), ec);
    co_return boost::system::error_code{};
  }
  co_return ec;
}

asio::awaitable<void> Session::refuse(std::string message) {
  // In place of the greeting: sequence id 0, as a server that refuses a connection sends it.
  const std::string bytes = protocol::frame(
      protocol::build_proxy_err(kNoBackendErrorCode, kNoBackendSqlState, message), 0);
  asio::steady_timer timer(client_.get_executor());
  timer.expires_after(kRefuseWriteTimeout);
  co_await (asio::async_write(client_, asio::buffer(bytes), kAwait) || timer.async_wait(kAwait));
  boost::system::error_code ignored;
  client_.shutdown(tcp::socket::shutdown_both, ignored);
  client_.close(ignored);
  closed_ = true;
}

bool Session::observe(From from, std::string_view chunk) {
  protocol::FrameScanner& scanner = from == From::Client ? client_scanner_ : backend_scanner_;
  scanner.feed(chunk);
  while (!state_.opaque()) {
    auto head = scanner.next();
    std::string problem;
    if (!head) {
      problem = fmt::format("bad framing ({})", protocol::error_name(head.error()));
    } else if (!*head) {
      return true;
    } else if (auto step = from == From::Client ? state_.on_client_packet(**head)
                                                : state_.on_server_packet(**head);
               !step) {
      problem = step.error();
    } else {
      continue;
    }
    const bool client = from == From::Client;
    (client ? env_->metrics->malformed_from_client : env_->metrics->malformed_from_backend).inc();
    spdlog::warn("session {} (backend {}): malformed packet from the {} in phase {}: {}; closing",
                 id_, backend_name_, client ? "client" : "backend", phase_name(state_.phase()),
                 problem);
    close("malformed packet");
    return false;
  }
  return true;
}

asio::awaitable<void> Session::pump(From from) {
  tcp::socket& in = from == From::Client ? client_ : backend_;
  tcp::socket& out = from == From::Client ? backend_ : client_;
  common::metrics::Counter& bytes =
      from == From::Client ? env_->metrics->bytes_from_client : env_->metrics->bytes_from_backend;
  const std::size_t size = env_->limits.buffer_bytes;
  const std::unique_ptr<char[]> buffer(new char[size]);
  while (!closed_) {
    auto [ec, n] = co_await in.async_read_some(asio::buffer(buffer.get(), size), kAwait);
    if (ec || closed_) break;
    bytes.inc(n);
    const std::string_view chunk(buffer.get(), n);
    if (!state_.opaque() && !observe(from, chunk)) break;
    ++writes_in_flight_;
    const boost::system::error_code write_ec = co_await write_all(out, chunk);
    --writes_in_flight_;
    if (write_ec) break;
    if (draining_) close_if_drained();
  }
  close(from == From::Client ? "client side ended" : "backend side ended");
}

asio::awaitable<boost::system::error_code> Session::write_all(tcp::socket& to,
                                                              std::string_view data) {
  // Most writes fit in the socket buffer at once; only a peer that is not reading takes the
  // slow path, which carries the write deadline.
  boost::system::error_code ec;
  const std::size_t done = to.write_some(asio::buffer(data.data(), data.size()), ec);
  if (!ec && done == data.size()) co_return ec;
  if (ec && ec != asio::error::would_block && ec != asio::error::try_again) co_return ec;
  const std::string_view rest = data.substr(ec ? 0 : done);
  asio::steady_timer timer(to.get_executor());
  timer.expires_after(env_->limits.write_timeout);
  auto result = co_await (asio::async_write(to, asio::buffer(rest.data(), rest.size()), kAwait) ||
                          timer.async_wait(kAwait));
  if (result.index() == 1) {
    env_->metrics->write_timeouts.inc();
    spdlog::warn("session {} (backend {}): peer did not read for {} ms; closing", id_,
                 backend_name_, env_->limits.write_timeout.count());
    co_return asio::error::timed_out;
  }
  co_return std::get<0>(std::get<0>(result));
}

void Session::fence() {
  asio::post(client_.get_executor(), [self = shared_from_this()] {
    if (self->closed_) return;
    self->env_->metrics->closed_fence.inc();
    self->close("fenced");
  });
}

void Session::drain(std::chrono::steady_clock::time_point deadline) {
  asio::post(client_.get_executor(),
             [self = shared_from_this(), deadline] { self->begin_drain(deadline); });
}

void Session::begin_drain(std::chrono::steady_clock::time_point deadline) {
  if (closed_) return;
  if (draining_ && drain_timer_.expiry() <= deadline) {
    close_if_drained();
    return;
  }
  draining_ = true;
  drain_timer_.expires_at(deadline);
  drain_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (ec || self->closed_) return;
    self->env_->metrics->closed_drain_grace.inc();
    spdlog::info("session {} (backend {}): drain grace period over; closing (in transaction: {})",
                 self->id_, self->backend_name_, self->state_.in_transaction());
    self->close("drain grace period over");
  });
  close_if_drained();
}

void Session::close_if_drained() {
  if (!draining_ || closed_ || writes_in_flight_ > 0 || !state_.can_close_now()) return;
  env_->metrics->closed_drain.inc();
  close("drained while idle");
}

void Session::close(std::string_view why) {
  if (closed_) return;
  closed_ = true;
  spdlog::debug("session {} (backend {}): closing: {}", id_, backend_name_, why);
  // close() alone sends the FIN (or the RST when unread bytes remain) exactly as a shutdown
  // first would: no descriptor is shared, so the shutdown calls were two system calls per
  // session for nothing.
  boost::system::error_code ignored;
  client_.close(ignored);
  backend_.close(ignored);
  drain_timer_.cancel();
}

}  // namespace sqlproxy::session
