#include "sqlproxy/health/prober.h"

#include <fmt/format.h>
#include <mysql.h>

#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "common/check.h"

namespace sqlproxy::health {
namespace {

using Rows = std::vector<std::pair<std::string, std::string>>;
using SteadyClock = std::chrono::steady_clock;

// mysql_library_init is not thread-safe; mysql_init calls it implicitly, so call it once here
// before the first prober thread does.
void init_library_once() {
  static std::once_flag once;
  std::call_once(once, [] { CHECK(mysql_library_init(0, nullptr, nullptr) == 0, "libmariadb"); });
}

// One Connector/C connection, owned by one thread.
class Connection {
 public:
  explicit Connection(const ProberConfig& config) : config_(config) {}
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() { reset(); }

  bool connected() const { return mysql_ != nullptr; }
  void reset() {
    if (mysql_ != nullptr) mysql_close(mysql_);
    mysql_ = nullptr;
  }

  // Returns an error message, or empty on success.
  std::string connect() {
    reset();
    mysql_ = mysql_init(nullptr);
    if (mysql_ == nullptr) return "mysql_init: out of memory";
    auto seconds = [](std::chrono::seconds value) {
      return static_cast<unsigned int>(std::max<std::int64_t>(1, value.count()));
    };
    const unsigned int connect_timeout = seconds(config_.connect_timeout);
    const unsigned int read_timeout = seconds(config_.read_timeout);
    const unsigned int write_timeout = seconds(config_.write_timeout);
    const unsigned int protocol = MYSQL_PROTOCOL_TCP;
    const my_bool no = 0;
    mysql_options(mysql_, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
    mysql_options(mysql_, MYSQL_OPT_READ_TIMEOUT, &read_timeout);
    mysql_options(mysql_, MYSQL_OPT_WRITE_TIMEOUT, &write_timeout);
    mysql_options(mysql_, MYSQL_OPT_PROTOCOL, &protocol);
    mysql_options(mysql_, MYSQL_OPT_RECONNECT, &no);
    if (mysql_real_connect(mysql_, config_.host.c_str(), config_.user.c_str(),
                           config_.password.c_str(), nullptr, config_.port, nullptr,
                           CLIENT_MULTI_STATEMENTS) == nullptr) {
      std::string error = fmt::format("connect: {} ({})", mysql_error(mysql_), mysql_errno(mysql_));
      reset();
      return error;
    }
    return {};
  }

  // Runs the query and collects (name, value) rows of every result set. Returns an error message
  // or empty on success.
  std::string query(const std::string& sql, Rows& rows) {
    if (mysql_real_query(mysql_, sql.data(), sql.size()) != 0) return error("query");
    for (;;) {
      MYSQL_RES* result = mysql_store_result(mysql_);
      if (result != nullptr) {
        std::unique_ptr<MYSQL_RES, decltype(&mysql_free_result)> owner(result, mysql_free_result);
        while (MYSQL_ROW row = mysql_fetch_row(result)) {
          if (mysql_num_fields(result) >= 2 && row[0] != nullptr) {
            rows.emplace_back(row[0], row[1] != nullptr ? row[1] : "");
          }
        }
      } else if (mysql_field_count(mysql_) != 0) {
        return error("store result");
      }
      const int next = mysql_next_result(mysql_);
      if (next < 0) return {};
      if (next > 0) return error("next result");
    }
  }

 private:
  std::string error(const char* what) {
    return fmt::format("{}: {} ({})", what, mysql_error(mysql_), mysql_errno(mysql_));
  }

  const ProberConfig& config_;
  MYSQL* mysql_ = nullptr;
};

// One probe on `connection` (connecting first when needed). Drops the connection on failure so
// that the next probe starts clean.
Sample probe(Connection& connection) {
  const auto started = SteadyClock::now();
  Sample sample;
  std::string error;
  Rows rows;
  if (!connection.connected()) error = connection.connect();
  if (error.empty()) error = connection.query(Prober::query(), rows);
  if (error.empty()) {
    auto parsed = sample_from_rows(rows);
    if (parsed) {
      sample = std::move(*parsed);
    } else {
      error = "wsrep_local_state missing: not a Galera node";
    }
  }
  if (!error.empty()) {
    connection.reset();
    sample.probe_error = std::move(error);
  }
  sample.probe_latency =
      std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - started);
  return sample;
}

}  // namespace

const std::string& Prober::query() {
  static const std::string kQuery =
      "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_local_state',"
      "'wsrep_local_state_comment','wsrep_cluster_status','wsrep_ready','wsrep_connected',"
      "'wsrep_local_recv_queue','wsrep_local_index','wsrep_cluster_state_uuid',"
      "'wsrep_cluster_conf_id','wsrep_cluster_size');"
      "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('wsrep_desync','wsrep_reject_queries',"
      "'wsrep_sst_donor_rejects_queries','read_only','pxc_maint_mode')";
  return kQuery;
}

Prober::Prober(ProberConfig config, const common::Clock& clock, Callback callback)
    : config_(std::move(config)), clock_(clock), callback_(std::move(callback)) {
  CHECK(config_.probe_interval.count() > 0, "probe_interval must be positive");
}

Prober::~Prober() { stop(); }

void Prober::start() {
  CHECK(!thread_.joinable(), "Prober {}:{} started twice", config_.host, config_.port);
  init_library_once();
  thread_ = std::thread([this] { run(); });
}

void Prober::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Sample Prober::probe_once(const ProberConfig& config) {
  init_library_once();
  Connection connection(config);
  return probe(connection);
}

void Prober::run() {
  Connection connection(config_);
  // Fixed rate: probes start every interval; a slow probe (timeouts) delays the next one instead
  // of letting them pile up.
  auto next = SteadyClock::now();
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      if (wake_.wait_until(lock, next, [this] { return stopping_; })) return;
    }
    const Sample sample = probe(connection);
    callback_(sample, clock_.steady_now());
    next = std::max(next + config_.probe_interval, SteadyClock::now());
  }
}

}  // namespace sqlproxy::health
