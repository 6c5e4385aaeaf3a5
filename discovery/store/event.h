#pragma once
// The values the store hands out: a node as a client sees it (NodeView, etcd's NodeExtern) and
// an event (Event). They are plain copies, independent of the store's tree, so they may be moved
// to another thread and rendered there.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace discovery::store {

using WallTime = std::chrono::system_clock::time_point;

// NodeView fields in etcd's JSON order: key, dir, value, expiration, ttl, nodes, modifiedIndex,
// createdIndex. Omission rules (behaviour items 3, 4, 6) are encoded in the optionals:
// - key is empty only for the root, which also has zero indexes (both are then omitted);
// - dir is written only when true;
// - value is nullopt for dirs and for the `node` of delete/compareAndDelete/expire events;
// - expiration is nullopt for permanent nodes; ttl is written only when non-zero;
// - nodes is written only when it holds at least one child.
struct NodeView {
  std::string key;
  bool dir = false;
  std::optional<std::string> value;
  std::optional<WallTime> expiration;
  std::int64_t ttl = 0;  // ceil(seconds from "now" to expiration), computed when the view is made
  std::vector<NodeView> nodes;
  std::uint64_t modified_index = 0;
  std::uint64_t created_index = 0;

  friend bool operator==(const NodeView&, const NodeView&) = default;
};

enum class Action {
  Get,
  Set,
  Create,
  Update,
  CompareAndSwap,
  Delete,
  CompareAndDelete,
  Expire,
};

// The JSON name of an action: "get", "set", "create", "update", "compareAndSwap", "delete",
// "compareAndDelete", "expire".
std::string_view action_name(Action action);

// Event is one store answer or one watch notification: {"action":…,"node":…,"prevNode":…}.
// etcd_index is the store index after the operation (the X-Etcd-Index header of the answer).
struct Event {
  Action action = Action::Get;
  NodeView node;
  std::optional<NodeView> prev_node;
  std::uint64_t etcd_index = 0;

  // The index at which this event happened: node.modified_index for mutations.
  std::uint64_t index() const { return node.modified_index; }

  friend bool operator==(const Event&, const Event&) = default;
};

}  // namespace discovery::store
