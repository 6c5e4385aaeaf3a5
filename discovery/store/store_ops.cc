#include <fmt/format.h>

#include <utility>

#include "common/check.h"
#include "discovery/store/store.h"
#include "discovery/store/store_impl.h"

namespace discovery::store {
namespace {

// etcd treats an expiration before 2000-01-01T00:00:00Z in set and create as "permanent"
// (its minExpireTime); update and compareAndSwap take any non-zero expiration as given.
constexpr std::int64_t kMinExpirationNs = 946'684'800LL * 1'000'000'000LL;

enum class Op { Set, Create, Update, CompareAndSwap, Delete, CompareAndDelete };

// Whether etcd 3.4 counts the outcome of `op` as a success in /v2/stats/store. etcd counts some
// refusals as successes (pinned by store_test "Stats*" against etcd 3.4.23): the root for delete,
// update and compareAndSwap; a dir with a value for update; a dir or a failed compare for
// compareAndDelete.
bool counts_as_success(Op op, const StoreResult<Event>& result) {
  if (result) return true;
  const ErrorCode code = result.error().code;
  switch (op) {
    case Op::Delete:
    case Op::CompareAndSwap:
      return code == ErrorCode::RootReadOnly;
    case Op::Update:
      return code == ErrorCode::RootReadOnly || code == ErrorCode::NotFile;
    case Op::CompareAndDelete:
      return code == ErrorCode::NotFile || code == ErrorCode::TestFailed;
    case Op::Set:
    case Op::Create:
      return false;
  }
  return false;
}

void count(Stats& stats, Op op, const StoreResult<Event>& result) {
  const bool success = counts_as_success(op, result);
  switch (op) {
    case Op::Set:
      ++(success ? stats.sets_success : stats.sets_fail);
      break;
    case Op::Create:
      ++(success ? stats.create_success : stats.create_fail);
      // etcd's create also counts a set failure when the parent path runs through a file.
      if (!success && result.error().code == ErrorCode::NotDir) ++stats.sets_fail;
      break;
    case Op::Update:
      ++(success ? stats.update_success : stats.update_fail);
      break;
    case Op::CompareAndSwap:
      ++(success ? stats.compare_and_swap_success : stats.compare_and_swap_fail);
      break;
    case Op::Delete:
      ++(success ? stats.delete_success : stats.delete_fail);
      break;
    case Op::CompareAndDelete:
      ++(success ? stats.compare_and_delete_success : stats.compare_and_delete_fail);
      break;
  }
}

// etcd's compare: an unset prevValue ("") or prevIndex (0) always matches. The cause lists the
// value part, the index part, or both.
std::optional<std::string> compare_failure(const Node& node, const pb::Write& write) {
  const bool index_match = write.prev_index() == 0 || node.modified_index == write.prev_index();
  const bool value_match = write.prev_value().empty() || node.value.view() == write.prev_value();
  if (index_match && value_match) return std::nullopt;
  if (index_match) return fmt::format("[{} != {}]", write.prev_value(), node.value.view());
  if (value_match) return fmt::format("[{} != {}]", write.prev_index(), node.modified_index);
  return fmt::format("[{} != {}] [{} != {}]", write.prev_value(), node.value.view(),
                     write.prev_index(), node.modified_index);
}

// The `node` of a delete, compareAndDelete or expire event: key, dir and indexes, no value.
NodeView removed_view(const Node& node, std::uint64_t index) {
  NodeView view;
  view.key = node.key;
  view.dir = node.dir;
  view.modified_index = index;
  view.created_index = node.created_index;
  return view;
}

}  // namespace

Error Store::Impl::error(ErrorCode code, std::string cause) const {
  return Error{.code = code, .cause = std::move(cause), .index = index};
}

Error Store::Impl::with_index(Error error) const {
  error.index = index;
  return error;
}

void Store::Impl::record_put(const Node& node) {
  Change change{.kind = Change::Kind::Put, .key = node.key, .node = {}};
  change.node.set_dir(node.dir);
  change.node.set_value(node.value.str());
  change.node.set_created_index(node.created_index);
  change.node.set_modified_index(node.modified_index);
  change.node.set_expiration_unix_ns(node.expiration_ns);
  changes.push_back(std::move(change));
}

void Store::Impl::apply_cluster_record(const pb::ClusterRecord& record) {
  CHECK(record.key().starts_with('/'), "cluster record key '{:.100}'", record.key());
  const std::uint64_t next = index + 1;
  if (record.erase()) {
    ++stats.delete_success;
    const std::string subtree = record.key() + "/";
    for (auto it = cluster_records.lower_bound(record.key()); it != cluster_records.end();) {
      if (it->first != record.key() && !it->first.starts_with(subtree)) break;
      it = cluster_records.erase(it);
    }
    changes.push_back(Change{
        .kind = Change::Kind::EraseTree, .key = kClusterRecordPrefix + record.key(), .node = {}});
  } else {
    ++(record.create() ? stats.create_success
                       : (record.update() ? stats.update_success : stats.sets_success));
    cluster_records[record.key()] = {record.value(), next};
    Change change{
        .kind = Change::Kind::Put, .key = kClusterRecordPrefix + record.key(), .node = {}};
    change.node.set_value(record.value());
    change.node.set_created_index(next);
    change.node.set_modified_index(next);
    changes.push_back(std::move(change));
  }
  index = next;
  // The history keeps one event per index; like a refresh, this one matches no watcher.
  Event event;
  event.action = record.erase() ? Action::Delete : record.create() ? Action::Create : Action::Set;
  event.node.key = kClusterRecordPrefix + record.key();
  event.node.modified_index = next;
  event.node.created_index = next;
  event.etcd_index = next;
  hub.add_refresh(event);
}

StoreResult<Event> Store::Impl::apply_write(const pb::Write& write, std::int64_t now_ns) {
  CHECK(is_clean_key(write.key()) && write.key().size() <= kKeyBytesMax,
        "write to bad key '{:.100}' ({} bytes)", write.key(), write.key().size());
  const bool compares = write.prev_index() > 0 || !write.prev_value().empty();
  StoreResult<Event> result = Error{};
  Op op = Op::Set;
  switch (write.method()) {
    case pb::Write::PUT:
      if (write.has_prev_exist() && !write.prev_exist()) {
        op = Op::Create;
        result = create(write, false, now_ns);
      } else if (compares) {
        op = Op::CompareAndSwap;
        result = compare_and_swap(write, now_ns);
      } else if (write.has_prev_exist()) {
        op = Op::Update;
        result = update(write, now_ns);
      } else {
        result = set(write, now_ns);
      }
      break;
    case pb::Write::POST:
      op = Op::Create;
      result = create(write, true, now_ns);
      break;
    case pb::Write::DELETE:
      op = compares ? Op::CompareAndDelete : Op::Delete;
      result = compares ? compare_and_delete(write, now_ns) : erase(write, now_ns);
      break;
    default:
      CHECK(false, "write with method {}", static_cast<int>(write.method()));
  }
  count(stats, op, result);
  return result;
}

StoreResult<Event> Store::Impl::create_node(const std::string& requested_key, bool dir,
                                            std::string value, bool unique, bool replace,
                                            std::int64_t expiration_ns, Action action,
                                            std::int64_t now_ns) {
  const std::uint64_t next = index + 1;
  const std::string key =
      unique ? join_key(requested_key, fmt::format("{:020}", next)) : requested_key;
  if (key == "/") return error(ErrorCode::RootReadOnly, "/");
  if (expiration_ns < kMinExpirationNs) expiration_ns = 0;
  const std::string_view dir_key = parent_key(key);
  auto walk = tree.walk_dirs(dir_key);
  if (!walk) return with_index(walk.error());
  Event event{.action = action, .node = {}, .prev_node = std::nullopt, .etcd_index = next};
  if (walk->missing_from == dir_key.size()) {
    auto existing = walk->deepest->children.find(std::string_view{key}.substr(key.rfind('/') + 1));
    if (existing != walk->deepest->children.end()) {
      Node* old = &*existing;
      if (!replace) return error(ErrorCode::NodeExist, key);
      if (old->dir) return error(ErrorCode::NotFile, key);
      event.prev_node = tree.view(*old, false, now_ns);
      // The new node's Put overwrites the old file's record, so no erase is recorded.
      tree.remove(old, nullptr);
    }
  }
  Node* parent =
      tree.make_dirs(*walk, dir_key, next, [this](const Node& made) { record_put(made); });
  if (dir) value.clear();
  Node* node = tree.add(parent, key, dir, value, next, expiration_ns);
  record_put(*node);
  event.node = tree.view(*node, false, now_ns);
  index = next;
  return event;
}

StoreResult<Event> Store::Impl::set(const pb::Write& write, std::int64_t now_ns) {
  auto found = tree.find(write.key());
  if (!found && found.error().code != ErrorCode::KeyNotFound) return with_index(found.error());
  // A refreshing set keeps the value but still makes a new node (new createdIndex).
  if (write.refresh() && !found) return with_index(found.error());
  std::string value = write.refresh() ? (*found)->value.str() : write.value();
  auto event = create_node(write.key(), write.dir(), std::move(value), false, true,
                           write.expiration_unix_ns(), Action::Set, now_ns);
  if (!event) return event;
  if (write.refresh()) {
    hub.add_refresh(*event);
  } else {
    hub.notify(*event);
  }
  return event;
}

StoreResult<Event> Store::Impl::create(const pb::Write& write, bool unique, std::int64_t now_ns) {
  auto event = create_node(write.key(), write.dir(), write.value(), unique, false,
                           write.expiration_unix_ns(), Action::Create, now_ns);
  if (event) hub.notify(*event);
  return event;
}

StoreResult<Event> Store::Impl::update(const pb::Write& write, std::int64_t now_ns) {
  if (write.key() == "/") return error(ErrorCode::RootReadOnly, "/");
  auto found = tree.find(write.key());
  if (!found) return with_index(found.error());
  Node* node = *found;
  if (node->dir && !write.value().empty()) return error(ErrorCode::NotFile, write.key());
  const std::uint64_t next = index + 1;
  Event event{.action = Action::Update,
              .node = {},
              .prev_node = tree.view(*node, false, now_ns),
              .etcd_index = next};
  if (!node->dir) {
    if (!write.refresh()) node->value = write.value();
    node->modified_index = next;
  }
  // etcd leaves a dir's own modifiedIndex unchanged on update; only the event carries the new
  // index (observed on etcd 3.4.23: a GET after a dir TTL update shows the old modifiedIndex).
  tree.set_expiration(node, write.expiration_unix_ns());
  event.node = tree.view(*node, false, now_ns);
  event.node.modified_index = next;
  record_put(*node);
  index = next;
  if (write.refresh()) {
    hub.add_refresh(event);
  } else {
    hub.notify(event);
  }
  return event;
}

StoreResult<Event> Store::Impl::compare_and_swap(const pb::Write& write, std::int64_t now_ns) {
  if (write.key() == "/") return error(ErrorCode::RootReadOnly, "/");
  auto found = tree.find(write.key());
  if (!found) return with_index(found.error());
  Node* node = *found;
  if (node->dir) return error(ErrorCode::NotFile, write.key());
  if (auto cause = compare_failure(*node, write)) return error(ErrorCode::TestFailed, *cause);
  const std::uint64_t next = index + 1;
  Event event{.action = Action::CompareAndSwap,
              .node = {},
              .prev_node = tree.view(*node, false, now_ns),
              .etcd_index = next};
  if (!write.refresh()) node->value = write.value();
  node->modified_index = next;
  tree.set_expiration(node, write.expiration_unix_ns());
  event.node = tree.view(*node, false, now_ns);
  record_put(*node);
  index = next;
  if (write.refresh()) {
    hub.add_refresh(event);
  } else {
    hub.notify(event);
  }
  return event;
}

void Store::Impl::remove_node(Node* node, const Event& event) {
  Change change{.kind = Change::Kind::EraseTree, .key = node->key, .node = {}};
  tree.remove(node,
              [this, &event](const Node& removed) { hub.notify_removed(event, removed.key); });
  changes.push_back(std::move(change));
}

StoreResult<Event> Store::Impl::erase(const pb::Write& write, std::int64_t now_ns) {
  if (write.key() == "/") return error(ErrorCode::RootReadOnly, "/");
  auto found = tree.find(write.key());
  if (!found) return with_index(found.error());
  Node* node = *found;
  if (node->dir && !write.dir() && !write.recursive()) {
    return error(ErrorCode::NotFile, node->key);
  }
  if (node->dir && !node->children.empty() && !write.recursive()) {
    return error(ErrorCode::DirNotEmpty, node->key);
  }
  return remove_as(node, Action::Delete, now_ns);
}

StoreResult<Event> Store::Impl::compare_and_delete(const pb::Write& write, std::int64_t now_ns) {
  auto found = tree.find(write.key());
  if (!found) return with_index(found.error());
  Node* node = *found;
  // etcd reports the root by its internal path, which the API trims to an empty cause.
  if (node->dir) return error(ErrorCode::NotFile, write.key() == "/" ? "" : write.key());
  if (auto cause = compare_failure(*node, write)) return error(ErrorCode::TestFailed, *cause);
  return remove_as(node, Action::CompareAndDelete, now_ns);
}

Event Store::Impl::remove_as(Node* node, Action action, std::int64_t now_ns) {
  const std::uint64_t next = index + 1;
  Event event{.action = action,
              .node = removed_view(*node, next),
              .prev_node = tree.view(*node, false, now_ns),
              .etcd_index = next};
  remove_node(node, event);
  index = next;
  hub.notify(event);
  return event;
}

std::optional<Event> Store::Impl::expire(std::int64_t cutoff_ns, std::int64_t now_ns) {
  std::optional<Event> last;
  for (Node* node = tree.earliest_expiring(); node != nullptr && node->expiration_ns <= cutoff_ns;
       node = tree.earliest_expiring()) {
    const std::uint64_t next = index + 1;
    Event event{.action = Action::Expire,
                .node = removed_view(*node, next),
                .prev_node = tree.view(*node, false, now_ns),
                .etcd_index = next};
    remove_node(node, event);
    index = next;
    ++stats.expire_count;
    hub.notify(event);
    last = std::move(event);
  }
  return last;
}

}  // namespace discovery::store
