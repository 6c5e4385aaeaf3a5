#include "sqlproxy/routing/router.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace sqlproxy::routing {
namespace {

using health::BackendStatus;
using health::State;

// Weight descending, then name ascending: a total order, so every proxy sorts alike.
bool preferred(const BackendStatus* a, const BackendStatus* b) {
  if (a->weight != b->weight) return a->weight > b->weight;
  return a->name < b->name;
}

struct Group {
  std::string uuid;
  std::vector<const BackendStatus*> members;  // sorted by preferred()
  std::int64_t cluster_size = 0;
};

std::map<std::string, Group> eligible_groups(const ClusterView& view) {
  std::map<std::string, Group> groups;
  for (const auto& backend : view.backends) {
    const std::string& uuid = backend.sample.wsrep_cluster_state_uuid;
    if (!backend.usable() || uuid.empty()) continue;
    Group& group = groups[uuid];
    group.uuid = uuid;
    group.members.push_back(&backend);
    group.cluster_size = std::max(group.cluster_size, backend.sample.wsrep_cluster_size);
  }
  for (auto& [uuid, group] : groups) {
    std::sort(group.members.begin(), group.members.end(), preferred);
  }
  return groups;
}

const Group* choose_group(const std::map<std::string, Group>& groups,
                          const BackendStatus* previous) {
  if (previous != nullptr && previous->usable()) {
    auto it = groups.find(previous->sample.wsrep_cluster_state_uuid);
    if (it != groups.end()) return &it->second;
  }
  const Group* best = nullptr;
  // std::map iterates UUIDs in ascending order, so on a full tie the smaller UUID stays best.
  for (const auto& [uuid, group] : groups) {
    if (best == nullptr || group.members.size() > best->members.size() ||
        (group.members.size() == best->members.size() && group.cluster_size > best->cluster_size)) {
      best = &group;
    }
  }
  return best;
}

const BackendStatus* writable_member(const Group& group, const std::string& name) {
  for (const auto* member : group.members) {
    if (member->name == name && member->health.state == State::Writable) return member;
  }
  return nullptr;
}

// Picks the writer and says why (rule 3 of the header).
const BackendStatus* choose_writer(const Group& group, const BackendStatus* previous,
                                   const RoutingConfig& config, std::string& reason) {
  if (config.prefer_writer) {
    if (const auto* preferred_writer = writable_member(group, *config.prefer_writer)) {
      reason = "preferred by configuration";
      return preferred_writer;
    }
  }
  if (previous != nullptr && !config.failback) {
    if (const auto* kept = writable_member(group, previous->name)) {
      reason = "previous writer still writable";
      return kept;
    }
  }
  for (const auto* member : group.members) {
    if (member->health.state != State::Writable) continue;
    if (previous == nullptr) {
      reason = "first writable by weight and name";
    } else if (previous->name == member->name) {
      reason = "previous writer is the best by weight and name";
    } else {
      reason = fmt::format("previous writer {} is {}: {}", previous->name,
                           health::state_name(previous->health.state), previous->health.reason);
    }
    return member;
  }
  reason = "no writable backend";
  return nullptr;
}

std::vector<std::string> choose_readers(const Group& group, const BackendStatus* writer,
                                        const RoutingConfig& config) {
  std::vector<std::string> readers;
  for (const auto* member : group.members) {
    if (member != writer || config.readers_include_writer) readers.push_back(member->name);
  }
  if (readers.empty() && writer != nullptr) readers.push_back(writer->name);
  return readers;
}

// A backend never probed yet may turn out to be the best writer; see rule 3 of the header.
bool has_unprobed(const ClusterView& view) {
  return std::any_of(view.backends.begin(), view.backends.end(),
                     [](const BackendStatus& backend) { return backend.probes == 0; });
}

}  // namespace

Decision route(const ClusterView& view, const std::optional<std::string>& previous_writer,
               const RoutingConfig& config) {
  Decision decision;
  const BackendStatus* previous = previous_writer ? view.find(*previous_writer) : nullptr;
  const auto groups = eligible_groups(view);
  const Group* group = choose_group(groups, previous);
  if (group == nullptr) {
    decision.reason = "no usable backend";
    if (previous_writer && previous == nullptr) {
      decision.reason += fmt::format(" (previous writer {} removed)", *previous_writer);
    } else if (previous != nullptr) {
      decision.reason +=
          fmt::format(" (previous writer {} is {}: {})", previous->name,
                      health::state_name(previous->health.state), previous->health.reason);
    }
  } else {
    decision.cluster_state_uuid = group->uuid;
    std::string why;
    const BackendStatus* writer = nullptr;
    if (!previous_writer && has_unprobed(view)) {
      why = "waiting for the first probe of every backend";
    } else {
      writer = choose_writer(*group, previous, config, why);
    }
    if (writer != nullptr) decision.writer = writer->name;
    decision.readers = choose_readers(*group, writer, config);
    if (previous_writer && previous == nullptr && writer != nullptr) {
      why = fmt::format("previous writer {} removed", *previous_writer);
    }
    decision.reason = groups.size() > 1 ? fmt::format("{} (cluster {} chosen of {} state UUIDs)",
                                                      why, group->uuid, groups.size())
                                        : why;
  }
  decision.writer_changed = decision.writer != previous_writer;
  return decision;
}

}  // namespace sqlproxy::routing
