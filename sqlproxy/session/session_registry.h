#pragma once
// SessionRegistry: the set of live client sessions grouped by backend, through which the control
// plane acts on them: count sessions per backend, fence a backend (close all its sessions now:
// dead, non-Primary or demoted writer) or drain it (close each session once it is idle outside a
// transaction, and all that remain when the grace period ends).
//
// Ownership and threads: one per process, owned by main() and outliving every session and the
// control plane. All methods are thread-safe (one mutex, held only to update or copy the map;
// the sessions are told outside it). Sessions run on worker threads; fence()/drain() are called
// from the control thread and only post work to the sessions' own threads.
//
// Marks: fence() and drain() also mark the backend, so a session that picked the backend just
// before the control plane acted and registers just after is not missed: register_session()
// refuses it (fenced) or hands it the drain deadline (draining). readmit() clears the mark when
// the control plane routes to the backend again.

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sqlproxy::session {

// What the registry needs from a session. Both calls are thread-safe and return at once; the
// session closes later on its own thread.
class SessionControl {
 public:
  virtual ~SessionControl() = default;
  // Close now (both connections), whatever the session is doing.
  virtual void fence() = 0;
  // Close when idle outside a transaction, or at `deadline` at the latest.
  virtual void drain(std::chrono::steady_clock::time_point deadline) = 0;
};

class SessionRegistry {
 public:
  enum class Admission { Admit, AdmitDraining, Refuse };
  struct Registration {
    Admission admission = Admission::Admit;
    std::chrono::steady_clock::time_point drain_deadline{};  // for AdmitDraining
  };

  // Adds a session that has connected to `backend`. The registry keeps a weak reference only.
  Registration register_session(const std::string& backend,
                                const std::shared_ptr<SessionControl>& session);
  // Removes it (idempotent). Called by the session as it ends.
  void unregister_session(const std::string& backend, const SessionControl* session);

  std::size_t count(std::string_view backend) const;
  std::map<std::string, std::size_t> counts() const;  // backends with sessions or a mark
  std::size_t total() const;

  // Each returns how many sessions were told.
  std::size_t fence(const std::string& backend);
  std::size_t drain(const std::string& backend, std::chrono::milliseconds grace);
  void readmit(const std::string& backend);

 private:
  enum class Mark { None, Draining, Fenced };
  struct Backend {
    std::unordered_map<const SessionControl*, std::weak_ptr<SessionControl>> sessions;
    Mark mark = Mark::None;
    std::chrono::steady_clock::time_point drain_deadline{};
  };
  std::vector<std::shared_ptr<SessionControl>> live(const Backend& b) const;

  mutable std::mutex mutex_;
  std::map<std::string, Backend, std::less<>> backends_;
  std::size_t total_ = 0;
};

}  // namespace sqlproxy::session
