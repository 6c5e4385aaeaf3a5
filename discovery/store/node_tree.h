#pragma once
// NodeTree: the v2 key space as a tree of nodes plus the index of nodes by expiration time.
// Store builds its operations from these primitives; NodeTree knows no etcd actions, events or
// watchers.

#include <boost/intrusive/set.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "discovery/store/error.h"
#include "discovery/store/event.h"

namespace discovery::store {

struct Node;

// A file's value: one heap block of exactly its size and the size (16 bytes). std::string would
// take 32 bytes in every node for an inline buffer that values (typically JSON or a URL) rarely
// fit, and a node exists per key, so the 16 bytes add up.
//
// Ownership: owns its block. Not thread-safe. Invariant: data_ is null iff size_ is 0.
class NodeValue {
 public:
  NodeValue() = default;
  NodeValue(const NodeValue&) = delete;
  NodeValue& operator=(const NodeValue&) = delete;
  NodeValue& operator=(std::string_view bytes);

  std::string_view view() const { return {data_.get(), size_}; }
  std::string str() const { return std::string{view()}; }
  bool empty() const { return size_ == 0; }

 private:
  std::unique_ptr<char[]> data_;
  std::size_t size_ = 0;
};

// The hook that links a node into its parent's children: a red-black tree node inside the Node
// itself (three words), so a key costs no separate map entry allocation.
using ChildHook = boost::intrusive::set_base_hook<boost::intrusive::optimize_size<true>>;

// Orders children by name.
struct NodeName {
  using type = std::string_view;
  std::string_view operator()(const Node& node) const;
};

// A dir's children, owned, by name: an intrusive red-black tree linked through each child's
// ChildHook. The tree's head is allocated on the first insert, so a file (most nodes) spends one
// pointer on it instead of three.
//
// Ownership: deletes its children (allocated with new) when they are erased and on destruction.
// Not thread-safe. Invariant: every linked child's key stays unchanged while linked.
class ChildSet {
 public:
  using Tree = boost::intrusive::set<Node, boost::intrusive::base_hook<ChildHook>,
                                     boost::intrusive::key_of_value<NodeName>,
                                     boost::intrusive::constant_time_size<false>>;
  using iterator = Tree::iterator;
  using const_iterator = Tree::const_iterator;

  ChildSet() = default;
  ChildSet(const ChildSet&) = delete;
  ChildSet& operator=(const ChildSet&) = delete;
  ~ChildSet();

  // Without a tree, begin() == end() == a default iterator, which compare equal.
  iterator begin() { return tree_ ? tree_->begin() : iterator{}; }
  iterator end() { return tree_ ? tree_->end() : iterator{}; }
  const_iterator begin() const { return tree_ ? tree_->cbegin() : const_iterator{}; }
  const_iterator end() const { return tree_ ? tree_->cend() : const_iterator{}; }
  bool empty() const { return !tree_ || tree_->empty(); }
  iterator find(std::string_view name) { return tree_ ? tree_->find(name) : iterator{}; }
  // The child with the greatest name, or null.
  const Node* last() const;
  // Links `child` (taking ownership) unless a child of that name exists; false then (the caller
  // keeps ownership).
  bool insert(Node& child);
  // Links `child` (taking ownership); its name must sort after every linked child's.
  void push_back(Node& child);
  // Unlinks and deletes the child at `at` (and so its subtree).
  void erase(const const_iterator& at);
  void clear();

 private:
  std::unique_ptr<Tree> tree_;
};

// One file or directory. Keys are clean absolute paths ("/" is the root). A node owns its
// children: destroying it destroys its subtree.
struct Node : ChildHook {
  Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  ~Node() = default;

  std::string key;
  Node* parent = nullptr;  // null only for the root
  bool dir = false;
  NodeValue value;  // files only
  std::uint64_t created_index = 0;
  std::uint64_t modified_index = 0;
  std::int64_t expiration_ns = 0;  // Unix nanoseconds; 0 = permanent
  ChildSet children;               // dirs only

  std::string_view name() const;
  // etcd hides a node whose own name starts with '_' from listings.
  bool hidden() const { return name().starts_with('_'); }
  bool permanent() const { return expiration_ns == 0; }
};

// Key helpers. They expect clean absolute keys.
// Whether `key` is "/" or "/seg/seg..." with no empty, "." or ".." segment (Go's path.Clean form).
bool is_clean_key(std::string_view key);
std::string_view parent_key(std::string_view key);  // "/" for a child of the root
std::string join_key(std::string_view dir, std::string_view name);

// etcd's ttl: ceil(seconds from now to expiration), with Go's truncating division, so an overdue
// node has a ttl of 0 or below.
std::int64_t ttl_seconds(std::int64_t expiration_ns, std::int64_t now_ns);
WallTime wall_time_from_ns(std::int64_t unix_ns);

// NodeTree owns every node.
//
// Ownership and threads: a member of Store::Impl; used only on the store's thread.
// Invariants: every non-root node is in its parent's children under its own name; the parent is a
// dir; a node is in the expiration index iff it is not permanent; node_count() counts all nodes
// except the root.
class NodeTree {
 public:
  NodeTree();
  ~NodeTree();
  NodeTree(const NodeTree&) = delete;
  NodeTree& operator=(const NodeTree&) = delete;

  Node& root() { return *root_; }
  const Node& root() const { return *root_; }
  std::size_t node_count() const { return node_count_; }
  bool empty() const { return root_->children.empty(); }

  // etcd's internalGet: the node at `key`, or KeyNotFound with the first missing path as cause,
  // or NotDir with the path of the file found on the way as cause. Error indexes are left 0.
  common::Result<Node*, Error> find(std::string_view key) const;

  // The deepest existing dir on `dir_key` (a dir path, possibly "/") and the offset in dir_key
  // where the missing part begins (dir_key.size() when everything exists). NotDir (cause = the
  // file's path) when a component is a file.
  struct DirWalk {
    Node* deepest = nullptr;
    std::size_t missing_from = 0;
  };
  common::Result<DirWalk, Error> walk_dirs(std::string_view dir_key) const;

  // Creates the missing dirs of a successful walk_dirs, permanent, with both indexes = index,
  // calling on_created for each from the top down. Returns the dir at dir_key.
  Node* make_dirs(const DirWalk& walk, std::string_view dir_key, std::uint64_t index,
                  const std::function<void(const Node&)>& on_created);

  // Adds a new node under `parent` (which must be a dir without a child of that name).
  Node* add(Node* parent, std::string key, bool dir, std::string_view value, std::uint64_t index,
            std::int64_t expiration_ns);

  // Changes a node's expiration and keeps the expiration index in step.
  void set_expiration(Node* node, std::int64_t expiration_ns);

  // Removes `node` and its subtree. on_removed sees every removed node, children before their
  // dir, in key order, while it is still intact. `node` is destroyed on return.
  void remove(Node* node, const std::function<void(const Node&)>& on_removed);

  // The node that expires first (ties by key), or null.
  Node* earliest_expiring() const;

  // The client view of a node (etcd's Repr with recursive; children in key order, hidden ones
  // left out).
  NodeView view(const Node& node, bool recursive, std::int64_t now_ns) const;

  // Every node but the root, in no particular order.
  void for_each(const std::function<void(const Node&)>& visit) const;

  // Removes every node but the root.
  void clear();

  // Restore support: attaches a node whose key sorts after every existing child of `parent`.
  void attach_last(Node* parent, std::unique_ptr<Node> node);

  // Full structural check (parents, names, expiration index, indexes <= max_index). Costly:
  // tests and restore call it.
  void check_invariants(std::uint64_t max_index) const;

 private:
  struct ExpiryOrder {
    bool operator()(const Node* a, const Node* b) const;
  };

  void index_expiration(Node* node);
  void unindex_expiration(Node* node);

  std::unique_ptr<Node> root_;
  std::set<Node*, ExpiryOrder> expiring_;
  std::size_t node_count_ = 0;
};

}  // namespace discovery::store
