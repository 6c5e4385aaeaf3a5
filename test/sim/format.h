#pragma once
// One-line text forms of raft messages, entries and states, shared by the simulation's trace and
// the golden-trace driver. Stable: golden files depend on them, so a change here is a change to
// every file under test/testdata/raft/ (regenerate with REWRITE=1 and review the diff).

#include <string>
#include <vector>

#include "raft/node.h"

namespace raft::sim {

// "2/5 \"x\"" (term/index data), "2/6 conf:..." for a configuration change.
std::string describe(const pb::Entry& entry);
std::string describe(const std::vector<pb::Entry>& entries);
// "1->2 MsgApp term=2 log=1/3 commit=2 entries=[2/4 \"x\"]"; only the fields that are set.
std::string describe(const pb::Message& message);
std::string describe(const pb::HardState& hard_state);
std::string describe(const pb::ConfState& conf_state);

}  // namespace raft::sim
