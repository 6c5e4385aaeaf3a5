#pragma once
// What the sessions already open on each backend must do after a routing Decision: the
// "reactions" of the proxy, as a pure function of the view and the decision (no history, so it
// can be applied again to every new decision).
//
// Per backend and per listener role:
//   writer-port sessions: Keep on the writer. Elsewhere: CloseWhenIdle if the backend is
//     Draining (desync, maintenance, a long donation: let the open transaction commit), else
//     CloseNow (offline, non-Primary, another cluster state UUID, or a demoted writer that is
//     still writable or read_only: fenced, so that two nodes never take writes at once).
//   reader-port sessions: Keep on a reader, CloseWhenIdle on a Draining backend, else CloseNow.
// The drain grace period (close anyway after --drain-grace) is the session layer's.

#include <cstdint>
#include <map>
#include <string>

#include "sqlproxy/routing/router.h"

namespace sqlproxy::routing {

enum class SessionAction : std::uint8_t {
  Keep,
  CloseWhenIdle,  // close as soon as the session is outside a transaction (or after the grace)
  CloseNow,
};

struct SessionPolicy {
  SessionAction writer_sessions = SessionAction::CloseNow;
  SessionAction reader_sessions = SessionAction::CloseNow;
  std::string reason;  // why sessions close ("" when both keep)
};

// One entry per backend of the view (by name).
std::map<std::string, SessionPolicy> session_policy(const ClusterView& view,
                                                    const Decision& decision);

}  // namespace sqlproxy::routing
