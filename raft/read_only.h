#pragma once
// ReadOnly: the leader's queue of pending ReadIndex requests (Raft thesis §6.4). Each request
// records the commit index when it arrived; it may be answered once a quorum of voters has
// acknowledged a heartbeat carrying its context (or a later one's), which proves that no other
// leader had been elected when the request arrived. Owned by the leader's Node; not thread-safe.
// Invariants: requests are in arrival order, contexts are unique, size() <= max_pending.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <set>
#include <string>
#include <vector>

namespace raft {

class ReadOnly {
 public:
  struct Request {
    uint64_t index = 0;  // the commit index when the request arrived
    std::string context;
    uint64_t from = 0;  // the member that asked (the leader itself for a local read)
  };

  explicit ReadOnly(size_t max_pending) : max_pending_(max_pending) {}

  bool full() const { return queue_.size() >= max_pending_; }
  size_t size() const { return queue_.size(); }
  // Queues a request, acknowledged by `self`. Returns false if its context is already pending.
  bool add(Request request, uint64_t self);
  // Records `member`'s acknowledgement of the heartbeat that carried context; returns how many
  // distinct members acknowledged it (0 if the context is not pending).
  size_t ack(const std::string& context, uint64_t member);
  // Removes and returns the request with this context and every earlier one: a quorum that
  // confirms a later heartbeat confirms the leadership for the earlier requests too.
  std::vector<Request> advance(const std::string& context);
  // The context of the newest pending request, sent with every heartbeat so that a lost
  // acknowledgement is made good by the next one; empty if none.
  std::string last_context() const;
  void clear() { queue_.clear(); }

 private:
  struct Pending {
    Request request;
    std::set<uint64_t> acks;
  };
  std::deque<Pending> queue_;
  size_t max_pending_;
};

}  // namespace raft
