#pragma once
// WatcherHub: the registered watchers and the last 1000 events (etcd's v2 watcher hub and event
// history, behaviour items 28-31). Part of Store; same thread rules.

#include <cstdint>
#include <functional>
#include <optional>

#include "discovery/store/event.h"

namespace discovery::store {

using WatchId = std::uint64_t;

// The answer to a watch request: either `event` (answered from history at once; no watcher was
// registered) or `id` of a registered watcher. etcd_index is the store index at registration,
// which the server sends as X-Etcd-Index when it flushes the headers.
struct WatchStart {
  std::optional<Event> event;
  WatchId id = 0;
  std::uint64_t etcd_index = 0;
};

class WatcherHub {
 public:
  // Called on the store's thread for every event the watcher matches, in index order. Returns
  // false when the watcher is done (a one-shot watch got its event, or the client's bounded queue
  // is full or gone); the hub then drops it. Must not call back into the store.
  using Sink = std::function<bool(const Event&)>;
};

}  // namespace discovery::store
