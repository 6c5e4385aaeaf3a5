#include "sqlproxy/backends/etcd_source.h"

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
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <charconv>

namespace sqlproxy::backends {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
// A directory listing of a few hundred members stays far below this.
constexpr std::uint64_t kBodyBytesMax = std::uint64_t{4} * 1024 * 1024;

namespace {

boost::system::error_code error(boost::system::errc::errc_t code) {
  return boost::system::errc::make_error_code(code);
}

}  // namespace

common::Result<std::vector<BackendSpec>> members_from_listing(std::string_view body,
                                                              std::uint16_t backend_port) {
  boost::system::error_code parse_error;
  const json::value root = json::parse(body, parse_error);
  const json::object* object = root.if_object();
  const json::value* node = object != nullptr ? object->if_contains("node") : nullptr;
  if (parse_error || node == nullptr || !node->is_object()) {
    return error(boost::system::errc::bad_message);
  }
  std::vector<BackendSpec> backends;
  const json::value* nodes = node->as_object().if_contains("nodes");
  if (nodes == nullptr) return backends;  // etcd omits "nodes" for an empty directory
  if (!nodes->is_array()) return error(boost::system::errc::bad_message);
  for (const json::value& child : nodes->as_array()) {
    const json::value* key = child.is_object() ? child.as_object().if_contains("key") : nullptr;
    if (key == nullptr || !key->is_string()) continue;
    const std::string_view path = key->as_string();
    const std::string_view name = path.substr(path.rfind('/') + 1);
    auto backend = parse_address(name, backend_port);
    if (backend) {
      backends.push_back(std::move(*backend));
    } else {
      spdlog::warn("backends: discovery member {:?} is not an address; skipped", name);
    }
  }
  return canonical(std::move(backends));
}

namespace {

std::vector<std::string> strings_of(const json::object& o, std::string_view key) {
  std::vector<std::string> out;
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_array()) return out;
  for (const json::value& item : v->as_array()) {
    if (item.is_string()) out.emplace_back(item.as_string());
  }
  return out;
}

std::optional<DiscoveryMember> member_of(const json::value& v) {
  const json::object* o = v.if_object();
  const json::value* id = o != nullptr ? o->if_contains("id") : nullptr;
  if (id == nullptr || !id->is_string()) return std::nullopt;
  DiscoveryMember m;
  m.id = id->as_string();
  // A member added but not started yet has no name (etcd prints "name":"").
  if (const json::value* name = o->if_contains("name"); name != nullptr && name->is_string()) {
    m.name = name->as_string();
  }
  m.client_urls = strings_of(*o, "clientURLs");
  m.peer_urls = strings_of(*o, "peerURLs");
  return m;
}

}  // namespace

common::Result<std::vector<DiscoveryMember>> cluster_members_from_json(std::string_view body) {
  boost::system::error_code parse_error;
  const json::value root = json::parse(body, parse_error);
  const json::object* object = root.if_object();
  const json::value* members = object != nullptr ? object->if_contains("members") : nullptr;
  if (parse_error || members == nullptr || !members->is_array()) {
    return error(boost::system::errc::bad_message);
  }
  std::vector<DiscoveryMember> out;
  for (const json::value& v : members->as_array()) {
    auto m = member_of(v);
    if (!m) return error(boost::system::errc::bad_message);
    out.push_back(std::move(*m));
  }
  return out;
}

common::Result<std::string> leader_id_from_json(std::string_view body) {
  boost::system::error_code parse_error;
  const json::value root = json::parse(body, parse_error);
  if (parse_error) return error(boost::system::errc::bad_message);
  auto m = member_of(root);
  if (!m) return error(boost::system::errc::bad_message);
  return m->id;
}

struct EtcdDiscoverySource::State {
  State(const asio::any_io_executor& executor, EtcdDiscoveryConfig c, BackendsCallback cb,
        ClusterCallback on_cluster_cb)
      : strand(asio::make_strand(executor)),
        config(std::move(c)),
        callback(std::move(cb)),
        on_cluster(std::move(on_cluster_cb)),
        timer(strand),
        cluster_timer(strand),
        rotation(config.url.endpoints.size(), config.retry_interval, config.retry_interval_max) {}

  asio::strand<asio::any_io_executor> strand;
  EtcdDiscoveryConfig config;
  BackendsCallback callback;
  ClusterCallback on_cluster;
  asio::steady_timer timer;
  asio::steady_timer cluster_timer;
  // The requests in flight, for stop(); strand only. One per coroutine.
  beast::tcp_stream* stream = nullptr;
  beast::tcp_stream* cluster_stream = nullptr;
  EndpointRotation rotation;  // strand only; the watch loop moves it, the cluster loop reads it
  std::atomic<bool> stopped{false};
};

namespace {

using StatePtr = std::shared_ptr<EtcdDiscoverySource::State>;

struct Response {
  unsigned status = 0;
  std::string body;
  std::uint64_t etcd_index = 0;  // X-Etcd-Index
};

std::uint64_t header_index(const http::response<http::string_body>& response) {
  const auto field = response["X-Etcd-Index"];
  std::uint64_t value = 0;
  std::from_chars(field.data(), field.data() + field.size(), value);
  return value;
}

const DiscoveryEndpoint& endpoint_in_use(const StatePtr& s) {
  return s->config.url.endpoints[s->rotation.current()];
}

using StreamSlot = beast::tcp_stream* EtcdDiscoverySource::State::*;

// One GET to `endpoint` on a fresh connection (the watch holds its connection for minutes; a
// connection per request keeps the code free of keep-alive state at this request rate). The
// stream is exposed in s->*slot while in flight so that stop() can cancel it. A connect that
// times out reports errc::timed_out, so that beast::error::timeout means only "no answer within
// `timeout`", which for a watch is normal.
asio::awaitable<common::Result<Response>> get(
    StatePtr s, DiscoveryEndpoint endpoint, std::string target, std::chrono::milliseconds timeout,
    StreamSlot slot = &EtcdDiscoverySource::State::stream) {
  asio::ip::tcp::resolver resolver(s->strand);
  auto [resolve_error, endpoints] =
      co_await resolver.async_resolve(endpoint.host, std::to_string(endpoint.port), kAwait);
  if (resolve_error) co_return resolve_error;
  beast::tcp_stream stream(s->strand);
  (*s).*slot = &stream;
  struct Clear {
    StatePtr& s;
    StreamSlot slot;
    ~Clear() { (*s).*slot = nullptr; }
  } clear{s, slot};
  if (s->stopped) co_return error(boost::system::errc::operation_canceled);
  stream.expires_after(std::min(timeout, s->config.request_timeout));
  auto [connect_error, connected] = co_await stream.async_connect(endpoints, kAwait);
  if (connect_error == beast::error::timeout) co_return error(boost::system::errc::timed_out);
  if (connect_error) co_return connect_error;
  http::request<http::empty_body> request{http::verb::get, target, 11};
  request.set(http::field::host, endpoint.url().substr(std::string_view("http://").size()));
  request.set(http::field::connection, "close");
  stream.expires_after(timeout);
  auto [write_error, written] = co_await http::async_write(stream, request, kAwait);
  if (write_error) co_return write_error;
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kBodyBytesMax);
  auto [read_error, read] = co_await http::async_read(stream, buffer, parser, kAwait);
  if (read_error) co_return read_error;
  auto response = parser.release();
  co_return Response{response.result_int(), std::move(response.body()), header_index(response)};
}

// "HTTP 500 (errorCode 300: Raft Internal Error: etcdserver: request timed out)" for the log.
std::string describe(const Response& response) {
  std::string out = "HTTP " + std::to_string(response.status);
  boost::system::error_code parse_error;
  const json::value body = json::parse(response.body, parse_error);
  const json::object* o = parse_error ? nullptr : body.if_object();
  if (o == nullptr || !o->contains("errorCode")) return out;
  out += " (errorCode " + json::serialize(o->at("errorCode"));
  for (const char* field : {"message", "cause"}) {
    const json::value* v = o->if_contains(field);
    if (v != nullptr && v->is_string() && !v->as_string().empty()) {
      out += ": " + std::string(v->as_string());
    }
  }
  return out + ")";
}

using Failure = std::string;  // why a request failed, for the log

struct Listing {
  std::vector<BackendSpec> backends;
  std::uint64_t etcd_index = 0;
};

// With `quorum`, the member answers only once it has applied every write committed before the
// request (etcd 3.4: through the raft log; discovery: ReadIndex), and with an error when it has
// no leader: the listing can be neither stale nor from a member cut off from the others. Without
// it the member answers from its own store at once.
asio::awaitable<common::Result<Listing, Failure>> list(StatePtr s, bool quorum) {
  auto response = co_await get(s, endpoint_in_use(s),
                               "/v2/keys" + s->config.url.dir + (quorum ? "?quorum=true" : ""),
                               s->config.request_timeout);
  if (!response) co_return "list: " + response.error().message();
  if (response->status == 404) {  // errorCode 100: no member registered yet
    co_return Listing{{}, response->etcd_index};
  }
  if (response->status != 200) co_return "list: " + describe(*response);
  auto backends = members_from_listing(response->body, s->config.backend_port);
  if (!backends) co_return "list: not an etcd v2 directory answer";
  co_return Listing{std::move(*backends), response->etcd_index};
}

enum class WatchOutcome {
  Event,    // something changed at or after waitIndex
  Cleared,  // errorCode 401 (HTTP 400): waitIndex is older than the member's event history
  Silent,   // nothing within watch_timeout
};

// Waits for the next change at or after wait_index. After any outcome the caller lists again.
asio::awaitable<common::Result<WatchOutcome, Failure>> watch(StatePtr s, std::uint64_t wait_index) {
  auto response =
      co_await get(s, endpoint_in_use(s),
                   "/v2/keys" + s->config.url.dir +
                       "?wait=true&recursive=true&waitIndex=" + std::to_string(wait_index),
                   s->config.watch_timeout);
  if (!response) {
    if (response.error() == beast::error::timeout) co_return WatchOutcome::Silent;
    co_return "watch: " + response.error().message();
  }
  if (response->status == 200) co_return WatchOutcome::Event;
  if (response->status == 400) co_return WatchOutcome::Cleared;
  co_return "watch: " + describe(*response);
}

asio::awaitable<void> sleep(StatePtr s, std::chrono::milliseconds delay) {
  s->timer.expires_after(delay);
  co_await s->timer.async_wait(kAwait);
}

// Moves to the next endpoint after a failed request, logs the switch during the streak's first
// round, and waits when a whole round failed.
asio::awaitable<void> on_failure(StatePtr s, const Failure& failure) {
  const EndpointRotation::Step step = s->rotation.on_failure();
  const auto& endpoints = s->config.url.endpoints;
  const std::string& dir = s->config.url.dir;
  if (step.first_round && endpoints.size() > 1) {
    spdlog::warn("backends: discovery {}{} failed: {}; switching to {}", endpoints[step.from].url(),
                 dir, failure, endpoints[step.to].url());
  } else if (step.first_round) {
    spdlog::warn("backends: discovery {}{} failed: {}", endpoints[step.from].url(), dir, failure);
  }
  if (step.delay.count() > 0 && step.first_round && endpoints.size() > 1) {
    spdlog::warn(
        "backends: all {} discovery endpoints failed; retrying from {} with backoff up to {} ms",
        endpoints.size(), endpoints[step.to].url(), s->config.retry_interval_max.count());
  }
  // The status page names the endpoint in use: refresh it now rather than at the next period.
  if (step.from != step.to) s->cluster_timer.cancel();
  if (step.delay.count() > 0) co_await sleep(s, step.delay);
}

void deliver(const StatePtr& s, std::optional<std::vector<BackendSpec>>& delivered,
             std::vector<BackendSpec> backends) {
  if (delivered == backends) return;
  delivered = backends;
  s->callback(std::move(backends));
}

asio::awaitable<void> discovery_loop(StatePtr s) {
  std::optional<std::vector<BackendSpec>> delivered;
  // The watch's next waitIndex: the last X-Etcd-Index seen plus one; 0 until a listing worked
  // and again after any watch outcome, so that the next step lists.
  std::uint64_t wait_index = 0;
  // A listing right after the member reported an event is served locally: that member is
  // demonstrably connected and at least as new as the event. Every other listing (the first, after
  // a failure, a cleared index or a silent watch) uses quorum=true, which is how a member that
  // lost its leader or sits in a minority is found out. The TTL refreshes of every registered
  // node (3 events per node every 5 s) thus cost no raft round each.
  bool after_event = false;
  while (!s->stopped) {
    common::Result<void, Failure> outcome;
    if (wait_index == 0) {
      auto listing = co_await list(s, !after_event);
      if (listing && !s->stopped) {
        deliver(s, delivered, std::move(listing->backends));
        wait_index = listing->etcd_index + 1;
      } else if (!listing) {
        outcome = listing.error();
        after_event = false;
      }
    } else {
      auto watched = co_await watch(s, wait_index);
      if (watched) {
        wait_index = 0;
        after_event = *watched == WatchOutcome::Event;
      } else {
        outcome = watched.error();
      }
    }
    if (s->stopped) break;
    if (outcome) {
      if (s->rotation.on_success()) {
        spdlog::info("backends: discovery reachable again at {}", endpoint_in_use(s).url());
      }
      continue;
    }
    co_await on_failure(s, outcome.error());
  }
}

// The answer to one cluster-refresh GET: the body of a 200, or (non-empty) why there is none.
struct Fetched {
  std::string body;
  std::string error;
};

asio::awaitable<Fetched> cluster_get(StatePtr s, DiscoveryEndpoint endpoint, std::string target) {
  auto response = co_await get(s, std::move(endpoint), target, s->config.request_timeout,
                               &EtcdDiscoverySource::State::cluster_stream);
  if (!response) co_return Fetched{"", "GET " + target + ": " + response.error().message()};
  if (response->status != 200) {
    co_return Fetched{"", "GET " + target + ": HTTP " + std::to_string(response->status)};
  }
  co_return Fetched{std::move(response->body), ""};
}

// One refresh of `cluster` (members, then leader) from the endpoint in use. A failure keeps what
// was known and says why.
asio::awaitable<void> refresh_cluster(StatePtr s, DiscoveryCluster& cluster) {
  const DiscoveryEndpoint endpoint = endpoint_in_use(s);
  cluster.endpoint = endpoint.url();
  cluster.error.clear();
  const Fetched members = co_await cluster_get(s, endpoint, "/v2/members");
  if (!members.error.empty()) {
    cluster.error = members.error;
    co_return;
  }
  auto parsed = cluster_members_from_json(members.body);
  if (!parsed) {
    cluster.error = "GET /v2/members: unexpected answer";
    co_return;
  }
  cluster.members = std::move(*parsed);
  const Fetched leader = co_await cluster_get(s, endpoint, "/v2/members/leader");
  // During an election etcd answers 503 here. Any failure of this second request only leaves
  // the leader unknown; the members just listed stay true.
  auto id = leader.error.empty() ? leader_id_from_json(leader.body)
                                 : common::Result<std::string>(std::string());
  cluster.leader_id = id ? *id : "";
}

asio::awaitable<void> cluster_loop(StatePtr s) {
  DiscoveryCluster cluster;
  while (!s->stopped) {
    co_await refresh_cluster(s, cluster);
    if (s->stopped) break;
    s->on_cluster(cluster);
    s->cluster_timer.expires_after(s->config.cluster_interval);
    co_await s->cluster_timer.async_wait(kAwait);
  }
}

}  // namespace

EtcdDiscoverySource::EtcdDiscoverySource(const asio::any_io_executor& executor,
                                         EtcdDiscoveryConfig config, BackendsCallback callback,
                                         ClusterCallback on_cluster)
    : state_(std::make_shared<State>(executor, std::move(config), std::move(callback),
                                     std::move(on_cluster))) {}

EtcdDiscoverySource::~EtcdDiscoverySource() { stop(); }

void EtcdDiscoverySource::start() {
  asio::co_spawn(state_->strand, discovery_loop(state_), asio::detached);
  if (state_->on_cluster) asio::co_spawn(state_->strand, cluster_loop(state_), asio::detached);
}

void EtcdDiscoverySource::stop() {
  if (state_->stopped.exchange(true)) return;
  asio::post(state_->strand, [s = state_] {
    s->timer.cancel();
    s->cluster_timer.cancel();
    if (s->stream != nullptr) s->stream->cancel();
    if (s->cluster_stream != nullptr) s->cluster_stream->cancel();
  });
}

}  // namespace sqlproxy::backends
