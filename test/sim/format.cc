#include "test/sim/format.h"

#include <fmt/format.h>

namespace raft::sim {

namespace {

std::string quoted(const std::string& data) {
  constexpr size_t kMaxShown = 24;
  std::string out = "\"";
  for (size_t i = 0; i < data.size() && i < kMaxShown; ++i) {
    const char c = data[i];
    out += (c >= 0x20 && c < 0x7f && c != '"') ? std::string(1, c) : fmt::format("\\x{:02x}", c);
  }
  if (data.size() > kMaxShown) out += fmt::format("...({} bytes)", data.size());
  return out + "\"";
}

std::string ids(const google::protobuf::RepeatedField<uint64_t>& list) {
  std::string out;
  for (uint64_t id : list) out += (out.empty() ? "" : ",") + std::to_string(id);
  return out;
}

}  // namespace

std::string describe(const pb::Entry& entry) {
  std::string out = fmt::format("{}/{}", entry.term(), entry.index());
  if (entry.type() == pb::EntryConfChange) {
    pb::ConfChange cc;
    if (!cc.ParseFromString(entry.data())) return out + " conf:?";
    return out + fmt::format(" {} {}", pb::ConfChangeType_Name(cc.type()), cc.node_id());
  }
  return out + " " + quoted(entry.data());
}

std::string describe(const std::vector<pb::Entry>& entries) {
  std::string out = "[";
  for (const pb::Entry& e : entries) out += (out.size() > 1 ? ", " : "") + describe(e);
  return out + "]";
}

std::string describe(const pb::Message& m) {
  std::string out = fmt::format("{}->{} {}", m.from(), m.to(), pb::MessageType_Name(m.type()));
  if (m.term() != 0) out += fmt::format(" term={}", m.term());
  if (m.index() != 0 || m.log_term() != 0)
    out += fmt::format(" log={}/{}", m.log_term(), m.index());
  if (m.commit() != 0) out += fmt::format(" commit={}", m.commit());
  if (m.reject()) out += fmt::format(" reject hint={}", m.reject_hint());
  if (m.entries_size() > 0) {
    out += " entries=" + describe(std::vector<pb::Entry>(m.entries().begin(), m.entries().end()));
  }
  if (!m.context().empty()) out += " context=" + quoted(m.context());
  if (m.has_snapshot()) {
    const pb::SnapshotMetadata& s = m.snapshot().metadata();
    out += fmt::format(" snapshot={}/{} {} bytes={}+{}{}", s.term(), s.index(),
                       describe(s.conf_state()), m.snapshot_offset(), m.snapshot().data().size(),
                       m.snapshot_done() ? " done" : "");
  }
  if (m.leader_transfer()) out += " transfer";
  if (m.transferee() != 0) out += fmt::format(" transferee={}", m.transferee());
  return out;
}

std::string describe(const pb::HardState& hs) {
  return fmt::format("term={} vote={} commit={}", hs.term(), hs.vote(), hs.commit());
}

std::string describe(const pb::ConfState& cs) {
  std::string out = "voters=" + ids(cs.voters());
  if (cs.learners_size() > 0) out += " learners=" + ids(cs.learners());
  if (cs.learners_to_promote_size() > 0) out += " promote=" + ids(cs.learners_to_promote());
  return out;
}

}  // namespace raft::sim
