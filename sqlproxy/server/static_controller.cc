#include "sqlproxy/server/static_controller.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <variant>

#include "sqlproxy/protocol/codecs.h"
#include "sqlproxy/protocol/framing.h"
#include "sqlproxy/protocol/responses.h"

namespace sqlproxy::server {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;  // NOLINT(google-build-using-namespace)

namespace {
constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kProbePacketBytesMax = std::size_t{64} * 1024;

struct ProbePacket {
  std::uint8_t sequence_id = 0;
  std::string payload;
};

// One whole packet of at most kProbePacketBytesMax bytes (a probe reads greetings and login
// replies only).
asio::awaitable<common::Result<ProbePacket, std::string>> read_packet(tcp::socket& socket) {
  unsigned char header[4];
  auto [hec, hn] = co_await asio::async_read(socket, asio::buffer(header), kAwait);
  if (hec) co_return hec.message();
  const std::size_t length =
      std::size_t{header[0]} | (std::size_t{header[1]} << 8) | (std::size_t{header[2]} << 16);
  if (length == 0 || length > kProbePacketBytesMax) co_return "packet of odd length";
  ProbePacket packet{header[3], std::string(length, '\0')};
  auto [pec, pn] = co_await asio::async_read(socket, asio::buffer(packet.payload), kAwait);
  if (pec) co_return pec.message();
  co_return packet;
}

asio::awaitable<bool> write_packet(tcp::socket& socket, std::string_view payload,
                                   std::uint8_t sequence_id) {
  const std::string bytes = protocol::frame(payload, sequence_id);
  auto [ec, n] = co_await asio::async_write(socket, asio::buffer(bytes), kAwait);
  co_return !ec;
}
}  // namespace

StaticController::StaticController(StaticControllerOptions options,
                                   common::metrics::Registry& metrics)
    : options_(std::move(options)) {
  for (const StaticBackend& b : options_.backends) {
    Node node;
    node.backend = b;
    node.reason = "not probed yet";
    node.duration = &metrics.histogram(
        "sqlproxy_probe_duration_seconds", "Time of one backend probe (connect and greeting).",
        common::metrics::exponential_buckets(0.0001, 2, 16), {{"backend", b.name}});
    nodes_.push_back(std::move(node));
  }
  decide();
}

void StaticController::start(asio::io_context& io, session::SessionRegistry& registry) {
  registry_ = &registry;
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    asio::co_spawn(io, probe_loop(i), asio::detached);
  }
}

void StaticController::stop() { stopped_ = true; }

asio::awaitable<void> StaticController::probe_loop(std::size_t index) {
  asio::steady_timer interval(co_await asio::this_coro::executor);
  while (!stopped_) {
    const auto started = std::chrono::steady_clock::now();
    asio::steady_timer timeout(co_await asio::this_coro::executor);
    timeout.expires_after(options_.probe_timeout);
    auto result = co_await (probe_once(nodes_[index].backend) || timeout.async_wait(kAwait));
    if (stopped_) co_return;
    Node& node = nodes_[index];
    const auto took = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - started);
    ++node.probes;
    node.duration->observe(static_cast<double>(took.count()) / 1e6);
    if (result.index() == 1) {
      on_probe_result(node, false, "probe timed out");
    } else if (auto& probed = std::get<0>(result); !probed) {
      on_probe_result(node, false, probed.error());
    } else {
      node.endpoint = *probed;
      node.latency = took;
      on_probe_result(node, true,
                      options_.monitor_user.empty() ? "greeting received" : "monitor login ok");
    }
    interval.expires_at(started + options_.probe_interval);
    co_await interval.async_wait(kAwait);
  }
}

asio::awaitable<common::Result<tcp::endpoint, std::string>> StaticController::probe_once(
    const StaticBackend& backend) {
  const auto executor = co_await asio::this_coro::executor;
  tcp::resolver resolver(executor);
  auto [rec, endpoints] =
      co_await resolver.async_resolve(backend.host, std::to_string(backend.port), kAwait);
  if (rec) co_return "resolve " + backend.host + ": " + rec.message();
  tcp::socket socket(executor);
  auto [cec, endpoint] = co_await asio::async_connect(socket, endpoints, kAwait);
  if (cec) co_return "connect: " + cec.message();
  auto greeting = co_await read_packet(socket);
  if (!greeting) co_return "reading greeting: " + greeting.error();
  if (auto err = protocol::parse_err(greeting->payload, protocol::cap::kProtocol41)) {
    // e.g. 1040 Too many connections, 1129 Host is blocked.
    co_return fmt::format("server refused: {} {}", err->code, err->message);
  }
  if (static_cast<std::uint8_t>(greeting->payload[0]) != 10) co_return "not a MySQL greeting";
  if (!options_.monitor_user.empty()) {
    auto login = co_await probe_login(socket, greeting->payload);
    if (!login) co_return login.error();
  }
  co_return endpoint;
}

asio::awaitable<common::Result<void, std::string>> StaticController::probe_login(
    tcp::socket& socket, std::string_view greeting_payload) {
  namespace p = protocol;
  auto greeting = p::parse_handshake_v10(greeting_payload);
  if (!greeting) co_return "unreadable greeting";
  // The nonce is the plugin data without its trailing NUL.
  const std::string nonce = greeting->auth_plugin_data.substr(0, 20);
  p::HandshakeResponse41 response;
  response.capabilities = p::cap::kProtocol41 | p::cap::kSecureConnection | p::cap::kPluginAuth |
                          p::cap::kLongPassword | p::cap::kTransactions;
  response.max_packet_size = 1u << 24;
  response.character_set = 33;  // utf8_general_ci
  response.user = options_.monitor_user;
  response.auth_plugin = "mysql_native_password";
  response.auth_response = p::native_password_scramble(options_.monitor_password, nonce);
  if (!co_await write_packet(socket, p::build_handshake_response41(response), 1)) {
    co_return "sending login: connection lost";
  }
  for (int round = 0; round < 2; ++round) {
    auto reply = co_await read_packet(socket);
    if (!reply) co_return "reading login reply: " + reply.error();
    const auto kind = p::classify_auth_reply(reply->payload);
    if (kind && *kind == p::AuthReply::Ok) {
      (void)co_await write_packet(socket, "\x01", 0);  // COM_QUIT: a clean end for the server
      co_return common::Result<void, std::string>{};
    }
    if (auto err = p::parse_err(reply->payload, p::cap::kProtocol41)) {
      co_return fmt::format("monitor login refused: {} {}", err->code, err->message);
    }
    auto sw = p::parse_auth_switch_request(reply->payload);
    if (!sw || sw->plugin != "mysql_native_password") {
      co_return "monitor login: unsupported authentication (mysql_native_password only)";
    }
    const std::string answer =
        p::native_password_scramble(options_.monitor_password, sw->data.substr(0, 20));
    if (!co_await write_packet(socket, answer, static_cast<std::uint8_t>(reply->sequence_id + 1))) {
      co_return "sending login: connection lost";
    }
  }
  co_return "monitor login: too many authentication rounds";
}

void StaticController::on_probe_result(Node& node, bool ok, std::string reason) {
  if (!ok) ++node.failures;
  node.reason = std::move(reason);
  if (!node.probed) {
    node.probed = true;
    node.reachable = ok;
    node.streak = 0;
  } else if (ok == node.reachable) {
    node.streak = 0;
  } else if (++node.streak >= (ok ? options_.rise : options_.fall)) {
    node.reachable = ok;
    node.streak = 0;
    spdlog::info("backend {} is now {}: {}", node.backend.name, ok ? "reachable" : "unreachable",
                 node.reason);
    if (session::SessionRegistry* registry = registry_.load(); registry != nullptr) {
      if (ok) {
        registry->readmit(node.backend.name);
      } else {
        const std::size_t fenced = registry->fence(node.backend.name);
        if (fenced > 0) spdlog::info("fenced {} sessions on {}", fenced, node.backend.name);
      }
    }
  }
  decide();
}

std::string StaticController::none_reason() const {
  std::string out = "no backend reachable (";
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    out += fmt::format("{}{}: {}", i ? "; " : "", nodes_[i].backend.name, nodes_[i].reason);
  }
  return out + ")";
}

void StaticController::decide() {
  auto current = std::find_if(nodes_.begin(), nodes_.end(), [&](const Node& n) {
    return n.backend.name == writer_ && n.reachable && n.endpoint;
  });
  if (current == nodes_.end()) {
    // Sticky: only a writer that went away is replaced, by the first reachable in list order.
    auto next = std::find_if(nodes_.begin(), nodes_.end(),
                             [](const Node& n) { return n.reachable && n.endpoint; });
    const std::string chosen = next == nodes_.end() ? "" : next->backend.name;
    if (chosen != writer_) {
      const std::string why =
          writer_.empty() ? "first reachable backend" : "writer " + writer_ + " unreachable";
      writer_reason_ = chosen.empty() ? none_reason() : why;
      if (!chosen.empty() || !writer_.empty()) ++writer_changes_;
      spdlog::warn("writer changes from {} to {}: {}", writer_.empty() ? "none" : writer_,
                   chosen.empty() ? "none" : chosen, writer_reason_);
      writer_history_.record({std::chrono::system_clock::now(), writer_, chosen, writer_reason_});
      writer_ = chosen;
    } else if (chosen.empty()) {
      writer_reason_ =
          nodes_.empty() || !nodes_.front().probed ? "no probe has completed yet" : none_reason();
    }
  }
  auto view = std::make_shared<View>();
  auto snapshot = std::make_shared<admin::StatusSnapshot>();
  snapshot->writer = writer_;
  snapshot->writer_reason = writer_reason_;
  snapshot->writer_changes = writer_changes_;
  snapshot->writer_history = writer_history_.entries();
  snapshot->backend_source = "static";
  for (const Node& n : nodes_) {
    const bool usable = n.reachable && n.endpoint;
    if (usable) {
      session::BackendEndpoint e{n.backend.name, *n.endpoint};
      if (n.backend.name == writer_) view->writer = e;
      view->readers.push_back(std::move(e));
    }
    admin::BackendStatus s;
    s.name = n.backend.name;
    s.address = n.backend.host + ":" + std::to_string(n.backend.port);
    s.state = !n.probed ? admin::BackendState::Unknown
              : usable  ? admin::BackendState::Writable
                        : admin::BackendState::Offline;
    s.reason = n.reason;
    s.writer = n.backend.name == writer_;
    s.last_probe_latency = n.latency;
    s.probes_total = n.probes;
    s.probe_failures_total = n.failures;
    snapshot->backends.push_back(std::move(s));
  }
  view->none_reason = writer_reason_;
  view_.store(std::move(view));
  status_.store(std::move(snapshot));
}

session::PickResult StaticController::pick_writer() const {
  const auto view = view_.load();
  if (view->writer) return *view->writer;
  return session::PickResult(boost::system::in_place_error, view->none_reason);
}

session::PickResult StaticController::pick_reader() const {
  const auto view = view_.load();
  if (view->readers.empty()) {
    return session::PickResult(boost::system::in_place_error, view->none_reason);
  }
  const session::BackendEndpoint* best = &view->readers.front();
  if (session::SessionRegistry* registry = registry_.load(); registry != nullptr) {
    std::size_t best_count = registry->count(best->name);
    for (const auto& r : view->readers) {
      const std::size_t c = registry->count(r.name);
      if (c < best_count) {
        best = &r;
        best_count = c;
      }
    }
  }
  return *best;
}

std::shared_ptr<const admin::StatusSnapshot> StaticController::status() const {
  return status_.load();
}

}  // namespace sqlproxy::server
