// sqlproxy: a Galera-aware MySQL proxy. main() only turns flags into a Config, builds the control
// plane, the listeners and the admin server, and runs until SIGINT or SIGTERM.
//
// Threads: the control io_context (main thread) runs the controller's probes and the admin
// server; one worker io_context per usable CPU (affinity, capped by the cgroup CPU quota), each
// on its own thread, accepts clients on its own SO_REUSEPORT acceptor and runs their sessions (a
// session stays on one worker for its life).

#include <sched.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "sqlproxy/admin/admin_server.h"
#include "sqlproxy/server/config.h"
#include "sqlproxy/server/galera_controller.h"
#include "sqlproxy/server/listener.h"
#include "sqlproxy/server/static_controller.h"
#include "sqlproxy/session/session.h"
#include "sqlproxy/session/session_registry.h"

extern char** environ;

namespace sqlproxy::server {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

common::Result<tcp::endpoint, std::string> endpoint_of(asio::io_context& io,
                                                       const HostPort& address) {
  boost::system::error_code ec;
  tcp::resolver resolver(io);
  const auto results =
      resolver.resolve(address.host, std::to_string(address.port), tcp::resolver::passive, ec);
  if (ec || results.empty()) return "resolve " + address.text + ": " + ec.message();
  return results.begin()->endpoint();
}

std::string text_of(const tcp::endpoint& e) {
  return e.address().to_string() + ":" + std::to_string(e.port());
}

std::unique_ptr<Controller> make_static_controller(const Config& config,
                                                   common::metrics::Registry& metrics) {
  StaticControllerOptions options;
  for (const HostPort& b : config.backends) options.backends.push_back({b.text, b.host, b.port});
  options.probe_interval = config.probe_interval;
  options.monitor_user = config.monitor_user;
  options.monitor_password = config.monitor_password;
  options.probe_timeout = std::max(config.probe_interval * 4, std::chrono::milliseconds(1000));
  return std::make_unique<StaticController>(std::move(options), metrics);
}

// Parsing was checked by parse_config() except the discovery URL's path, checked here.
common::Result<std::unique_ptr<Controller>, std::string> make_controller(
    const Config& config, common::metrics::Registry& metrics, const common::Clock& clock) {
  if (config.monitor_user.empty()) {
    spdlog::warn(
        "no -monitor-user: Galera probes need a user that may run SHOW GLOBAL STATUS; give one");
  }
  if (config.plain_mysql) return make_static_controller(config, metrics);
  GaleraControllerOptions options;
  for (const HostPort& b : config.backends) options.backends.push_back({b.host, b.port, 1});
  if (config.backends_dns) {
    options.dns = backends::DnsSourceConfig{config.backends_dns->host, config.backends_dns->port,
                                            std::chrono::milliseconds(5000)};
  }
  if (!config.backends_discovery.empty()) {
    auto url = backends::parse_discovery_url(config.backends_discovery);
    if (!url)
      return "invalid -backends-discovery " + config.backends_discovery + ": " + url.error();
    backends::EtcdDiscoveryConfig discovery;
    discovery.url = *url;
    discovery.backend_port = config.backend_port;
    options.discovery = discovery;
  }
  options.monitor.user = config.monitor_user;
  options.monitor.password = config.monitor_password;
  options.monitor.probe_interval = config.probe_interval;
  options.monitor.tracker.classifier.allow_donor = config.allow_donor;
  options.drain_grace = config.drain_grace;
  return std::unique_ptr<Controller>(std::make_unique<GaleraController>(std::move(options), clock));
}

// CPUs this process may use: its affinity mask, capped by a cgroup v2 CPU quota (cpu.max), which
// is how Kubernetes enforces a CPU limit; hardware_concurrency() sees every CPU of the node.
unsigned usable_cpus() {
  unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    cpus = static_cast<unsigned>(std::max(1, CPU_COUNT(&set)));
  }
  std::ifstream cpu_max("/sys/fs/cgroup/cpu.max");
  std::string quota;
  double period = 0;
  if (cpu_max >> quota >> period && quota != "max" && period > 0) {
    const double limit = std::stod(quota) / period;
    cpus = std::min(cpus, std::max(1u, static_cast<unsigned>(std::ceil(limit))));
  }
  return cpus;
}

// Each session holds two descriptors; keep some for listeners, probes, the admin port and logs.
std::size_t sessions_max() {
  constexpr std::size_t kReserved = 256;
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return 10000;
  const auto descriptors = static_cast<std::size_t>(limit.rlim_cur);
  return descriptors > 2 * kReserved ? (descriptors - kReserved) / 2 : kReserved / 2;
}

// One io_context per thread; stop() ends them and joins.
class WorkerPool {
 public:
  explicit WorkerPool(unsigned count) {
    for (unsigned i = 0; i < count; ++i) {
      contexts_.push_back(std::make_unique<asio::io_context>(1));
      guards_.emplace_back(asio::make_work_guard(*contexts_.back()));
    }
    for (auto& io : contexts_) threads_.emplace_back([ctx = io.get()] { ctx->run(); });
  }
  ~WorkerPool() { stop(); }
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;
  std::vector<asio::io_context*> contexts() const {
    std::vector<asio::io_context*> out;
    for (const auto& c : contexts_) out.push_back(c.get());
    return out;
  }
  void stop() {
    for (auto& c : contexts_) c->stop();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

 private:
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
  std::vector<std::thread> threads_;
};

struct Listeners {
  std::vector<std::unique_ptr<SessionListener>> sessions;
  std::unique_ptr<admin::AdminServer> admin;
};

common::Result<std::unique_ptr<SessionListener>, std::string> open_listener(
    asio::io_context& control, const HostPort& address, WorkerPool& workers,
    std::shared_ptr<const session::SessionEnv> env, std::atomic<std::uint64_t>& next_id) {
  auto endpoint = endpoint_of(control, address);
  if (!endpoint) return endpoint.error();
  auto listener = SessionListener::open(*endpoint, workers.contexts(), std::move(env), next_id);
  if (!listener) return listener.error();
  spdlog::info("serving MySQL clients on {} ({})", address.text,
               text_of((*listener)->local_endpoint()));
  (*listener)->start();
  return listener;
}

int serve(const Config& config) {
  asio::io_context control(1);
  common::metrics::Registry metrics;
  session::SessionRegistry registry;
  session::SessionMetrics session_metrics(metrics);
  common::RealClock clock;
  auto made = make_controller(config, metrics, clock);
  if (!made) {
    std::fprintf(stderr, "sqlproxy: %s\n", made.error().c_str());
    return 2;
  }
  const std::unique_ptr<Controller> controller = std::move(*made);
  const unsigned threads = usable_cpus();
  WorkerPool workers(threads);
  controller->start(control, registry);
  std::atomic<std::uint64_t> next_id{0};
  Listeners listeners;
  auto writer_env = std::make_shared<session::SessionEnv>();
  writer_env->picker = [c = controller.get()] { return c->pick_writer(); };
  writer_env->role = "writable";
  writer_env->registry = &registry;
  writer_env->metrics = &session_metrics;
  writer_env->limits.sessions_max = sessions_max();
  auto writer = open_listener(control, config.listen, workers, writer_env, next_id);
  if (!writer) {
    spdlog::critical("{}", writer.error());
    return 1;
  }
  listeners.sessions.push_back(std::move(*writer));
  if (config.read_only_listen) {
    auto reader_env = std::make_shared<session::SessionEnv>(*writer_env);
    reader_env->picker = [c = controller.get()] { return c->pick_reader(); };
    reader_env->role = "readable";
    auto reader = open_listener(control, *config.read_only_listen, workers, reader_env, next_id);
    if (!reader) {
      spdlog::critical("{}", reader.error());
      return 1;
    }
    listeners.sessions.push_back(std::move(*reader));
  }
  auto admin_endpoint = endpoint_of(control, config.admin_listen);
  if (!admin_endpoint) {
    spdlog::critical("{}", admin_endpoint.error());
    return 1;
  }
  auto admin = admin::AdminServer::open(
      control, *admin_endpoint,
      admin::AdminDeps{controller.get(), &registry, &metrics, config.drain_grace, &clock});
  if (!admin) {
    spdlog::critical("{}", admin.error());
    return 1;
  }
  listeners.admin = std::move(*admin);
  listeners.admin->start();
  spdlog::info("admin on {} ({}); {} worker threads; at most {} client sessions",
               config.admin_listen.text, text_of(listeners.admin->local_endpoint()), threads,
               writer_env->limits.sessions_max);
  asio::signal_set signals(control, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int signal) {
    spdlog::info("received signal {}, shutting down", signal);
    for (auto& l : listeners.sessions) l->stop();
    listeners.admin->stop();
    controller->stop();
    control.stop();
  });
  control.run();
  workers.stop();
  return 0;
}

// nullopt when the file cannot be read.
std::optional<std::string> read_password_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  std::string password = text.str();
  // Files written by `echo` or Kubernetes tools often end with a newline that is no part of it.
  while (!password.empty() && (password.back() == '\n' || password.back() == '\r')) {
    password.pop_back();
  }
  return password;
}

}  // namespace
}  // namespace sqlproxy::server

int main(int argc, char** argv) {
  using namespace sqlproxy::server;  // NOLINT(google-build-using-namespace)
  std::vector<std::string> args(argv + 1, argv + argc);
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) env.emplace_back(*e);
  auto config = parse_config(args, env);
  if (!config) {
    if (config.error().exit_code == 0) {
      std::fputs(config.error().help_text.c_str(), stdout);
      return 0;
    }
    std::fprintf(stderr, "sqlproxy: %s\nRun 'sqlproxy -help' for the flags.\n",
                 config.error().message.c_str());
    return config.error().exit_code;
  }
  if (!common::init_logging(config->log_level)) {
    std::fprintf(stderr, "sqlproxy: invalid -log-level %s\n", config->log_level.c_str());
    return 2;
  }
  for (const std::string& warning : config->warnings) spdlog::warn("{}", warning);
  if (!config->monitor_password_file.empty()) {
    auto password = read_password_file(config->monitor_password_file);
    if (!password) {
      std::fprintf(stderr, "sqlproxy: cannot read -monitor-password-file %s\n",
                   config->monitor_password_file.c_str());
      return 2;
    }
    config->monitor_password = std::move(*password);
  }
  return serve(*config);
}
