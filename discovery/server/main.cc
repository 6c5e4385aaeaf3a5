// discovery: an etcd v2 compatible member. main() only turns flags into a Config, builds the
// member and its listeners, and runs the io loop until SIGINT or SIGTERM.

#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "discovery/server/api_handler.h"
#include "discovery/server/bootstrap.h"
#include "discovery/server/cluster_members.h"
#include "discovery/server/config.h"
#include "discovery/server/http_listener.h"
#include "discovery/server/identity_file.h"
#include "discovery/server/join_cluster.h"
#include "discovery/server/member.h"
#include "discovery/server/member_id.h"
#include "discovery/server/membership.h"
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

// How long a joining member keeps asking the other members for the cluster's member list.
constexpr std::chrono::seconds kJoinFetchTimeout{30};
// A removed member answers the request that removed it and stops after this delay, as etcd.
constexpr std::chrono::seconds kRemovedStopDelay{1};

common::Result<PeerAddress, std::string> peer_address(std::string_view url_text) {
  auto url = parse_url(url_text);
  if (!url)
    return common::Result<PeerAddress, std::string>(boost::system::in_place_error, url.error());
  return PeerAddress{.host = url->host, .port = url->port};
}

// Every peer URL of --initial-cluster's other members: where a joining member asks for the
// cluster's member list.
std::vector<PeerAddress> other_initial_peers(const Config& config) {
  const std::vector<std::string> local = config.local_peer_urls();
  std::vector<PeerAddress> peers;
  for (const InitialMember& member : config.initial_cluster) {
    if (url_texts(member.peer_urls) == local) continue;
    for (const Url& url : member.peer_urls) {
      peers.push_back(PeerAddress{.host = url.host, .port = url.port});
    }
  }
  return peers;
}

// Asks the other members of --initial-cluster who this member is (--initial-cluster-state
// existing, empty data directory).
common::Result<Identity, std::string> join_identity(const Config& config) {
  auto cluster = fetch_cluster(other_initial_peers(config), kJoinFetchTimeout);
  if (!cluster) return "cannot fetch cluster info from peer urls: " + cluster.error();
  return identity_in(*cluster, config.local_peer_urls());
}

struct Opened {
  std::unique_ptr<Member> member;
  Identity identity;
  bool multi_member = false;  // more than one member known at start: serve the peer port now
};

// Opens the data directory and decides who this member is: the stored identity on a restart
// (flags ignored, as etcd), else the bootstrap identity from the flags or, when joining, the one
// the cluster gave it.
common::Result<Opened, std::string> open_member(asio::io_context& io, const Config& config,
                                                const common::Clock& clock) {
  const std::filesystem::path keys_dir = std::filesystem::path(config.data_dir) / "member" / "keys";
  const bool had_data = std::filesystem::exists(keys_dir);
  const std::filesystem::path identity_file =
      std::filesystem::path(config.data_dir) / "member" / "identity";
  auto stored = load_identity(identity_file);
  if (!stored) return stored.error();
  StartKind start = StartKind::Restart;
  Identity identity{.member_id = config.member_id(), .cluster_id = config.cluster_id()};
  if (!had_data) {
    if (auto verified = verify_bootstrap(config); !verified) return verified.error();
    start = StartKind::Bootstrap;
    if (config.initial_cluster_state == ClusterState::Existing) {
      start = StartKind::Join;
      if (!*stored) {
        // Learned before the data directory exists, so a failed join leaves nothing behind.
        auto joined = join_identity(config);
        if (!joined) return joined.error();
        identity = *joined;
      }
    }
  }
  // Saved before the database exists: whatever the database holds belongs to this identity.
  if (*stored) {
    identity = **stored;
  } else if (auto saved = save_identity(identity_file, identity); !saved) {
    return saved.error();
  }
  auto storage = RocksdbStorage::open(keys_dir);
  if (!storage) return storage.error();
  MemberSetup setup = member_setup(config, identity.member_id, start);
  setup.snapshot_dir = std::filesystem::path(config.data_dir) / "member" / "snap";
  setup.snapshot.count = config.snapshot_count;
  Opened opened;
  opened.identity = identity;
  opened.multi_member = start == StartKind::Join || config.initial_cluster.size() > 1;
  opened.member = std::make_unique<Member>(io, std::move(*storage), clock, std::move(setup));
  return opened;
}

// Hands the raft loop's messages to the transport and records the leader's appends for
// /v2/stats/leader, whose latency is the time to hand a message to the transport, as etcd's is the
// time to hand it to its peer stream; one batch's time is shared by its messages.
Member::Sender peer_sender(PeerTransport& transport, PeerStats& peer_stats) {
  return [&transport, &peer_stats](std::vector<raft::pb::Message> messages) {
    std::vector<PeerStats::Append> appends;
    for (const raft::pb::Message& message : messages) {
      if (message.type() == raft::pb::MsgApp) appends.push_back(PeerStats::append_of(message));
    }
    const auto started = std::chrono::steady_clock::now();
    const auto count = static_cast<std::int64_t>(std::max<std::size_t>(messages.size(), 1));
    const bool sent_out = transport.send(std::move(messages));
    const auto each = (std::chrono::steady_clock::now() - started) / count;
    for (const PeerStats::Append& append : appends) peer_stats.on_send_append(append, each);
    return sent_out;
  };
}

// The peer transport: listens on --listen-peer-urls and dials every other member at its first
// peer URL. A lone member opens it only once a second member is added (several lone members
// may share a machine with etcd's default peer URL).
common::Result<std::unique_ptr<PeerTransport>, std::string> open_transport(
    asio::io_context& io, const Config& config, Identity identity, Member& member,
    common::metrics::Registry& metrics, PeerStats& peer_stats, std::function<void()> on_removed) {
  PeerTransportConfig transport;
  transport.self_id = identity.member_id;
  transport.cluster_id = identity.cluster_id;
  transport.snapshot_dir = std::filesystem::path(config.data_dir) / "member" / "snap-staging";
  transport.seed = identity.member_id;
  // main() runs the io_context on this one thread, and the raft loop sends from it.
  transport.inline_writes = true;
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
      // The transport's strand runs on the io thread too (one thread), so the member's state
      // may be read here.
      .on_members_query =
          [&member, identity] {
            pb::MembersReply reply;
            reply.set_cluster_id(identity.cluster_id);
            for (const api::Member& known : member.members()) {
              auto& out = *reply.add_members();
              out.set_id(known.id);
              for (const std::string& url : known.peer_urls) out.add_peer_urls(url);
            }
            return reply;
          },
      .is_removed = [&member](std::uint64_t peer) { return was_removed(member.store(), peer); },
      .on_removed = std::move(on_removed),
  };
  auto made = std::make_unique<PeerTransport>(io, std::move(transport), std::move(handlers),
                                              io.get_executor(), metrics);
  if (auto started = made->start(); !started) return started.error();
  PeerTransport* raw = made.get();
  member.set_sender(peer_sender(*raw, peer_stats));
  member.set_snapshot_sender([raw](raft::pb::Message message, std::filesystem::path checkpoint) {
    raw->send_snapshot(std::move(message), std::move(checkpoint));
  });
  return made;
}

// Every member but this one, at its first peer URL.
void add_peers(PeerTransport& transport, std::uint64_t self,
               const std::vector<std::pair<std::uint64_t, std::vector<std::string>>>& peers) {
  for (const auto& [id, urls] : peers) {
    if (id == self || urls.empty()) continue;
    auto address = peer_address(urls.front());
    if (!address) {
      spdlog::error("member {}: bad peer URL {}: {}", format_id(id), urls.front(), address.error());
      continue;
    }
    transport.add_peer(id, *address);
  }
}

// The cluster as this member knows it: the stored records (a restart ignores --initial-cluster,
// as etcd); for a member joining with an empty store, --initial-cluster's members with the ids
// the cluster told it (by peer URLs).
std::vector<std::pair<std::uint64_t, std::vector<std::string>>> known_peers(const Config& config,
                                                                            Member& member) {
  std::vector<std::pair<std::uint64_t, std::vector<std::string>>> peers;
  for (const api::Member& known : member.members()) {
    std::vector<std::string> urls = known.peer_urls;
    // A configured member without records: the bootstrap entries are committed but not yet
    // applied (a new cluster, or a crash before they were), so --initial-cluster still tells.
    for (const InitialMember& initial : config.initial_cluster) {
      if (!urls.empty()) break;
      std::vector<std::string> texts = url_texts(initial.peer_urls);
      if (compute_member_id(texts, config.initial_cluster_token) == known.id) urls = texts;
    }
    peers.emplace_back(known.id, std::move(urls));
  }
  if (!peers.empty() || config.initial_cluster_state != ClusterState::Existing) return peers;
  if (auto cluster = fetch_cluster(other_initial_peers(config), std::chrono::seconds{5})) {
    for (const RemoteMember& remote : cluster->members) {
      peers.emplace_back(remote.id, remote.peer_urls);
    }
  }
  return peers;
}

class Server {
 public:
  Server(const Config& config, asio::io_context& io, Opened opened,
         common::metrics::Registry& metrics)
      : config_(config),
        io_(io),
        identity_(opened.identity),
        member_(std::move(opened.member)),
        metrics_(metrics),
        peer_stats_(member_->clock()),
        stop_timer_(io) {}

  int run(bool multi_member);

 private:
  common::Result<void, std::string> ensure_transport();
  void on_membership(const MembershipChange& change);
  void stop_after_removal();
  void shutdown();

  const Config& config_;
  asio::io_context& io_;
  Identity identity_;
  std::unique_ptr<Member> member_;
  common::metrics::Registry& metrics_;
  PeerStats peer_stats_;  // the raft traffic figures of /v2/stats
  std::vector<std::unique_ptr<HttpListener>> listeners_;
  std::unique_ptr<PeerTransport> transport_;
  asio::steady_timer stop_timer_;
  bool stopping_ = false;
};

common::Result<void, std::string> Server::ensure_transport() {
  if (transport_) return {};
  auto transport = open_transport(io_, config_, identity_, *member_, metrics_, peer_stats_, [this] {
    spdlog::warn("a peer says this member was removed from the cluster");
    stop_after_removal();
  });
  if (!transport) return transport.error();
  transport_ = std::move(*transport);
  add_peers(*transport_, identity_.member_id, known_peers(config_, *member_));
  return {};
}

void Server::on_membership(const MembershipChange& change) {
  if (change.id == identity_.member_id) {
    if (change.type == raft::pb::ConfChangeRemoveNode) stop_after_removal();
    return;
  }
  if (!transport_) {
    if (auto opened = ensure_transport(); !opened) {
      spdlog::critical("cannot start the peer transport: {}", opened.error());
      shutdown();
    }
    return;  // ensure_transport added every peer, this one included
  }
  if (change.type == raft::pb::ConfChangeRemoveNode) {
    transport_->remove_peer(change.id);
    return;
  }
  if (change.peer_urls.empty()) return;
  auto address = peer_address(change.peer_urls.front());
  if (!address) return;
  if (change.type == raft::pb::ConfChangeUpdateNode) {
    transport_->update_peer(change.id, *address);
  } else {
    transport_->add_peer(change.id, *address);
  }
}

void Server::stop_after_removal() {
  if (stopping_) return;
  stopping_ = true;
  // etcd answers the request that removed it, then stops after a delay and exits with 0.
  spdlog::warn("the member has been permanently removed from the cluster; stopping in {} s",
               kRemovedStopDelay.count());
  stop_timer_.expires_after(kRemovedStopDelay);
  stop_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) shutdown();
  });
}

void Server::shutdown() {
  for (auto& listener : listeners_) listener->stop();
  member_->stop();
  if (transport_) transport_->stop();
  io_.stop();
}

int Server::run(bool multi_member) {
  register_member_metrics(metrics_, *member_, member_->clock().wall_now());
  ApiHandler handler(config_, identity_, *member_, metrics_, peer_stats_);
  // Bound now (so a busy port fails the start), accepting only once the member is ready.
  for (const Url& url : config_.listen_client_urls) {
    auto endpoints = endpoints_of(io_, url);
    if (!endpoints) {
      spdlog::critical("{}", endpoints.error());
      return 1;
    }
    for (const tcp::endpoint& endpoint : *endpoints) {
      auto listener = HttpListener::open(io_, endpoint, handler, HttpLimits{});
      if (!listener) {
        spdlog::critical("{}", listener.error());
        return 1;
      }
      spdlog::info("client URL {} waits for the member to be ready", url.text);
      listeners_.push_back(std::move(*listener));
    }
  }
  member_->set_client_connections([this] {
    std::size_t count = 0;
    for (const auto& listener : listeners_) count += listener->connection_count();
    return count;
  });
  member_->when_ready([this] {
    for (auto& listener : listeners_) listener->start();
  });
  member_->on_membership([this](const MembershipChange& change) { on_membership(change); });
  if (auto started = member_->start(); !started) {
    spdlog::critical("cannot start: {}", started.error());
    return 1;
  }
  if (multi_member || member_->members().size() > 1) {
    if (auto opened = ensure_transport(); !opened) {
      spdlog::critical("cannot start the peer transport: {}", opened.error());
      return 1;
    }
  }
  asio::signal_set signals(io_, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int signal) {
    spdlog::info("received signal {}, shutting down", signal);
    shutdown();
  });
  spdlog::info("member {} ready (name {}, data dir {})", format_id(identity_.member_id),
               config_.name, config_.data_dir);
  io_.run();
  return 0;
}

int serve(const Config& config) {
  asio::io_context io(1);
  const common::RealClock clock;
  common::metrics::Registry metrics;
  auto opened = open_member(io, config, clock);
  if (!opened) {
    spdlog::critical("cannot start: {}", opened.error());
    return 1;
  }
  const bool multi_member = opened->multi_member;
  Server server(config, io, std::move(*opened), metrics);
  return server.run(multi_member);
}

}  // namespace
}  // namespace discovery::server

#if HAWP_JEMALLOC
// jemalloc, not the C library's allocator: a write allocates and frees many small blocks on the
// io thread (HTTP fields, protobuf messages, store events) while the sync thread and RocksDB's
// threads free others, and glibc's free-chunk handling (unlink, consolidation) took about a sixth
// of the leader's CPU at 64 connections. With jemalloc the 3-member benchmark's PUT at 64
// connections went from about 15.7k to 17.8k req/s on the leader and from 14.1k to 16.3k on a
// follower. Freed pages go back to the system at once (no decay), as RocksDB frees a memtable's
// arena blocks with every flush: resident memory after 100k keys stays where glibc's was (43.0
// against 43.9 MiB on the leader), where jemalloc's default ten-second decay kept 5 MiB more.
extern "C" {
// NOLINTNEXTLINE: jemalloc reads this global by name at its start.
const char* malloc_conf = "dirty_decay_ms:0,muzzy_decay_ms:0";
}
#endif

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
