#pragma once
// Galera node classification: one status Sample (the wsrep status and variables a prober read, or
// the probe's failure) -> NodeHealth (Writable, ReadOnly, Draining or Offline, with the reason).
// Pure: no I/O, no clock, no threads. The rules follow the states MariaDB 10.11 + Galera 4 show
// (recorded in test/testdata/galera/, facts in the project's galera-on-loopback notes).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace sqlproxy::health {

// wsrep_local_state values (Galera's gcs node states as the server reports them).
enum class LocalState : std::uint8_t {
  Unknown = 255,  // absent or not a number
  Initialized = 0,
  Joining = 1,
  DonorDesynced = 2,
  Joined = 3,
  Synced = 4,
};

// What a node may be used for. Ordered from least to most usable; HealthTracker relies on it.
enum class State : std::uint8_t {
  Offline = 0,   // no new sessions; existing sessions are closed (dead, non-Primary, fenced)
  Draining = 1,  // no new sessions; existing ones finish (idle or grace period), then close
  ReadOnly = 2,  // reads only: may serve the read-only port, never the writer
  Writable = 3,  // may be the writer
};

std::string_view state_name(State state);  // "writable", "read_only", "draining", "offline"

// One probe of one backend. Either probe_error is set (connect/query failed; the status fields
// are then meaningless) or the fields hold what the server answered. Absent variables keep their
// defaults, which are the values a MariaDB server without that variable behaves as.
struct Sample {
  std::optional<std::string> probe_error;  // set when the probe failed: the client's message
  std::chrono::microseconds probe_latency{0};

  // SHOW GLOBAL STATUS
  LocalState wsrep_local_state = LocalState::Unknown;
  std::string wsrep_local_state_comment;  // "Synced", "Donor/Desynced", "Joining: ...", ...
  std::string wsrep_cluster_status;       // "Primary", "non-Primary", "Disconnected"
  bool wsrep_ready = false;
  bool wsrep_connected = false;
  std::int64_t wsrep_local_recv_queue = 0;
  std::int64_t wsrep_local_index = -1;  // the server prints -1 as 18446744073709551615
  std::int64_t wsrep_cluster_conf_id = -1;
  std::int64_t wsrep_cluster_size = 0;
  std::string wsrep_cluster_state_uuid;
  // SHOW GLOBAL VARIABLES
  bool wsrep_desync = false;
  std::string wsrep_reject_queries = "NONE";  // NONE, ALL, ALL_KILL
  bool wsrep_sst_donor_rejects_queries = false;
  bool read_only = false;
  std::string pxc_maint_mode = "DISABLED";  // Percona XtraDB Cluster only: DISABLED, SHUTDOWN,
                                            // MAINTENANCE; absent on MariaDB = DISABLED

  bool ok() const { return !probe_error.has_value(); }
  bool primary() const { return ok() && wsrep_cluster_status == "Primary"; }
};

// Builds a Sample from (Variable_name, Value) rows of SHOW GLOBAL STATUS / VARIABLES. Names are
// matched case-insensitively; unknown names are ignored; absent ones keep the Sample defaults.
// Fails (errc::invalid_argument) only when wsrep_local_state is missing: the server then is not a
// Galera node and must not be classified as one.
common::Result<Sample> sample_from_rows(
    const std::vector<std::pair<std::string, std::string>>& rows);

struct ClassifierConfig {
  // A state-transfer Donor (desync OFF) that does not reject queries
  // (wsrep_sst_donor_rejects_queries=OFF) is used as if it were Synced. Off: it drains (after
  // HealthTracker's donor grace). An IST donor serves from gcache without blocking; an rsync
  // SST donor blocks writes (FTWRL) for the whole copy.
  bool allow_donor = false;
};

struct NodeHealth {
  State state = State::Offline;
  std::string reason;  // one line for logs and /status, e.g. "wsrep_desync=ON"

  friend bool operator==(const NodeHealth&, const NodeHealth&) = default;
};

// Classifies one sample on its own; history (failed-probe counts, hysteresis) is HealthTracker's.
// First matching rule wins:
//   probe failed                                  -> Offline
//   wsrep_connected OFF / cluster_status != Primary / wsrep_ready OFF -> Offline
//   wsrep_reject_queries != NONE                  -> Offline (table access fails with 1047;
//   ALL_KILL
//                                                    already kills sessions)
//   wsrep_local_state Initialized/Joining/Unknown -> Offline
//   pxc_maint_mode != DISABLED                    -> Draining
//   wsrep_desync ON                               -> Draining
//   Donor (desync OFF): rejecting queries or not allowed -> Draining, allowed -> as Synced
//   Joined (catching up)                          -> Draining
//   read_only ON                                  -> ReadOnly
//   otherwise (Synced)                            -> Writable
NodeHealth classify(const Sample& sample, const ClassifierConfig& config);

// True when the sample is a state-transfer donor (Donor/Desynced with wsrep_desync OFF) that
// would be usable if donors were allowed: nothing but the donor role keeps it from use.
bool transfer_donor_only(const Sample& sample);

}  // namespace sqlproxy::health
