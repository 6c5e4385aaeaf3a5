#include "raft/read_only.h"

#include <algorithm>

namespace raft {

bool ReadOnly::add(Request request, uint64_t self) {
  const auto same = [&](const Pending& p) { return p.request.context == request.context; };
  if (std::any_of(queue_.begin(), queue_.end(), same)) return false;
  queue_.push_back(Pending{std::move(request), {self}});
  return true;
}

size_t ReadOnly::ack(const std::string& context, uint64_t member) {
  for (Pending& pending : queue_) {
    if (pending.request.context != context) continue;
    pending.acks.insert(member);
    return pending.acks.size();
  }
  return 0;
}

std::vector<ReadOnly::Request> ReadOnly::advance(const std::string& context) {
  const auto it = std::find_if(queue_.begin(), queue_.end(),
                               [&](const Pending& p) { return p.request.context == context; });
  if (it == queue_.end()) return {};
  std::vector<Request> done;
  for (auto p = queue_.begin(); p != it + 1; ++p) done.push_back(std::move(p->request));
  queue_.erase(queue_.begin(), it + 1);
  return done;
}

std::string ReadOnly::last_context() const {
  return queue_.empty() ? std::string() : queue_.back().request.context;
}

}  // namespace raft
