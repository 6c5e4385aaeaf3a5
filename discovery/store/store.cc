#include "discovery/store/store.h"

#include <chrono>
#include <utility>

#include "common/check.h"
#include "discovery/store/store_impl.h"

namespace discovery::store {
namespace {

std::int64_t unix_ns(WallTime time) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count();
}

}  // namespace

Store::Store() : impl_(std::make_unique<Impl>()) {}

Store::~Store() = default;

StoreResult<std::optional<Event>> Store::apply(const pb::Command& command) {
  Impl& s = *impl_;
  const std::uint64_t before = s.index;
  const std::int64_t now_ns = command.time_unix_ns();
  switch (command.op_case()) {
    case pb::Command::kWrite: {
      auto result = s.apply_write(command.write(), now_ns);
      if (!result) {
        CHECK(s.index == before && result.error().index == before,
              "failed write moved the index {} -> {} (error index {})", before, s.index,
              result.error().index);
        return result.error();
      }
      CHECK(s.index == before + 1 && result->index() == s.index && result->etcd_index == s.index,
            "write at {} gave index {}, event {}/{}", before, s.index, result->index(),
            result->etcd_index);
      return std::optional<Event>{std::move(*result)};
    }
    case pb::Command::kSync: {
      std::optional<Event> last = s.expire(command.sync().time_unix_ns(), now_ns);
      CHECK(last ? last->index() == s.index && s.index > before : s.index == before,
            "sync at {} ended at {}", before, s.index);
      return last;
    }
    case pb::Command::kClusterRecord:
      s.apply_cluster_record(command.cluster_record());
      CHECK(s.index == before + 1, "cluster record at {} ended at {}", before, s.index);
      return std::optional<Event>{};
    case pb::Command::OP_NOT_SET:
      break;
  }
  CHECK(false, "command without an operation at index {}", before);
  return std::optional<Event>{};
}

StoreResult<Event> Store::get(std::string_view key, bool recursive, bool sorted, WallTime now) {
  // Children are always listed in key order, which sorted=true asks for and unsorted allows.
  static_cast<void>(sorted);
  CHECK(is_clean_key(key) && key.size() <= kKeyBytesMax, "get of bad key '{:.100}'", key);
  Impl& s = *impl_;
  auto found = s.tree.find(key);
  if (!found) {
    ++s.stats.gets_fail;
    return s.with_index(found.error());
  }
  const Node& node = **found;
  const std::int64_t now_ns = unix_ns(now);
  Event event{.action = Action::Get,
              .node = s.tree.view(node, false, now_ns),
              .prev_node = std::nullopt,
              .etcd_index = s.index};
  if (node.dir) {
    // A get lists a dir's visible children; they carry their own children only when recursive.
    for (const Node& child : node.children) {
      if (!child.hidden()) event.node.nodes.push_back(s.tree.view(child, recursive, now_ns));
    }
  }
  // The root is shown without key (and its indexes are 0), behaviour item 4.
  if (&node == &s.tree.root()) event.node.key.clear();
  ++s.stats.gets_success;
  return event;
}

StoreResult<WatchStart> Store::watch(std::string_view key, bool recursive, bool stream,
                                     std::uint64_t since_index, WatcherHub::Sink sink) {
  CHECK(is_clean_key(key) && key.size() <= kKeyBytesMax, "watch of bad key '{:.100}'", key);
  Impl& s = *impl_;
  const std::uint64_t since = since_index == 0 ? s.index + 1 : since_index;
  return s.hub.watch(key, recursive, stream, since, s.index, std::move(sink));
}

void Store::cancel_watch(WatchId id) { impl_->hub.cancel(id); }

std::uint64_t Store::index() const { return impl_->index; }

std::optional<std::string> Store::cluster_record(std::string_view key) const {
  auto found = impl_->cluster_records.find(key);
  if (found == impl_->cluster_records.end()) return std::nullopt;
  return found->second.first;
}

std::optional<WallTime> Store::next_expiration() const {
  const Node* node = impl_->tree.earliest_expiring();
  if (node == nullptr) return std::nullopt;
  return wall_time_from_ns(node->expiration_ns);
}

Stats& Store::stats() {
  impl_->stats.watchers = impl_->hub.watcher_count();
  return impl_->stats;
}

const Stats& Store::stats() const {
  // The watcher count lives in the hub; copy it in so the returned counters are current.
  impl_->stats.watchers = impl_->hub.watcher_count();
  return impl_->stats;
}

std::size_t Store::node_count() const { return impl_->tree.node_count(); }

void Store::check_invariants() const {
  impl_->tree.check_invariants(impl_->index);
  CHECK(impl_->hub.last_index() == impl_->index, "history ends at {}, index {}",
        impl_->hub.last_index(), impl_->index);
}

}  // namespace discovery::store
