#pragma once
// DnsSource: backends from a DNS name (a Kubernetes headless Service), re-resolved periodically.
// Every address the name resolves to becomes a backend `address:port`.
//
// Owner: the proxy's server. Runs as a coroutine on the given executor (use a single-threaded
// io_context or a strand); the callback runs there, first after the first successful resolution,
// then only when the address set changes. A failed resolution keeps the last set (a DNS hiccup
// must not empty the pool) and is logged once per failure streak. stop() (also the destructor)
// ends the loop; the coroutine keeps its own state alive until it has finished, so destroying
// the source before the executor stops is safe, but the callback must stay valid until then.

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "sqlproxy/backends/backend_list.h"

namespace sqlproxy::backends {

struct DnsSourceConfig {
  std::string name;  // DNS name to resolve
  std::uint16_t port = 3306;
  std::chrono::milliseconds interval{5000};
};

class DnsSource {
 public:
  DnsSource(const boost::asio::any_io_executor& executor, DnsSourceConfig config,
            BackendsCallback callback);
  ~DnsSource();
  DnsSource(const DnsSource&) = delete;
  DnsSource& operator=(const DnsSource&) = delete;

  void start();  // at most once
  void stop();   // thread-safe, idempotent

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace sqlproxy::backends
