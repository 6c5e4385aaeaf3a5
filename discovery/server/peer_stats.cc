#include "discovery/server/peer_stats.h"

#include <algorithm>
#include <cmath>

namespace discovery::server {

void PeerStats::RateQueue::add(Sample sample) {
  samples_.push_back(sample);
  bytes_ += sample.bytes;
  if (samples_.size() > kRateQueueCapacity) {
    bytes_ -= samples_.front().bytes;
    samples_.pop_front();
  }
}

void PeerStats::RateQueue::rates(common::SteadyTime now, double& packets, double& bytes) const {
  packets = bytes = 0;
  if (samples_.empty()) return;
  if (now - samples_.back().at > std::chrono::seconds{1}) {
    samples_.clear();
    bytes_ = 0;
    return;
  }
  const double seconds =
      std::chrono::duration<double>(samples_.back().at - samples_.front().at).count();
  // One sample spans no time: etcd would divide by zero; no rate is the honest answer.
  if (seconds <= 0) return;
  packets = static_cast<double>(samples_.size()) / seconds;
  bytes = static_cast<double>(bytes_) / seconds;
}

void PeerStats::on_receive(const raft::pb::Message& message) {
  if (message.type() != raft::pb::MsgApp) return;
  ++recv_appends_;
  recv_rate_.add(Sample{.at = clock_.steady_now(), .bytes = message.ByteSizeLong()});
}

void PeerStats::on_send_append(const Append& append, std::chrono::nanoseconds hand_off) {
  ++send_appends_;
  send_rate_.add(Sample{.at = clock_.steady_now(), .bytes = append.bytes});
  Latency& latency = followers_[append.to];
  const double ms = std::chrono::duration<double, std::milli>(hand_off).count();
  latency.current = ms;
  latency.total += ms;
  latency.squares += ms * ms;
  latency.minimum = latency.success == 0 ? ms : std::min(latency.minimum, ms);
  latency.maximum = std::max(latency.maximum, ms);
  ++latency.success;
}

void PeerStats::on_unreachable(std::uint64_t peer) { ++followers_[peer].fail; }

void PeerStats::fill_self(api::SelfStats& stats) const {
  const common::SteadyTime now = clock_.steady_now();
  stats.recv_append_request_cnt = recv_appends_;
  stats.send_append_request_cnt = send_appends_;
  recv_rate_.rates(now, stats.recv_pkg_rate, stats.recv_bandwidth_rate);
  send_rate_.rates(now, stats.send_pkg_rate, stats.send_bandwidth_rate);
}

std::vector<api::FollowerStats> PeerStats::followers(const std::vector<std::uint64_t>& ids) const {
  std::vector<api::FollowerStats> out;
  for (std::uint64_t id : ids) {
    api::FollowerStats follower{.id = id};
    if (auto it = followers_.find(id); it != followers_.end()) {
      const Latency& l = it->second;
      follower.fail = l.fail;
      follower.success = l.success;
      if (l.success != 0) {
        const double count = static_cast<double>(l.success);
        const double average = l.total / count;
        follower.latency_current = l.current;
        follower.latency_average = average;
        // As etcd: the population deviation from the running sums.
        follower.latency_standard_deviation =
            std::sqrt(std::max(0.0, l.squares / count - average * average));
        follower.latency_minimum = l.minimum;
        follower.latency_maximum = l.maximum;
      }
    }
    out.push_back(follower);
  }
  return out;
}

}  // namespace discovery::server
