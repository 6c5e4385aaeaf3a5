#pragma once
// KvStateMachine: the replicated state machine of test/sim, a map of registers written by client
// puts, plus a hash chain over every applied entry (index, term, type, data) so that two members'
// applied prefixes compare in O(1). Owned by one simulated member and rebuilt on restart from its
// snapshot and log. Single-threaded. Invariant: chain() is the hash of the applied prefix
// [1, applied()], whatever mix of snapshot and entries produced it.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "raft/raft.pb.h"

namespace raft::sim {

uint64_t fnv1a(std::string_view bytes, uint64_t hash = 14695981039346656037ULL);

// A client write: `put <op> <key> <value>`; op is unique per proposal in a run.
struct Put {
  uint64_t op = 0;
  std::string key;
  std::string value;
};
std::string encode_put(const Put& put);
std::optional<Put> decode_put(std::string_view data);

class KvStateMachine {
 public:
  // Applies the entry at applied() + 1 (CHECKs the order).
  void apply(const pb::Entry& entry);
  uint64_t applied() const { return applied_; }
  uint64_t chain() const { return chain_; }
  std::optional<std::string> get(const std::string& key) const;

  // The whole state, as snapshot data; restore() gives back an equal state machine.
  std::string serialize() const;
  static std::optional<KvStateMachine> restore(std::string_view data);

 private:
  std::map<std::string, std::string> kv_;
  uint64_t applied_ = 0;
  uint64_t chain_ = 0;
};

}  // namespace raft::sim
