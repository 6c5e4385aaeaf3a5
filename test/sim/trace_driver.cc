#include "test/sim/trace_driver.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <sstream>

#include "test/sim/format.h"

namespace raft::sim {

namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(s);
  while (std::getline(in, item, sep)) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

uint64_t number(const std::string& s) { return std::strtoull(s.c_str(), nullptr, 10); }

std::string result(const Result<void>& r) {
  return r ? "ok" : fmt::format("error: {}", to_string(r.error()));
}

std::string summary_line(uint64_t id, Role role, uint64_t term, uint64_t lead, uint64_t commit) {
  return fmt::format("{}: {} term={} lead={} commit={}", id, to_string(role), term, lead, commit);
}

}  // namespace

std::string TraceDriver::run(const std::string& line) {
  const std::vector<std::string> args = split(line, ' ');
  if (args.empty()) return "error: empty command";
  const std::string& cmd = args[0];
  auto arg = [&](size_t i) { return i < args.size() ? number(args[i]) : 0; };
  auto has = [&](uint64_t id) { return members_.count(id) != 0 && members_.at(id).node; };
  if (cmd == "add-nodes") return add_nodes(args);
  if (cmd == "stabilize") return stabilize(true);
  if (cmd == "process-ready") return process_ready(args);
  if (cmd == "deliver-msgs") return deliver_msgs(args);
  if (cmd == "drop-msgs") return drop_msgs(args);
  if (cmd == "heal") {
    cut_.clear();
    return "ok";
  }
  if (cmd == "raft-state") return raft_state();
  if (cmd == "tick") return tick(args, true);
  if (cmd == "tick-only") return tick(args, false);
  if (cmd == "partition" && args.size() == 2) return partition(args[1]);
  if (cmd == "cut" && args.size() == 3) {
    cut_.insert({arg(1), arg(2)});
    return "ok";
  }
  if (cmd == "isolate" && args.size() == 2) {
    for (const auto& [other, m] : members_) {
      if (other != arg(1)) cut_.insert({arg(1), other}), cut_.insert({other, arg(1)});
    }
    return "ok";
  }
  if (cmd == "restart") return restart(arg(1));
  if (args.size() < 2 || !has(arg(1))) return fmt::format("error: no live member in '{}'", line);
  const uint64_t id = arg(1);
  if (cmd == "campaign") return result(node(id).campaign());
  if (cmd == "propose" && args.size() == 3) return result(node(id).propose(args[2]));
  if (cmd == "read-index" && args.size() == 3) return result(node(id).read_index(args[2]));
  if (cmd == "transfer-leader") return result(node(id).transfer_leadership(arg(2)));
  if (cmd == "conf-change" && args.size() == 4) return conf_change(args);
  if (cmd == "crash") return crash(id);
  if (cmd == "compact") return compact(id, arg(2));
  if (cmd == "status") return status(id);
  if (cmd == "log") return log(id);
  return fmt::format("error: unknown command '{}'", line);
}

std::string TraceDriver::add_nodes(const std::vector<std::string>& args) {
  const uint64_t count = args.size() > 1 ? number(args[1]) : 0;
  for (size_t i = 2; i < args.size(); ++i) {
    const auto kv = split(args[i], '=');
    if (kv.size() != 2) return fmt::format("error: bad option '{}'", args[i]);
    if (kv[0] == "pre-vote") {
      base_.pre_vote = kv[1] == "true";
    } else if (kv[0] == "check-quorum") {
      base_.check_quorum = kv[1] == "true";
    } else if (kv[0] == "max-size") {
      base_.max_size_per_msg = number(kv[1]);
    } else if (kv[0] == "max-inflight") {
      base_.max_inflight_msgs = number(kv[1]);
    } else {
      return fmt::format("error: unknown option '{}'", kv[0]);
    }
  }
  pb::ConfState conf;
  for (uint64_t id = 1; id <= count; ++id) conf.add_voters(id);
  for (uint64_t id = 1; id <= count; ++id) start(id, conf);
  return describe(conf);
}

Config TraceDriver::config_for(uint64_t id, uint64_t applied) const {
  Config config = base_;
  config.id = id;
  config.seed = id * 7919 + 17;
  config.applied = applied;
  return config;
}

void TraceDriver::start(uint64_t id, const pb::ConfState& conf) {
  Member& m = members_[id];
  m.storage = std::make_unique<MemoryStorage>(conf);
  m.node = std::make_unique<Node>(config_for(id, 0), *m.storage);
}

Node& TraceDriver::node(uint64_t id) { return *members_.at(id).node; }

std::map<uint64_t, TraceDriver::Summary> TraceDriver::summaries() const {
  std::map<uint64_t, Summary> out;
  for (const auto& [id, m] : members_) {
    if (m.node) {
      out[id] = {m.node->role(), m.node->term(), m.node->leader(), m.node->log().committed()};
    }
  }
  return out;
}

std::string TraceDriver::tick(const std::vector<std::string>& args, bool deliver) {
  const uint64_t rounds = args.size() > 1 ? number(args[1]) : 1;
  std::set<uint64_t> ids;
  for (size_t i = 2; i < args.size(); ++i) ids.insert(number(args[i]));
  const auto before = summaries();
  for (uint64_t r = 0; r < rounds; ++r) {
    for (auto& [id, m] : members_) {
      if (m.node && (ids.empty() || ids.count(id) != 0)) m.node->tick();
    }
    if (deliver) stabilize(false);
  }
  std::string out;
  for (const auto& [id, now] : summaries()) {
    auto it = before.find(id);
    if (it != before.end() && it->second.role == now.role && it->second.term == now.term &&
        it->second.lead == now.lead && it->second.commit == now.commit) {
      continue;
    }
    out += (out.empty() ? "" : "\n") + summary_line(id, now.role, now.term, now.lead, now.commit);
  }
  for (const std::string& read : quiet_reads_) out += (out.empty() ? "" : "\n") + read;
  quiet_reads_.clear();
  return out.empty() ? "ok" : out;
}

std::string TraceDriver::stabilize(bool print) {
  std::string out;
  auto emit = [&](const std::string& s) {
    if (print && !s.empty()) out += (out.empty() ? "" : "\n") + s;
  };
  for (int round = 0; round < 10000; ++round) {
    bool moved = false;
    for (auto& [id, m] : members_) {
      while (m.node && m.node->has_ready()) {
        emit(handle_ready(id, print));
        moved = true;
      }
    }
    std::vector<pb::Message> batch;
    batch.swap(queue_);
    for (const pb::Message& message : batch) {
      moved = true;
      auto it = members_.find(message.to());
      if (cut_.count({message.from(), message.to()}) != 0 || it == members_.end() ||
          !it->second.node) {
        emit("dropped: " + describe(message));
        continue;
      }
      (void)it->second.node->step(message);
    }
    if (!moved) return out.empty() ? "ok" : out;
  }
  return out + "\nerror: the cluster did not settle";
}

std::string TraceDriver::process_ready(const std::vector<std::string>& args) {
  std::string out;
  for (size_t i = 1; i < args.size(); ++i) {
    const uint64_t id = number(args[i]);
    auto it = members_.find(id);
    if (it == members_.end() || !it->second.node)
      return fmt::format("error: no live member {}", id);
    while (it->second.node->has_ready()) out += (out.empty() ? "" : "\n") + handle_ready(id, true);
  }
  return out.empty() ? "ok" : out;
}

std::string TraceDriver::deliver_msgs(const std::vector<std::string>& args) {
  std::set<uint64_t> to;
  for (size_t i = 1; i < args.size(); ++i) to.insert(number(args[i]));
  std::vector<pb::Message> batch;
  std::vector<pb::Message> keep;
  for (pb::Message& m : queue_) (to.count(m.to()) != 0 ? batch : keep).push_back(std::move(m));
  queue_ = std::move(keep);
  std::string out;
  for (const pb::Message& m : batch) {
    auto it = members_.find(m.to());
    const bool lost =
        cut_.count({m.from(), m.to()}) != 0 || it == members_.end() || !it->second.node;
    out +=
        (out.empty() ? "" : "\n") + std::string(lost ? "dropped: " : "delivered: ") + describe(m);
    if (!lost) (void)it->second.node->step(m);
  }
  return out.empty() ? "ok" : out;
}

std::string TraceDriver::drop_msgs(const std::vector<std::string>& args) {
  const uint64_t from = args.size() > 1 ? number(args[1]) : 0;
  const uint64_t to = args.size() > 2 ? number(args[2]) : 0;
  std::string out;
  std::erase_if(queue_, [&](const pb::Message& m) {
    if (m.from() != from || (to != 0 && m.to() != to)) return false;
    out += (out.empty() ? "" : "\n") + std::string("dropped: ") + describe(m);
    return true;
  });
  return out.empty() ? "ok" : out;
}

std::string TraceDriver::handle_ready(uint64_t id, bool print) {
  Member& m = members_.at(id);
  const Ready rd = m.node->ready();
  std::string out = fmt::format("> {} ready: {} term={} lead={}", id, to_string(rd.role),
                                m.node->term(), rd.leader);
  if (rd.snapshot) {
    (void)m.storage->apply_snapshot(*rd.snapshot);
    const pb::SnapshotMetadata& meta = rd.snapshot->metadata();
    out += fmt::format("\n  snapshot: {}/{} {}", meta.term(), meta.index(),
                       describe(meta.conf_state()));
  }
  if (rd.hard_state) {
    m.storage->set_hard_state(*rd.hard_state);
    out += "\n  hard state: " + describe(*rd.hard_state);
  }
  if (!rd.entries.empty()) {
    m.storage->append(rd.entries);
    out += "\n  entries: " + describe(rd.entries);
  }
  for (const pb::Message& message : rd.messages) {
    out += "\n  send: " + describe(message);
    queue_.push_back(message);
  }
  if (rd.snapshot) install(id, *rd.snapshot);
  for (const pb::Entry& entry : rd.committed_entries) out += "\n  apply: " + apply(id, entry);
  for (const ReadState& rs : rd.read_states) {
    out += fmt::format("\n  read state: index={} context={}", rs.index, rs.context);
    if (!print)
      quiet_reads_.push_back(
          fmt::format("{}: read state index={} context={}", id, rs.index, rs.context));
  }
  m.node->advance(rd);
  return print ? out : "";
}

std::string TraceDriver::apply(uint64_t id, const pb::Entry& entry) {
  Member& m = members_.at(id);
  m.applied_index = entry.index();
  auto [it, first] = applied_at_.try_emplace(entry.index(), describe(entry));
  if (!first && it->second != describe(entry)) {
    return fmt::format("{} SAFETY VIOLATION: {} was applied at index {} before", describe(entry),
                       it->second, entry.index());
  }
  if (entry.type() == pb::EntryConfChange) {
    pb::ConfChange change;
    if (!change.ParseFromString(entry.data())) return describe(entry) + " (unreadable)";
    const pb::ConfState conf = m.node->apply_conf_change(change);
    m.storage->set_conf_state(conf);
    return describe(entry) + " -> " + describe(conf);
  }
  if (!entry.data().empty()) m.applied.push_back(entry.data());
  return describe(entry);
}

void TraceDriver::install(uint64_t id, const pb::Snapshot& snapshot) {
  Member& m = members_.at(id);
  m.applied = split(snapshot.data(), '\n');
  m.applied_index = snapshot.metadata().index();
  m.storage->set_conf_state(snapshot.metadata().conf_state());
}

std::string TraceDriver::conf_change(const std::vector<std::string>& args) {
  pb::ConfChange change;
  if (args[2] == "add") {
    change.set_type(pb::ConfChangeAddNode);
  } else if (args[2] == "remove") {
    change.set_type(pb::ConfChangeRemoveNode);
  } else if (args[2] == "add-learner") {
    change.set_type(pb::ConfChangeAddLearnerNode);
  } else {
    return "error: conf-change ID add|remove|add-learner NODE";
  }
  change.set_node_id(number(args[3]));
  auto proposed = node(number(args[1])).propose_conf_change(change);
  std::string out = result(proposed);
  if (proposed && change.type() != pb::ConfChangeRemoveNode &&
      members_.count(change.node_id()) == 0) {
    // The new member starts empty and unconfigured; the leader brings it up with a snapshot.
    start(change.node_id(), pb::ConfState());
    out += fmt::format("\nstarted member {} (empty)", change.node_id());
  }
  return out;
}

std::string TraceDriver::partition(const std::string& spec) {
  std::vector<std::set<uint64_t>> groups;
  for (const std::string& group : split(spec, '|')) {
    std::set<uint64_t> ids;
    for (const std::string& id : split(group, ',')) ids.insert(number(id));
    groups.push_back(std::move(ids));
  }
  cut_.clear();
  for (const auto& [a, ma] : members_) {
    for (const auto& [b, mb] : members_) {
      bool together = false;
      for (const auto& group : groups) together |= group.count(a) != 0 && group.count(b) != 0;
      if (!together && a != b) cut_.insert({a, b});
    }
  }
  return "ok";
}

std::string TraceDriver::crash(uint64_t id) {
  members_.at(id).node.reset();
  std::erase_if(queue_, [id](const pb::Message& m) { return m.to() == id; });
  return "ok";
}

// The state machine survives only as the snapshot in storage: the restarted member rebuilds it
// from there and re-applies the committed entries after it.
std::string TraceDriver::restart(uint64_t id) {
  auto it = members_.find(id);
  if (it == members_.end() || it->second.node) return fmt::format("error: {} is not crashed", id);
  Member& m = it->second;
  auto snapshot = m.storage->snapshot();
  m.applied.clear();
  m.applied_index = 0;
  if (snapshot && snapshot->metadata().index() > 0) install(id, *snapshot);
  m.node = std::make_unique<Node>(config_for(id, m.applied_index), *m.storage);
  return fmt::format("{} (applied {}, log {}..{})", describe(m.storage->hard_state()),
                     m.applied_index, m.storage->first_index(), m.storage->last_index());
}

std::string TraceDriver::compact(uint64_t id, uint64_t index) {
  Member& m = members_.at(id);
  if (index > m.applied_index)
    return fmt::format("error: {} has applied only {}", id, m.applied_index);
  // The snapshot data is the applied list as of index: the entries applied after it are dropped.
  auto entries = m.storage->entries(index + 1, m.applied_index + 1, UINT64_MAX);
  size_t later = 0;
  if (entries) {
    for (const pb::Entry& e : *entries)
      later += (e.type() == pb::EntryNormal && !e.data().empty()) ? 1 : 0;
  }
  std::string data;
  for (size_t i = 0; i + later < m.applied.size(); ++i) data += m.applied[i] + "\n";
  auto made = m.storage->create_snapshot(index, m.node->conf_state(), data);
  if (!made) return fmt::format("error: {}", to_string(made.error()));
  auto compacted = m.storage->compact(index);
  if (!compacted) return fmt::format("error: {}", to_string(compacted.error()));
  return fmt::format("snapshot {}/{}, log {}..{}", made->metadata().term(), index,
                     m.storage->first_index(), m.storage->last_index());
}

std::string TraceDriver::status(uint64_t id) {
  const Status st = node(id).status();
  std::string out = fmt::format("{}: {} term={} vote={} lead={} commit={} applied={} last={} {}",
                                id, to_string(st.role), st.term, st.vote, st.leader, st.commit,
                                st.applied, st.last_index, describe(st.conf_state));
  if (st.lead_transferee != kNone) out += fmt::format(" transferring-to={}", st.lead_transferee);
  for (const auto& [peer, pr] : st.progress) {
    out += fmt::format(
        "\n  {}: {} match={} next={}{}{}", peer, to_string(pr.state), pr.match, pr.next,
        pr.learner ? " learner" : "",
        pr.pending_snapshot != 0 ? fmt::format(" pending-snapshot={}", pr.pending_snapshot) : "");
  }
  return out;
}

std::string TraceDriver::log(uint64_t id) {
  const Member& m = members_.at(id);
  std::string out = fmt::format("log {}..{}", m.storage->first_index(), m.storage->last_index());
  auto snapshot = m.storage->snapshot();
  if (snapshot && snapshot->metadata().index() > 0) {
    out += fmt::format(" after snapshot {}/{}", snapshot->metadata().term(),
                       snapshot->metadata().index());
  }
  auto entries =
      m.storage->entries(m.storage->first_index(), m.storage->last_index() + 1, UINT64_MAX);
  if (entries) {
    for (const pb::Entry& e : *entries) out += "\n  " + describe(e);
  }
  out += fmt::format("\napplied {}: [{}]", m.applied_index, fmt::join(m.applied, " "));
  return out;
}

std::string TraceDriver::raft_state() {
  std::string out;
  for (const auto& [id, m] : members_) {
    if (!out.empty()) out += "\n";
    if (!m.node) {
      out += fmt::format("{}: crashed", id);
      continue;
    }
    out += summary_line(id, m.node->role(), m.node->term(), m.node->leader(),
                        m.node->log().committed());
  }
  return out;
}

}  // namespace raft::sim
