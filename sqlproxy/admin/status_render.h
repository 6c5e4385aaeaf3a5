#pragma once
// Pure rendering of the admin answers from a StatusSnapshot and the session counts: the /status
// JSON document and the per-backend Prometheus families that /metrics appends to the process
// registry's text. No I/O; thread-free.

#include <cstddef>
#include <map>
#include <string>

#include "sqlproxy/admin/status.h"

namespace sqlproxy::admin {

// Session counts per backend name (SessionRegistry::counts()).
using SessionCounts = std::map<std::string, std::size_t>;

// The sessions registered under `name` (a backend name, or one with kReaderKeySuffix); 0 when
// there are none.
std::size_t sessions_of(const SessionCounts& sessions, const std::string& name);

// {"ready":..,"writer":..,"writer_reason":..,"writer_changes":..,"backend_source":..,
//  "sessions":N,"backends":[{"name","address","state","reason","writer","sessions",
//  "probe_latency_ms","probes","probe_failures","details":{..}}]}
std::string render_status_json(const StatusSnapshot& snapshot, const SessionCounts& sessions);

// sqlproxy_backend_state{backend,state} (1 for the current state, 0 for the others),
// sqlproxy_backend_writer{backend}, sqlproxy_backend_sessions{backend},
// sqlproxy_backend_probe_latency_seconds{backend}, sqlproxy_writer_changes_total,
// sqlproxy_has_writer: Prometheus text format 0.0.4, one family after another.
std::string render_backend_metrics(const StatusSnapshot& snapshot, const SessionCounts& sessions);

}  // namespace sqlproxy::admin
