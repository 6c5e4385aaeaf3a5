// discovery: an etcd v2 compatible member. main() only turns flags into a Config, builds the
// member and its listeners, and runs the io loop until SIGINT or SIGTERM.

#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "discovery/server/api_handler.h"
#include "discovery/server/bootstrap.h"
#include "discovery/server/config.h"
#include "discovery/server/http_listener.h"
#include "discovery/server/member.h"
#include "discovery/server/member_id.h"
#include "discovery/server/peer_stats.h"
#include "discovery/server/peer_transport.h"
#include "discovery/server/rocksdb_storage.h"
#include "discovery/server/server_metrics.h"

extern char** environ;

namespace discovery::server {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// Resolves a listen URL's host ("localhost", an address, or a name) to the endpoints to bind.
common::Result<std::vector<tcp::endpoint>, std::string> endpoints_of(asio::io_context& io,
                                                                     const Url& url) {
  if (url.scheme != "http") {
    return "listen URL " + url.text + ": only http is served (TLS is not supported yet)";
  }
  boost::system::error_code ec;
  tcp::resolver resolver(io);
  const std::string host = url.host.empty() ? "0.0.0.0" : url.host;
  const auto results = resolver.resolve(host, url.port, tcp::resolver::passive, ec);
  if (ec) return "listen URL " + url.text + ": " + ec.message();
  std::vector<tcp::endpoint> endpoints;
  for (const auto& entry : results) endpoints.push_back(entry.endpoint());
  // "localhost" resolves to 127.0.0.1 and ::1; etcd binds the first, and so do we.
  if (!endpoints.empty()) endpoints.resize(1);
  return endpoints;
}

common::Result<std::unique_ptr<Member>, std::string> open_member(asio::io_context& io,
                                                                 const Config& config,
                                                                 const common::Clock& clock) {
  const std::filesystem::path keys_dir = std::filesystem::path(config.data_dir) / "member" / "keys";
  const bool existing = std::filesystem::exists(keys_dir);
  if (!existing) {
    if (auto verified = verify_bootstrap(config); !verified) return verified.error();
  }
  auto storage = RocksdbStorage::open(keys_dir);
  if (!storage) return storage.error();
  MemberSetup setup = member_setup(config, !existing);
  setup.snapshot_dir = std::filesystem::path(config.data_dir) / "member" / "snap";
  setup.snapshot.count = config.snapshot_count;
  return std::make_unique<Member>(io, std::move(*storage), clock, std::move(setup));
}

// The peer transport of a multi-member cluster: listens on --listen-peer-urls and dials every
// other initial member at its first peer URL. A lone member needs none (and binds no peer port,
// as several lone members may share a machine with etcd's default peer URL).
common::Result<std::unique_ptr<PeerTransport>, std::string> open_transport(
    asio::io_context& io, const Config& config, Member& member, common::metrics::Registry& metrics,
    PeerStats& peer_stats) {
  if (config.initial_cluster.size() <= 1) return std::unique_ptr<PeerTransport>();
  PeerTransportConfig transport;
  transport.self_id = config.member_id();
  transport.cluster_id = config.cluster_id();
  transport.snapshot_dir = std::filesystem::path(config.data_dir) / "member" / "snap-staging";
  transport.seed = config.member_id();
  for (const Url& url : config.listen_peer_urls) {
    auto endpoints = endpoints_of(io, url);
    if (!endpoints) return endpoints.error();
    transport.listen.insert(transport.listen.end(), endpoints->begin(), endpoints->end());
  }
  PeerTransportHandlers handlers{
      .on_message =
          [&member, &peer_stats](const raft::pb::Message& message) {
            peer_stats.on_receive(message);
            member.step(message);
          },
      .on_unreachable =
          [&member, &peer_stats](std::uint64_t peer) {
            peer_stats.on_unreachable(peer);
            member.report_unreachable(peer);
          },
      .on_snapshot =
          [&member](const raft::pb::Message& message, const std::filesystem::path& staged) {
            member.receive_snapshot(message, staged);
          },
      .on_snapshot_sent = [&member](std::uint64_t peer,
                                    bool ok) { member.snapshot_sent(peer, ok); },
  };
  auto made = std::make_unique<PeerTransport>(io, std::move(transport), std::move(handlers),
                                              io.get_executor(), metrics);
  if (auto started = made->start(); !started) return started.error();
  for (const InitialMember& peer : config.initial_cluster) {
    std::vector<std::string> peer_texts;
    for (const Url& url : peer.peer_urls) peer_texts.push_back(url.text);
    const std::uint64_t id = compute_member_id(peer_texts, config.initial_cluster_token);
    if (id == config.member_id() || peer.peer_urls.empty()) continue;
    made->add_peer(
        id, PeerAddress{.host = peer.peer_urls.front().host, .port = peer.peer_urls.front().port});
  }
  PeerTransport* raw = made.get();
  member.set_sender([raw, &peer_stats](std::vector<raft::pb::Message> messages) {
    // /v2/stats/leader's latency is the time to hand a message to the transport, as etcd's is
    // the time to hand it to its peer stream; one batch's time is shared by its messages.
    std::vector<PeerStats::Append> appends;
    for (const raft::pb::Message& message : messages) {
      if (message.type() == raft::pb::MsgApp) appends.push_back(PeerStats::append_of(message));
    }
    const auto started = std::chrono::steady_clock::now();
    const auto count = static_cast<std::int64_t>(std::max<std::size_t>(messages.size(), 1));
    raw->send(std::move(messages));
    const auto each = (std::chrono::steady_clock::now() - started) / count;
    for (const PeerStats::Append& append : appends) peer_stats.on_send_append(append, each);
  });
  member.set_snapshot_sender([raw](raft::pb::Message message, std::filesystem::path checkpoint) {
    raw->send_snapshot(std::move(message), std::move(checkpoint));
  });
  return made;
}

int serve(const Config& config) {
  asio::io_context io(1);
  const common::RealClock clock;
  common::metrics::Registry metrics;
  auto member = open_member(io, config, clock);
  if (!member) {
    spdlog::critical("cannot start: {}", member.error());
    return 1;
  }
  register_member_metrics(metrics, **member, clock.wall_now());
  PeerStats peer_stats(clock);
  ApiHandler handler(config, **member, metrics, peer_stats);
  std::vector<std::unique_ptr<HttpListener>> listeners;
  // Bound now (so a busy port fails the start), accepting only once the member is ready.
  for (const Url& url : config.listen_client_urls) {
    auto endpoints = endpoints_of(io, url);
    if (!endpoints) {
      spdlog::critical("{}", endpoints.error());
      return 1;
    }
    for (const tcp::endpoint& endpoint : *endpoints) {
      auto listener = HttpListener::open(io, endpoint, handler, HttpLimits{});
      if (!listener) {
        spdlog::critical("{}", listener.error());
        return 1;
      }
      spdlog::info("client URL {} waits for the member to be ready", url.text);
      listeners.push_back(std::move(*listener));
    }
  }
  (*member)->set_client_connections([&listeners] {
    std::size_t count = 0;
    for (const auto& listener : listeners) count += listener->connection_count();
    return count;
  });
  auto transport = open_transport(io, config, **member, metrics, peer_stats);
  if (!transport) {
    spdlog::critical("cannot start the peer transport: {}", transport.error());
    return 1;
  }
  (*member)->when_ready([&listeners] {
    for (auto& listener : listeners) listener->start();
  });
  if (auto started = (*member)->start(); !started) {
    spdlog::critical("cannot start: {}", started.error());
    return 1;
  }
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int signal) {
    spdlog::info("received signal {}, shutting down", signal);
    for (auto& listener : listeners) listener->stop();
    (*member)->stop();
    if (*transport) (*transport)->stop();
    io.stop();
  });
  spdlog::info("member {} ready (name {}, data dir {})", format_id(config.member_id()), config.name,
               config.data_dir);
  io.run();
  return 0;
}

}  // namespace
}  // namespace discovery::server

int main(int argc, char** argv) {
  auto config = discovery::server::parse_config(argc, argv, environ);
  if (!config) {
    const auto& error = config.error();
    std::fputs(error.stdout_text.c_str(), stdout);
    std::fputs(error.stderr_text.c_str(), stderr);
    return error.exit_code;
  }
  if (!common::init_logging(config->log_level)) {
    std::fprintf(stderr, "invalid --log-level %s\n", config->log_level.c_str());
    return 2;
  }
  for (const std::string& warning : config->warnings) spdlog::warn("{}", warning);
  return discovery::server::serve(*config);
}
