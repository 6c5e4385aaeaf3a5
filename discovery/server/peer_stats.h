#pragma once
// PeerStats: the raft traffic figures of /v2/stats/self and /v2/stats/leader, counted as etcd
// 3.4 counts them (etcdserver/api/v2stats): appends received and sent with their rates over the
// last second, and per follower the time taken to hand each append to the peer transport
// (milliseconds) with success and failure counts.
//
// Ownership: owned by main() beside the Member; the peer transport glue feeds it, ApiHandler
// reads it. Threads: every call on the io thread (where the Member sends and steps messages);
// not thread-safe. Invariants: a rate queue holds at most kRateQueueCapacity samples, oldest
// first; a follower's latency figures cover exactly its `success` samples.

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <vector>

#include "common/clock.h"
#include "discovery/api/render.h"
#include "raft/raft.pb.h"

namespace discovery::server {

class PeerStats {
 public:
  // etcd keeps the last 200 requests per direction for its rates.
  static constexpr std::size_t kRateQueueCapacity = 200;

  explicit PeerStats(const common::Clock& clock) : clock_(clock) {}

  // A message received from a peer: MsgApp counts as an append request received.
  void on_receive(const raft::pb::Message& message);
  // An MsgApp handed to the transport, which took `hand_off` for it: one append request sent,
  // and one success of its follower with that latency.
  struct Append {
    std::uint64_t to = 0;
    std::size_t bytes = 0;
  };
  static Append append_of(const raft::pb::Message& message) {
    return Append{.to = message.to(), .bytes = message.ByteSizeLong()};
  }
  void on_send_append(const Append& append, std::chrono::nanoseconds hand_off);
  // The transport could not reach `peer`: one failure of that follower.
  void on_unreachable(std::uint64_t peer);

  // Fills the counters and rates of /v2/stats/self; leaves the other fields alone.
  void fill_self(api::SelfStats& stats) const;
  // One entry per id in `followers` (zero figures for a follower not yet sent to).
  std::vector<api::FollowerStats> followers(const std::vector<std::uint64_t>& ids) const;

 private:
  struct Sample {
    common::SteadyTime at;
    std::size_t bytes = 0;
  };
  // etcd's statsQueue: requests and bytes per second between the oldest and newest sample,
  // zero when the newest is over a second old (and then the queue is emptied).
  class RateQueue {
   public:
    void add(Sample sample);
    void rates(common::SteadyTime now, double& packets, double& bytes) const;

   private:
    mutable std::deque<Sample> samples_;
    mutable std::size_t bytes_ = 0;
  };
  struct Latency {
    double current = 0, total = 0, squares = 0, minimum = 0, maximum = 0;
    std::uint64_t success = 0, fail = 0;
  };

  const common::Clock& clock_;
  std::uint64_t recv_appends_ = 0;
  std::uint64_t send_appends_ = 0;
  RateQueue recv_rate_;
  RateQueue send_rate_;
  std::map<std::uint64_t, Latency> followers_;
};

}  // namespace discovery::server
