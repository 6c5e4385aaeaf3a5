#pragma once
// WatcherHub: the registered watchers and the last 1000 events (etcd's v2 watcher hub and event
// history, behaviour items 28-31). Part of Store; same thread rules.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/result.h"
#include "discovery/store/error.h"
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

// WatcherHub owns the watchers and the event history of one Store.
//
// Ownership and threads: a member of Store::Impl, used only on the store's thread; not
// thread-safe. Sinks are called synchronously from notify()/notify_removed().
// Invariants: the history holds at most kHistoryCapacity events with consecutive indexes ending
// at last_index(); every registered watcher is in exactly one per-key list and in the id table.
class WatcherHub {
 public:
  // Called on the store's thread for every event the watcher matches, in index order. Returns
  // false when the watcher is done (a one-shot watch got its event, or the client's bounded queue
  // is full or gone); the hub then drops it. Must not call back into the store.
  using Sink = std::function<bool(const Event&)>;

  // etcd keeps the last 1000 events (behaviour item 29).
  static constexpr std::size_t kHistoryCapacity = 1000;

  WatcherHub() = default;
  WatcherHub(const WatcherHub&) = delete;
  WatcherHub& operator=(const WatcherHub&) = delete;

  // etcd's watch. `key` is a clean absolute path; `since_index` is already resolved (the store
  // turns 0 into current_index + 1). If history holds a matching event with index >= since_index,
  // it is returned in WatchStart::event with etcd_index = current_index and nothing is registered.
  // If since_index is older than the history, returns EventIndexCleared with cause
  // "the requested history has been cleared [oldest/requested]" and index = current_index.
  // Otherwise registers `sink` and returns its id.
  common::Result<WatchStart, Error> watch(std::string_view key, bool recursive, bool stream,
                                          std::uint64_t since_index, std::uint64_t current_index,
                                          Sink sink);

  // Removes a registered watcher. Unknown ids (already fired or dropped) are ignored.
  void cancel(WatchId id);

  // Records `event` (index last_index() + 1) in history and notifies the watchers on its key and
  // on every ancestor of it, as etcd's notify does.
  void notify(const Event& event);

  // Records a refresh event in history without waking anyone; history scans skip it (etcd's
  // refresh writes consume an index but are invisible to watchers).
  void add_refresh(const Event& event);

  // Notifies the watchers registered exactly at `path`, a node that `event` (a delete,
  // compareAndDelete or expire) removed. Call for every removed node before notify(event).
  void notify_removed(const Event& event, std::string_view path);

  // Forgets the history and declares every index up to `index` unknown: later watches from at or
  // before it get EventIndexCleared. Used after a restore, whose events were not kept.
  void reset_history(std::uint64_t index);

  std::size_t watcher_count() const { return by_id_.size(); }
  // Index of the oldest event a watch may ask for (etcd's StartIndex).
  std::uint64_t start_index() const;
  std::uint64_t last_index() const { return last_index_; }
  std::size_t history_size() const { return history_.size(); }

 private:
  struct Recorded {
    Event event;
    bool refresh = false;
  };
  struct Watcher {
    WatchId id = 0;
    bool recursive = false;
    bool stream = false;
    std::uint64_t since_index = 0;
    Sink sink;
  };
  using WatcherList = std::list<Watcher>;
  struct Location {
    std::string key;
    WatcherList::iterator it;
  };
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view key) const {
      return std::hash<std::string_view>{}(key);
    }
  };

  void record(const Event& event, bool refresh);
  // etcd's history scan: the first non-refresh event at or after since_index that matches.
  common::Result<const Event*, Error> scan(std::string_view key, bool recursive,
                                           std::uint64_t since_index) const;
  void notify_at(const Event& event, std::string_view path, bool deleted);

  std::deque<Recorded> history_;
  std::uint64_t floor_index_ = 0;  // start_index() while the history is empty
  std::uint64_t last_index_ = 0;
  std::unordered_map<std::string, WatcherList, KeyHash, std::equal_to<>> watchers_;
  std::unordered_map<WatchId, Location> by_id_;
  WatchId next_id_ = 1;
  bool in_sink_ = false;  // a sink is running: re-entering the hub is a broken contract
};

}  // namespace discovery::store
