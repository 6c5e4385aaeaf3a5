#pragma once
// Store::Impl: the state behind Store, shared by store.cc (operations) and store_persist.cc
// (changes, restore, snapshots). Private to discovery/store.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "discovery/store/node_tree.h"
#include "discovery/store/store.h"

namespace discovery::store {

struct Store::Impl {
  // The etcd v2 operations, each a Write after applyV2's dispatch. `now_ns` is the command's
  // time, used only to render ttl fields. They update index, changes and watchers, not stats.
  StoreResult<Event> set(const pb::Write& write, std::int64_t now_ns);
  StoreResult<Event> create(const pb::Write& write, bool unique, std::int64_t now_ns);
  StoreResult<Event> update(const pb::Write& write, std::int64_t now_ns);
  StoreResult<Event> compare_and_swap(const pb::Write& write, std::int64_t now_ns);
  StoreResult<Event> erase(const pb::Write& write, std::int64_t now_ns);
  StoreResult<Event> compare_and_delete(const pb::Write& write, std::int64_t now_ns);
  // Expires every node with expiration <= cutoff_ns; returns the last expire event.
  std::optional<Event> expire(std::int64_t cutoff_ns, std::int64_t now_ns);

  StoreResult<Event> apply_write(const pb::Write& write, std::int64_t now_ns);
  void apply_cluster_record(const pb::ClusterRecord& record);

  // etcd's internalCreate: a new node at key (or key/%020d for unique), its missing parent dirs,
  // and for `replace` the removal of an existing file there.
  StoreResult<Event> create_node(const std::string& requested_key, bool dir, std::string value,
                                 bool unique, bool replace, std::int64_t expiration_ns,
                                 Action action, std::int64_t now_ns);
  // Removes `node` for a delete, compareAndDelete or expire `event`, telling the watchers of every
  // removed node, then records the erase.
  void remove_node(Node* node, const Event& event);
  // Removes `node` as a delete or compareAndDelete at the next index and returns its event.
  Event remove_as(Node* node, Action action, std::int64_t now_ns);

  Error error(ErrorCode code, std::string cause) const;
  Error with_index(Error error) const;
  void record_put(const Node& node);

  NodeTree tree;
  WatcherHub hub;
  std::uint64_t index = 0;
  Stats stats;
  std::vector<Change> changes;
  // Cluster records by key (without the prefix): value and the index that wrote it.
  std::map<std::string, std::pair<std::string, std::uint64_t>, std::less<>> cluster_records;
};

}  // namespace discovery::store
