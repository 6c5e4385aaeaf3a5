#include "discovery/store/node_tree.h"

#include <fmt/format.h>

#include <chrono>
#include <cstring>
#include <utility>

#include "common/check.h"

namespace discovery::store {

NodeValue& NodeValue::operator=(std::string_view bytes) {
  if (bytes.empty()) {
    data_.reset();
  } else {
    // for_overwrite: the bytes are copied in at once, no need to zero them first.
    auto block = std::make_unique_for_overwrite<char[]>(bytes.size());
    std::memcpy(block.get(), bytes.data(), bytes.size());
    data_ = std::move(block);
  }
  size_ = bytes.size();
  return *this;
}

std::string_view NodeName::operator()(const Node& node) const { return node.name(); }

ChildSet::~ChildSet() { clear(); }

const Node* ChildSet::last() const { return empty() ? nullptr : &*tree_->crbegin(); }

bool ChildSet::insert(Node& child) {
  if (!tree_) tree_ = std::make_unique<Tree>();
  return tree_->insert(child).second;
}

void ChildSet::push_back(Node& child) {
  if (!tree_) tree_ = std::make_unique<Tree>();
  tree_->push_back(child);
}

void ChildSet::erase(const const_iterator& at) {
  tree_->erase_and_dispose(at, [](Node* removed) { delete removed; });
}

void ChildSet::clear() {
  if (tree_) tree_->clear_and_dispose([](Node* child) { delete child; });
}

std::string_view Node::name() const {
  std::string_view view{key};
  return view.substr(view.rfind('/') + 1);
}

bool is_clean_key(std::string_view key) {
  if (key == "/") return true;
  if (!key.starts_with('/') || key.ends_with('/')) return false;
  // Every segment must be non-empty and neither "." nor "..", as after Go's path.Clean.
  std::size_t begin = 1;
  while (begin <= key.size()) {
    std::size_t end = key.find('/', begin);
    if (end == std::string_view::npos) end = key.size();
    std::string_view segment = key.substr(begin, end - begin);
    if (segment.empty() || segment == "." || segment == "..") return false;
    begin = end + 1;
  }
  return true;
}

std::string_view parent_key(std::string_view key) {
  std::size_t slash = key.rfind('/');
  return slash == 0 ? std::string_view{"/"} : key.substr(0, slash);
}

std::string join_key(std::string_view dir, std::string_view name) {
  // fmt instead of std::string appends: GCC 12 reports a false -Wrestrict on the latter.
  return dir.ends_with('/') ? fmt::format("{}{}", dir, name) : fmt::format("{}/{}", dir, name);
}

std::int64_t ttl_seconds(std::int64_t expiration_ns, std::int64_t now_ns) {
  // Go computes ttl = d / 1s, plus one if d % 1s > 0; C++ division truncates the same way.
  constexpr std::int64_t kSecond = 1'000'000'000;
  const std::int64_t remaining = expiration_ns - now_ns;
  std::int64_t ttl = remaining / kSecond;
  if (remaining % kSecond > 0) ++ttl;
  return ttl;
}

WallTime wall_time_from_ns(std::int64_t unix_ns) {
  return WallTime{
      std::chrono::duration_cast<WallTime::duration>(std::chrono::nanoseconds{unix_ns})};
}

bool NodeTree::ExpiryOrder::operator()(const Node* a, const Node* b) const {
  if (a->expiration_ns != b->expiration_ns) return a->expiration_ns < b->expiration_ns;
  return a->key < b->key;
}

NodeTree::NodeTree() : root_(std::make_unique<Node>()) {
  root_->key.push_back('/');  // GCC 12 misreports -Wrestrict on assigning a literal
  root_->dir = true;
}

NodeTree::~NodeTree() = default;

common::Result<Node*, Error> NodeTree::find(std::string_view key) const {
  Node* current = root_.get();
  std::size_t begin = 1;
  while (begin < key.size()) {
    std::size_t end = key.find('/', begin);
    if (end == std::string_view::npos) end = key.size();
    if (!current->dir) return Error{.code = ErrorCode::NotDir, .cause = current->key, .index = 0};
    auto child = current->children.find(key.substr(begin, end - begin));
    if (child == current->children.end()) {
      return Error{
          .code = ErrorCode::KeyNotFound, .cause = std::string{key.substr(0, end)}, .index = 0};
    }
    current = &*child;
    begin = end + 1;
  }
  return current;
}

common::Result<NodeTree::DirWalk, Error> NodeTree::walk_dirs(std::string_view dir_key) const {
  Node* current = root_.get();
  std::size_t begin = 1;
  while (begin < dir_key.size()) {
    std::size_t end = dir_key.find('/', begin);
    if (end == std::string_view::npos) end = dir_key.size();
    auto child = current->children.find(dir_key.substr(begin, end - begin));
    if (child == current->children.end()) {
      return DirWalk{.deepest = current, .missing_from = begin - 1};
    }
    if (!child->dir) return Error{.code = ErrorCode::NotDir, .cause = child->key, .index = 0};
    current = &*child;
    begin = end + 1;
  }
  return DirWalk{.deepest = current, .missing_from = dir_key.size()};
}

Node* NodeTree::make_dirs(const DirWalk& walk, std::string_view dir_key, std::uint64_t index,
                          const std::function<void(const Node&)>& on_created) {
  Node* current = walk.deepest;
  std::size_t begin = walk.missing_from + 1;
  while (begin <= dir_key.size() && walk.missing_from < dir_key.size()) {
    std::size_t end = dir_key.find('/', begin);
    if (end == std::string_view::npos) end = dir_key.size();
    current = add(current, std::string{dir_key.substr(0, end)}, true, {}, index, 0);
    on_created(*current);
    begin = end + 1;
  }
  return current;
}

Node* NodeTree::add(Node* parent, std::string key, bool dir, std::string_view value,
                    std::uint64_t index, std::int64_t expiration_ns) {
  CHECK(parent->dir, "add {} under file {}", key, parent->key);
  CHECK(parent_key(key) == parent->key, "add {} under {}", key, parent->key);
  auto node = std::make_unique<Node>();
  node->key = std::move(key);
  node->parent = parent;
  node->dir = dir;
  node->value = value;
  node->created_index = index;
  node->modified_index = index;
  node->expiration_ns = expiration_ns;
  const bool inserted = parent->children.insert(*node);
  CHECK(inserted, "add {}: name taken", node->key);
  Node* raw = node.release();  // owned by the parent's children from here on
  ++node_count_;
  if (!raw->permanent()) index_expiration(raw);
  return raw;
}

void NodeTree::clear() {
  expiring_.clear();
  root_->children.clear();
  node_count_ = 0;
}

void NodeTree::attach_last(Node* parent, std::unique_ptr<Node> node) {
  CHECK(parent->dir, "attach {} under file {}", node->key, parent->key);
  node->parent = parent;
  CHECK(parent->children.empty() || parent->children.last()->name() < node->name(),
        "attach {} out of order", node->key);
  Node* raw = node.release();  // owned by the parent's children from here on
  parent->children.push_back(*raw);
  ++node_count_;
  if (!raw->permanent()) index_expiration(raw);
}

void NodeTree::set_expiration(Node* node, std::int64_t expiration_ns) {
  if (!node->permanent()) unindex_expiration(node);
  node->expiration_ns = expiration_ns;
  if (!node->permanent()) index_expiration(node);
}

void NodeTree::index_expiration(Node* node) {
  auto [it, inserted] = expiring_.insert(node);
  CHECK(inserted, "{} already in the expiration index", node->key);
}

void NodeTree::unindex_expiration(Node* node) {
  CHECK(expiring_.erase(node) == 1, "{} missing from the expiration index", node->key);
}

void NodeTree::remove(Node* node, const std::function<void(const Node&)>& on_removed) {
  CHECK(node != root_.get(), "remove of the root");
  // Post-order: etcd removes (and reports) a dir's children before the dir itself. Depth is
  // bounded by the key length the API accepts.
  std::function<void(Node*)> visit = [&](Node* current) {
    for (Node& child : current->children) visit(&child);
    if (on_removed) on_removed(*current);
    if (!current->permanent()) unindex_expiration(current);
    --node_count_;
  };
  visit(node);
  Node* parent = node->parent;
  auto slot = parent->children.find(node->name());
  CHECK(slot != parent->children.end() && &*slot == node, "{} not in its parent", node->key);
  parent->children.erase(slot);
}

Node* NodeTree::earliest_expiring() const {
  return expiring_.empty() ? nullptr : *expiring_.begin();
}

NodeView NodeTree::view(const Node& node, bool recursive, std::int64_t now_ns) const {
  NodeView out;
  out.key = node.key;
  out.dir = node.dir;
  if (!node.dir) out.value = node.value.str();
  if (!node.permanent()) {
    out.expiration = wall_time_from_ns(node.expiration_ns);
    out.ttl = ttl_seconds(node.expiration_ns, now_ns);
  }
  out.modified_index = node.modified_index;
  out.created_index = node.created_index;
  if (node.dir && recursive) {
    for (const Node& child : node.children) {
      if (!child.hidden()) out.nodes.push_back(view(child, true, now_ns));
    }
  }
  return out;
}

void NodeTree::for_each(const std::function<void(const Node&)>& visit) const {
  std::vector<const Node*> stack{root_.get()};
  while (!stack.empty()) {
    const Node* current = stack.back();
    stack.pop_back();
    if (current != root_.get()) visit(*current);
    for (const Node& child : current->children) stack.push_back(&child);
  }
}

void NodeTree::check_invariants(std::uint64_t max_index) const {
  std::size_t count = 0;
  std::size_t expiring = 0;
  std::vector<const Node*> stack{root_.get()};
  CHECK(root_->dir && root_->parent == nullptr && root_->key == "/", "bad root");
  while (!stack.empty()) {
    const Node* current = stack.back();
    stack.pop_back();
    CHECK(current->dir || current->children.empty(), "file {} has children", current->key);
    CHECK(current->created_index <= current->modified_index && current->modified_index <= max_index,
          "{}: indexes {} {} over {}", current->key, current->created_index,
          current->modified_index, max_index);
    CHECK(!current->dir || current->value.empty(), "dir {} has a value", current->key);
    if (!current->permanent()) {
      ++expiring;
      CHECK(expiring_.contains(const_cast<Node*>(current)), "{} not indexed", current->key);
    }
    const Node* previous = nullptr;
    for (const Node& child : current->children) {
      CHECK(child.parent == current && parent_key(child.key) == current->key &&
                (previous == nullptr || previous->name() < child.name()),
            "{} misplaced under {}", child.key, current->key);
      previous = &child;
      ++count;
      stack.push_back(&child);
    }
  }
  CHECK(count == node_count_, "{} nodes counted, {} recorded", count, node_count_);
  CHECK(expiring == expiring_.size(), "{} expiring nodes, {} indexed", expiring, expiring_.size());
}

}  // namespace discovery::store
