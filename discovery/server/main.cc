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
  auto member = std::make_unique<Member>(io, std::move(*storage), clock);
  if (auto started = member->start(); !started) return started.error();
  if (!existing) member->bootstrap(bootstrap_records(config));
  return member;
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
  ApiHandler handler(config, **member, metrics);
  std::vector<std::unique_ptr<HttpListener>> listeners;
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
      spdlog::info("serving client requests on {}", url.text);
      listeners.push_back(std::move(*listener));
      listeners.back()->start();
    }
  }
  (*member)->set_client_connections([&listeners] {
    std::size_t count = 0;
    for (const auto& listener : listeners) count += listener->connection_count();
    return count;
  });
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int signal) {
    spdlog::info("received signal {}, shutting down", signal);
    for (auto& listener : listeners) listener->stop();
    (*member)->stop();
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
