#include "sqlproxy/health/galera_state.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace sqlproxy::health {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string upper(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

// MariaDB prints boolean variables as ON/OFF; 1/0 and TRUE/FALSE are accepted for robustness.
bool parse_bool(std::string_view text) {
  const std::string value = upper(text);
  return value == "ON" || value == "1" || value == "TRUE" || value == "YES";
}

// The server prints unsigned 64-bit counters; -1 comes out as 18446744073709551615. Parsing as
// unsigned and converting keeps that meaning.
std::int64_t parse_int(std::string_view text, std::int64_t fallback) {
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size()) {
    std::int64_t signed_value = 0;
    const auto [send, serror] =
        std::from_chars(text.data(), text.data() + text.size(), signed_value);
    return serror == std::errc{} && send == text.data() + text.size() ? signed_value : fallback;
  }
  return static_cast<std::int64_t>(value);
}

LocalState parse_local_state(std::string_view text) {
  const std::int64_t value = parse_int(text, -1);
  if (value < 0 || value > static_cast<std::int64_t>(LocalState::Synced)) {
    return LocalState::Unknown;
  }
  return static_cast<LocalState>(value);
}

void apply_row(Sample& sample, const std::string& name, const std::string& value) {
  if (name == "wsrep_local_state")
    sample.wsrep_local_state = parse_local_state(value);
  else if (name == "wsrep_local_state_comment")
    sample.wsrep_local_state_comment = value;
  else if (name == "wsrep_cluster_status")
    sample.wsrep_cluster_status = value;
  else if (name == "wsrep_ready")
    sample.wsrep_ready = parse_bool(value);
  else if (name == "wsrep_connected")
    sample.wsrep_connected = parse_bool(value);
  else if (name == "wsrep_local_recv_queue")
    sample.wsrep_local_recv_queue = parse_int(value, 0);
  else if (name == "wsrep_local_index")
    sample.wsrep_local_index = parse_int(value, -1);
  else if (name == "wsrep_cluster_conf_id")
    sample.wsrep_cluster_conf_id = parse_int(value, -1);
  else if (name == "wsrep_cluster_size")
    sample.wsrep_cluster_size = parse_int(value, 0);
  else if (name == "wsrep_cluster_state_uuid")
    sample.wsrep_cluster_state_uuid = value;
  else if (name == "wsrep_desync")
    sample.wsrep_desync = parse_bool(value);
  else if (name == "wsrep_reject_queries")
    sample.wsrep_reject_queries = upper(value);
  else if (name == "wsrep_sst_donor_rejects_queries")
    sample.wsrep_sst_donor_rejects_queries = parse_bool(value);
  else if (name == "read_only")
    sample.read_only = parse_bool(value);
  else if (name == "pxc_maint_mode")
    sample.pxc_maint_mode = upper(value);
}

NodeHealth offline(std::string reason) { return {State::Offline, std::move(reason)}; }
NodeHealth draining(std::string reason) { return {State::Draining, std::move(reason)}; }

// Rules that make a node unusable for any query: the server answers, but a session there cannot
// work (1047 "WSREP has not yet prepared node", 1180 on commit, killed sessions).
std::optional<NodeHealth> offline_rule(const Sample& s) {
  if (!s.ok()) return offline(fmt::format("probe failed: {}", *s.probe_error));
  if (!s.wsrep_connected) return offline("wsrep_connected=OFF");
  if (s.wsrep_cluster_status != "Primary") {
    return offline(fmt::format("wsrep_cluster_status={}", s.wsrep_cluster_status));
  }
  if (!s.wsrep_ready) return offline("wsrep_ready=OFF");
  if (s.wsrep_reject_queries != "NONE") {
    return offline(fmt::format("wsrep_reject_queries={}", s.wsrep_reject_queries));
  }
  switch (s.wsrep_local_state) {
    case LocalState::Initialized:
    case LocalState::Joining:
    case LocalState::Unknown:
      return offline(fmt::format("wsrep_local_state={} ({})", static_cast<int>(s.wsrep_local_state),
                                 s.wsrep_local_state_comment));
    default:
      return std::nullopt;
  }
}

}  // namespace

std::string_view state_name(State state) {
  switch (state) {
    case State::Writable:
      return "writable";
    case State::ReadOnly:
      return "read_only";
    case State::Draining:
      return "draining";
    case State::Offline:
      return "offline";
  }
  return "unknown";
}

common::Result<Sample> sample_from_rows(
    const std::vector<std::pair<std::string, std::string>>& rows) {
  Sample sample;
  bool has_local_state = false;
  for (const auto& [raw_name, value] : rows) {
    const std::string name = lower(raw_name);
    has_local_state = has_local_state || name == "wsrep_local_state";
    apply_row(sample, name, value);
  }
  if (!has_local_state)
    return boost::system::errc::make_error_code(boost::system::errc::invalid_argument);
  return sample;
}

bool transfer_donor_only(const Sample& sample) {
  if (sample.wsrep_local_state != LocalState::DonorDesynced) return false;
  const State allowed = classify(sample, ClassifierConfig{.allow_donor = true}).state;
  return allowed == State::Writable || allowed == State::ReadOnly;
}

NodeHealth classify(const Sample& s, const ClassifierConfig& config) {
  if (auto health = offline_rule(s)) return *health;
  // Maintenance and desync: the node works, so running transactions may finish, but it asked
  // not to get new work (PXC shutdown waits pxc_maint_transition_period for exactly this).
  if (s.pxc_maint_mode != "DISABLED") {
    return draining(fmt::format("pxc_maint_mode={}", s.pxc_maint_mode));
  }
  if (s.wsrep_desync) return draining("wsrep_desync=ON");
  if (s.wsrep_local_state == LocalState::DonorDesynced) {
    // desync OFF here, so the node is a state-transfer donor.
    if (s.wsrep_sst_donor_rejects_queries) return draining("donor rejecting queries");
    if (!config.allow_donor) return draining("donor (allow_donor off)");
    // Allowed: used like a synced node (an IST donor serves from gcache without blocking; an
    // rsync SST donor blocks writes for the copy, which the operator accepted).
    if (s.read_only) return {State::ReadOnly, "donor (allowed), read_only=ON"};
    return {State::Writable, "donor (allowed)"};
  }
  if (s.wsrep_local_state == LocalState::Joined) {
    return draining(fmt::format("joined, catching up (recv queue {})", s.wsrep_local_recv_queue));
  }
  if (s.read_only) return {State::ReadOnly, "read_only=ON"};
  return {State::Writable, "synced"};
}

}  // namespace sqlproxy::health
