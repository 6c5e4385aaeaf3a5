#include "sqlproxy/session/session_registry.h"

#include <vector>

namespace sqlproxy::session {

SessionRegistry::Registration SessionRegistry::register_session(
    const std::string& backend, const std::shared_ptr<SessionControl>& session) {
  const std::lock_guard lock(mutex_);
  Backend& b = backends_[backend];
  if (b.mark == Mark::Fenced) return {Admission::Refuse, {}};
  if (b.sessions.emplace(session.get(), session).second) ++total_;
  if (b.mark == Mark::Draining) return {Admission::AdmitDraining, b.drain_deadline};
  return {Admission::Admit, {}};
}

void SessionRegistry::unregister_session(const std::string& backend,
                                         const SessionControl* session) {
  const std::lock_guard lock(mutex_);
  auto it = backends_.find(backend);
  if (it == backends_.end()) return;
  if (it->second.sessions.erase(session) > 0) --total_;
  if (it->second.sessions.empty() && it->second.mark == Mark::None) backends_.erase(it);
}

std::size_t SessionRegistry::count(std::string_view backend) const {
  const std::lock_guard lock(mutex_);
  auto it = backends_.find(backend);
  return it == backends_.end() ? 0 : it->second.sessions.size();
}

std::map<std::string, std::size_t> SessionRegistry::counts() const {
  const std::lock_guard lock(mutex_);
  std::map<std::string, std::size_t> out;
  for (const auto& [name, b] : backends_) out[name] = b.sessions.size();
  return out;
}

std::size_t SessionRegistry::total() const {
  const std::lock_guard lock(mutex_);
  return total_;
}

std::vector<std::shared_ptr<SessionControl>> SessionRegistry::live(const Backend& b) const {
  std::vector<std::shared_ptr<SessionControl>> out;
  out.reserve(b.sessions.size());
  for (const auto& [key, weak] : b.sessions) {
    if (auto s = weak.lock()) out.push_back(std::move(s));
  }
  return out;
}

std::size_t SessionRegistry::fence(const std::string& backend) {
  std::vector<std::shared_ptr<SessionControl>> told;
  {
    const std::lock_guard lock(mutex_);
    Backend& b = backends_[backend];
    b.mark = Mark::Fenced;
    told = live(b);
  }
  // Outside the lock: a session may unregister itself from inside fence() in tests and fakes.
  for (const auto& s : told) s->fence();
  return told.size();
}

std::size_t SessionRegistry::drain(const std::string& backend, std::chrono::milliseconds grace) {
  const auto deadline = std::chrono::steady_clock::now() + grace;
  std::vector<std::shared_ptr<SessionControl>> told;
  {
    const std::lock_guard lock(mutex_);
    Backend& b = backends_[backend];
    // Fencing is stronger than draining and stays until readmit().
    if (b.mark != Mark::Fenced) {
      b.mark = Mark::Draining;
      b.drain_deadline = deadline;
    }
    told = live(b);
  }
  for (const auto& s : told) s->drain(deadline);
  return told.size();
}

void SessionRegistry::readmit(const std::string& backend) {
  const std::lock_guard lock(mutex_);
  auto it = backends_.find(backend);
  if (it == backends_.end()) return;
  it->second.mark = Mark::None;
  if (it->second.sessions.empty()) backends_.erase(it);
}

}  // namespace sqlproxy::session
