#include "discovery/store/watcher_hub.h"

#include <fmt/format.h>

#include <utility>

#include "common/check.h"

namespace discovery::store {
namespace {

// A key below `watch_path` is hidden from that watcher when the part of the key after the watch
// path has a segment starting with '_' (behaviour item 24). A path deeper than the key (a watcher
// on a node inside a deleted dir) is never hidden.
bool is_hidden(std::string_view watch_path, std::string_view key) {
  if (watch_path.size() > key.size()) return false;
  std::string_view rest = key.substr(watch_path.size());
  return rest.starts_with('_') || rest.find("/_") != std::string_view::npos;
}

bool is_delete_of_dir(const Event& event) {
  return (event.action == Action::Delete || event.action == Action::Expire) &&
         event.prev_node.has_value() && event.prev_node->dir;
}

}  // namespace

common::Result<WatchStart, Error> WatcherHub::watch(std::string_view key, bool recursive,
                                                    bool stream, std::uint64_t since_index,
                                                    std::uint64_t current_index, Sink sink) {
  CHECK(!in_sink_, "watch from inside a sink");
  CHECK(current_index == last_index_, "watch at index {} but history ends at {}", current_index,
        last_index_);
  auto scanned = scan(key, recursive, since_index);
  if (!scanned) {
    Error error = scanned.error();
    error.index = current_index;
    return error;
  }
  if (const Event* found = *scanned; found != nullptr) {
    WatchStart start{.event = *found, .id = 0, .etcd_index = current_index};
    start.event->etcd_index = current_index;
    return start;
  }
  WatchId id = next_id_++;
  auto [slot, inserted] = watchers_.try_emplace(std::string{key});
  WatcherList& list = slot->second;
  list.push_back(Watcher{.id = id,
                         .recursive = recursive,
                         .stream = stream,
                         .since_index = since_index,
                         .sink = std::move(sink)});
  by_id_.emplace(id, Location{.key = slot->first, .it = std::prev(list.end())});
  return WatchStart{.event = std::nullopt, .id = id, .etcd_index = current_index};
}

void WatcherHub::cancel(WatchId id) {
  // A sink that cancels would edit the list notify_at is walking.
  CHECK(!in_sink_, "cancel from inside a sink");
  auto found = by_id_.find(id);
  if (found == by_id_.end()) return;
  auto list = watchers_.find(found->second.key);
  CHECK(list != watchers_.end(), "watcher {} on {} has no list", id, found->second.key);
  list->second.erase(found->second.it);
  if (list->second.empty()) watchers_.erase(list);
  by_id_.erase(found);
}

std::uint64_t WatcherHub::start_index() const {
  return history_.empty() ? floor_index_ : history_.front().event.index();
}

void WatcherHub::reset_history(std::uint64_t index) {
  history_.clear();
  floor_index_ = index + 1;
  last_index_ = index;
}

void WatcherHub::record(const Event& event, bool refresh) {
  CHECK(!in_sink_, "store write from inside a sink");
  // Every index the store hands out has exactly one event, so the history is contiguous and a
  // since_index maps to a position by subtraction.
  CHECK(event.index() == last_index_ + 1, "event index {} after history index {}", event.index(),
        last_index_);
  if (history_.size() == kHistoryCapacity) history_.pop_front();
  history_.push_back(Recorded{.event = event, .refresh = refresh});
  last_index_ = event.index();
}

void WatcherHub::add_refresh(const Event& event) { record(event, true); }

void WatcherHub::notify(const Event& event) {
  record(event, false);
  if (watchers_.empty()) return;
  // etcd wakes watchers on "/", then on every ancestor of the key, then on the key itself.
  const std::string& key = event.node.key;
  notify_at(event, "/", false);
  for (std::size_t slash = key.find('/', 1); slash != std::string::npos;
       slash = key.find('/', slash + 1)) {
    notify_at(event, std::string_view{key}.substr(0, slash), false);
  }
  if (key != "/") notify_at(event, key, false);
}

void WatcherHub::notify_removed(const Event& event, std::string_view path) {
  if (watchers_.empty()) return;
  notify_at(event, path, true);
}

void WatcherHub::notify_at(const Event& event, std::string_view path, bool deleted) {
  auto found = watchers_.find(path);
  if (found == watchers_.end()) return;
  const bool original = event.node.key == path;
  if (!original && is_hidden(path, event.node.key)) return;
  WatcherList& list = found->second;
  for (auto it = list.begin(); it != list.end();) {
    auto next = std::next(it);
    Watcher& watcher = *it;
    if ((watcher.recursive || original || deleted) && event.index() >= watcher.since_index) {
      in_sink_ = true;
      const bool keep = watcher.sink(event);
      in_sink_ = false;
      if (!keep || !watcher.stream) {
        by_id_.erase(watcher.id);
        list.erase(it);
      }
    }
    it = next;
  }
  if (list.empty()) watchers_.erase(found);
}

common::Result<const Event*, Error> WatcherHub::scan(std::string_view key, bool recursive,
                                                     std::uint64_t since_index) const {
  const std::uint64_t start = start_index();
  if (since_index < start) {
    return Error{
        .code = ErrorCode::EventIndexCleared,
        .cause = fmt::format("the requested history has been cleared [{}/{}]", start, since_index),
        .index = 0};
  }
  if (since_index > last_index_) return nullptr;
  // A recursive watch matches keys below "key/"; the root already ends in '/'.
  std::string prefix{key};
  if (!prefix.ends_with('/')) prefix.push_back('/');
  for (std::size_t i = static_cast<std::size_t>(since_index - start); i < history_.size(); ++i) {
    const Recorded& recorded = history_[i];
    if (recorded.refresh) continue;
    const Event& event = recorded.event;
    bool match = event.node.key == key;
    if (recursive) match = match || event.node.key.starts_with(prefix);
    // etcd compares the watched key with a deleted dir's key as plain strings, so a watch on
    // "/ab" sees the deletion of dir "/a" (pinned by watcher_hub_test "HistoryDirPrefix").
    if (is_delete_of_dir(event)) match = match || key.starts_with(event.prev_node->key);
    if (match) return &event;
  }
  return nullptr;
}

}  // namespace discovery::store
