#pragma once
// Prober: polls one backend's Galera status over MariaDB Connector/C on its own thread.
//
// Every probe_interval it runs one round trip on one persistent connection:
//   SHOW GLOBAL STATUS WHERE Variable_name IN (...); SHOW GLOBAL VARIABLES WHERE ... IN (...)
// (two result sets of one multi-statement query; SHOW still answers on a non-Primary node and
// under wsrep_reject_queries=ALL, where table reads fail). The answer, or the failure, becomes a
// Sample handed to the callback. On any failure the connection is dropped and the next probe
// reconnects. Connect, read and write timeouts bound every probe (Connector/C counts them in
// whole seconds, minimum 1 s).
//
// Owner: HealthMonitor (or a test). Thread model: start() spawns the probing thread; the callback
// runs on that thread, one call at a time, and must not block for long nor call stop(). stop()
// (also run by the destructor) returns after the thread ended, which can take up to one probe's
// timeouts. Not copyable or movable.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "common/clock.h"
#include "sqlproxy/health/galera_state.h"

namespace sqlproxy::health {

struct ProberConfig {
  std::string host;  // IP address or name
  std::uint16_t port = 3306;
  std::string user;
  std::string password;  // never logged
  std::chrono::milliseconds probe_interval{250};
  std::chrono::seconds connect_timeout{1};
  std::chrono::seconds read_timeout{1};
  std::chrono::seconds write_timeout{1};
};

class Prober {
 public:
  using Callback = std::function<void(const Sample& sample, common::SteadyTime taken)>;

  // `clock` stamps samples and must outlive the Prober.
  Prober(ProberConfig config, const common::Clock& clock, Callback callback);
  ~Prober();
  Prober(const Prober&) = delete;
  Prober& operator=(const Prober&) = delete;

  void start();  // at most once
  void stop();   // idempotent

  // One probe on the calling thread with a fresh connection, for tools and tests. Thread-safe
  // with respect to a running prober (it uses its own connection).
  static Sample probe_once(const ProberConfig& config);

  // The query every probe sends (one round trip, two result sets).
  static const std::string& query();

 private:
  void run();

  ProberConfig config_;
  const common::Clock& clock_;
  Callback callback_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace sqlproxy::health
