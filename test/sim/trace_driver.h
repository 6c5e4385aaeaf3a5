#pragma once
// TraceDriver: runs the commands of a golden trace (test/testdata/raft/*.txt) against a small
// in-process cluster of raft::Nodes and returns what each command did, as text. Every member
// persists each Ready at once into a MemoryStorage, then its messages are queued, then it applies
// (the Ready contract); `stabilize` delivers queued messages in FIFO order until nothing moves,
// printing every Ready, so the file shows the exchange message by message. Deterministic: node
// seeds are fixed by id. Owned by one test; single-threaded.
//
// Commands (ids are member ids):
//   add-nodes N [pre-vote=false] [check-quorum=false] [max-size=B] [max-inflight=N]
//   campaign ID            propose ID DATA        read-index ID CONTEXT
//   transfer-leader ID TO  conf-change ID add|remove|add-learner NODE
//   tick N [ID...]         N rounds of: tick the members (all live ones by default), deliver
//                          everything silently; prints the changes of role, term, leader, commit
//                          and any read state served meanwhile
//   tick-only N ID...      ticks without delivering (the next stabilize shows the messages)
//   stabilize              deliver until quiet, printing each Ready
//   process-ready ID...    handle the members' Readies (persist, queue messages, apply)
//   deliver-msgs ID...     deliver the queued messages addressed to these members, once
//   drop-msgs FROM [TO]    lose the queued messages from FROM (to TO)
// Every applied entry is compared with what other members applied at its index: a mismatch prints
// a SAFETY VIOLATION line, so a golden file cannot silently record one.
//   partition 1|2,3  isolate ID  cut FROM TO (one way)  heal
//   crash ID  restart ID  compact ID INDEX  status ID  log ID  raft-state

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "raft/memory_storage.h"
#include "raft/node.h"

namespace raft::sim {

class TraceDriver {
 public:
  // Runs one command line; the result is its output (never empty: "ok" when there is nothing).
  std::string run(const std::string& line);

 private:
  struct Member {
    std::unique_ptr<MemoryStorage> storage;
    std::unique_ptr<Node> node;        // null while crashed
    std::vector<std::string> applied;  // data of the applied normal entries
    uint64_t applied_index = 0;
  };
  struct Summary {
    Role role;
    uint64_t term;
    uint64_t lead;
    uint64_t commit;
  };

  std::string add_nodes(const std::vector<std::string>& args);
  std::string tick(const std::vector<std::string>& args, bool deliver);
  std::string stabilize(bool print);
  std::string process_ready(const std::vector<std::string>& args);
  std::string deliver_msgs(const std::vector<std::string>& args);
  std::string drop_msgs(const std::vector<std::string>& args);
  std::string conf_change(const std::vector<std::string>& args);
  std::string partition(const std::string& spec);
  std::string crash(uint64_t id);
  std::string restart(uint64_t id);
  std::string compact(uint64_t id, uint64_t index);
  std::string status(uint64_t id);
  std::string log(uint64_t id);
  std::string raft_state();

  void start(uint64_t id, const pb::ConfState& conf);
  Config config_for(uint64_t id, uint64_t applied) const;
  // Handles one Ready of member id; returns its description (empty if print is false).
  std::string handle_ready(uint64_t id, bool print);
  std::string apply(uint64_t id, const pb::Entry& entry);
  void install(uint64_t id, const pb::Snapshot& snapshot);
  Node& node(uint64_t id);
  std::map<uint64_t, Summary> summaries() const;

  Config base_;
  std::map<uint64_t, Member> members_;
  std::vector<pb::Message> queue_;
  std::set<std::pair<uint64_t, uint64_t>> cut_;  // (from, to)
  // Read states served while `tick` delivered silently: reported with its summary.
  std::vector<std::string> quiet_reads_;
  std::map<uint64_t, std::string> applied_at_;  // index -> describe(entry) of the first applier
};

}  // namespace raft::sim
