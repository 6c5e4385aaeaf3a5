#include "sqlproxy/routing/session_policy.h"

#include <fmt/format.h>

#include <algorithm>

namespace sqlproxy::routing {

std::map<std::string, SessionPolicy> session_policy(const ClusterView& view,
                                                    const Decision& decision) {
  std::map<std::string, SessionPolicy> policies;
  for (const auto& backend : view.backends) {
    SessionPolicy policy;
    const bool draining = backend.health.state == health::State::Draining;
    const SessionAction elsewhere =
        draining ? SessionAction::CloseWhenIdle : SessionAction::CloseNow;
    const bool writer = decision.writer == backend.name;
    const bool reader = std::find(decision.readers.begin(), decision.readers.end(), backend.name) !=
                        decision.readers.end();
    policy.writer_sessions = writer ? SessionAction::Keep : elsewhere;
    policy.reader_sessions = reader ? SessionAction::Keep : elsewhere;
    if (!writer || !reader) {
      // The state's reason explains offline and draining; a usable backend that lost its role
      // was fenced by the routing decision.
      const bool usable = backend.usable();
      policy.reason = usable ? fmt::format("not the writer ({})", decision.reason)
                             : fmt::format("{}: {}", health::state_name(backend.health.state),
                                           backend.health.reason);
      if (usable && !reader) policy.reason = "not in the chosen cluster group";
    }
    policies.emplace(backend.name, std::move(policy));
  }
  return policies;
}

}  // namespace sqlproxy::routing
