#include "sqlproxy/backends/dns_source.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace sqlproxy::backends {

namespace asio = boost::asio;
constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

struct DnsSource::State {
  State(const asio::any_io_executor& executor, DnsSourceConfig c, BackendsCallback cb)
      : strand(asio::make_strand(executor)),
        config(std::move(c)),
        callback(std::move(cb)),
        timer(strand),
        resolver(strand) {}

  asio::strand<asio::any_io_executor> strand;
  DnsSourceConfig config;
  BackendsCallback callback;
  asio::steady_timer timer;
  asio::ip::tcp::resolver resolver;
  std::atomic<bool> stopped{false};
};

namespace {

asio::awaitable<void> resolve_loop(std::shared_ptr<DnsSource::State> s) {
  std::optional<std::vector<BackendSpec>> delivered;
  bool failing = false;
  while (!s->stopped) {
    auto [error, results] =
        co_await s->resolver.async_resolve(s->config.name, std::to_string(s->config.port), kAwait);
    if (s->stopped) break;
    if (error) {
      // Keep the last set: an empty answer from a resolver hiccup would drop every backend.
      if (!failing)
        spdlog::warn("backends: resolving {} failed: {}", s->config.name, error.message());
      failing = true;
    } else {
      failing = false;
      std::vector<BackendSpec> backends;
      for (const auto& entry : results) {
        backends.push_back({entry.endpoint().address().to_string(), s->config.port, 1});
      }
      backends = canonical(std::move(backends));
      if (delivered != backends) {
        delivered = backends;
        s->callback(std::move(backends));
      }
    }
    s->timer.expires_after(s->config.interval);
    co_await s->timer.async_wait(kAwait);
  }
}

}  // namespace

DnsSource::DnsSource(const asio::any_io_executor& executor, DnsSourceConfig config,
                     BackendsCallback callback)
    : state_(std::make_shared<State>(executor, std::move(config), std::move(callback))) {}

DnsSource::~DnsSource() { stop(); }

void DnsSource::start() { asio::co_spawn(state_->strand, resolve_loop(state_), asio::detached); }

void DnsSource::stop() {
  if (state_->stopped.exchange(true)) return;
  asio::post(state_->strand, [s = state_] {
    s->timer.cancel();
    s->resolver.cancel();
  });
}

}  // namespace sqlproxy::backends
