// Store persistence: the change list the server writes after each apply, rebuilding from those
// records, and whole-store snapshots.

#include <fmt/format.h>

#include <algorithm>
#include <unordered_map>
#include <utility>

#include "common/check.h"
#include "discovery/store/store.h"
#include "discovery/store/store_impl.h"

namespace discovery::store {
namespace {

using Records = std::vector<std::pair<std::string, pb::StoredNode>>;

constexpr std::string_view kSnapshotMagic = "hawp.v2store.1\n";

void put_varint(std::string& out, std::uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

// Reads a varint from the front of `in`, advancing it; nullopt when truncated or over 64 bits.
std::optional<std::uint64_t> take_varint(std::string_view& in) {
  std::uint64_t value = 0;
  for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
    const auto byte = static_cast<std::uint8_t>(in.front());
    in.remove_prefix(1);
    value |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return value;
  }
  return std::nullopt;
}

std::optional<std::string_view> take_bytes(std::string_view& in) {
  auto size = take_varint(in);
  if (!size || *size > in.size()) return std::nullopt;
  std::string_view bytes = in.substr(0, *size);
  in.remove_prefix(*size);
  return bytes;
}

// A record that restore can attach: a clean non-root key and a node consistent with `index`.
std::optional<std::string> invalid_record(const std::string& key, const pb::StoredNode& node,
                                          std::uint64_t index) {
  if (key == "/" || !is_clean_key(key) || key.size() > Store::kKeyBytesMax) {
    return fmt::format("bad key '{:.100}'", key);
  }
  if (node.created_index() == 0 || node.created_index() > node.modified_index() ||
      node.modified_index() > index) {
    return fmt::format("{}: indexes {}/{} do not fit index {}", key, node.created_index(),
                       node.modified_index(), index);
  }
  if (node.dir() && !node.value().empty()) return fmt::format("{}: dir with a value", key);
  return std::nullopt;
}

std::unique_ptr<Node> make_node(std::string key, pb::StoredNode& stored) {
  auto node = std::make_unique<Node>();
  node->key = std::move(key);
  node->dir = stored.dir();
  node->value = stored.value();
  node->created_index = stored.created_index();
  node->modified_index = stored.modified_index();
  node->expiration_ns = stored.expiration_unix_ns();
  return node;
}

// Attaches every record to `tree`. Records are sorted by key bytes, so every parent comes before
// its children and each dir's children arrive in name order: the parent is found by one hash
// lookup of its key and the child appended at the end of its map, O(key length) per record.
common::Result<void, std::string> build_tree(NodeTree& tree, Records& records,
                                             std::uint64_t index) {
  std::unordered_map<std::string_view, Node*> dirs;
  dirs.reserve(records.size() / 4 + 1);
  dirs.emplace("/", &tree.root());
  Node* last_parent = &tree.root();
  for (auto& [key, stored] : records) {
    if (auto invalid = invalid_record(key, stored, index)) return *invalid;
    const std::string_view parent_path = parent_key(key);
    Node* parent = last_parent;
    if (parent->key != parent_path) {
      auto found = dirs.find(parent_path);
      if (found == dirs.end()) return fmt::format("{}: no parent dir", key);
      parent = found->second;
    }
    const std::string_view name = std::string_view{key}.substr(key.rfind('/') + 1);
    if (!parent->children.empty() && !(parent->children.last()->name() < name)) {
      return fmt::format("{}: duplicate key", key);
    }
    std::unique_ptr<Node> node = make_node(std::move(key), stored);
    Node* raw = node.get();
    tree.attach_last(parent, std::move(node));
    if (raw->dir) dirs.emplace(raw->key, raw);
    last_parent = parent;
  }
  return {};
}

}  // namespace

std::vector<Change> Store::take_changes() {
  std::vector<Change> taken;
  taken.swap(impl_->changes);
  return taken;
}

common::Result<void, std::string> Store::restore(Records records, std::uint64_t index) {
  Impl& s = *impl_;
  CHECK(s.tree.empty() && s.cluster_records.empty() && s.index == 0 && s.hub.last_index() == 0 &&
            s.changes.empty(),
        "restore into a used store (index {})", s.index);
  return rebuild(std::move(records), index);
}

common::Result<void, std::string> Store::recover(Records records, std::uint64_t index) {
  Impl& s = *impl_;
  CHECK(s.changes.empty(), "recover with {} unpersisted changes", s.changes.size());
  // As etcd's v2 store recovers from a snapshot: the key space is replaced, the registered
  // watchers stay and see the events after the recovered index.
  s.tree.clear();
  s.cluster_records.clear();
  s.index = 0;
  return rebuild(std::move(records), index);
}

common::Result<void, std::string> Store::rebuild(Records records, std::uint64_t index) {
  Impl& s = *impl_;
  auto by_key = [](const auto& a, const auto& b) { return a.first < b.first; };
  if (!std::is_sorted(records.begin(), records.end(), by_key)) {
    std::sort(records.begin(), records.end(), by_key);
  }
  // Cluster records sort before every client key ('#' < '/'); take them off the front.
  auto clients = std::find_if(records.begin(), records.end(), [](const auto& record) {
    return record.first.empty() || record.first.front() != kClusterRecordPrefix;
  });
  for (auto it = records.begin(); it != clients; ++it) {
    if (it->second.modified_index() > index) {
      return fmt::format("cluster record {} at {} after index {}", it->first,
                         it->second.modified_index(), index);
    }
    s.cluster_records[it->first.substr(1)] = {it->second.value(), it->second.modified_index()};
  }
  records.erase(records.begin(), clients);
  auto built = build_tree(s.tree, records, index);
  if (!built) {
    s.tree.clear();
    s.cluster_records.clear();
    return built;
  }
  s.index = index;
  // Events up to the restored index were not kept; watches from before it must be told so.
  s.hub.reset_history(index);
  return {};
}

std::string Store::snapshot() const {
  const Impl& s = *impl_;
  std::vector<const Node*> nodes;
  nodes.reserve(s.tree.node_count());
  s.tree.for_each([&nodes](const Node& node) { nodes.push_back(&node); });
  // Key order makes the bytes canonical and lets restore attach without searching.
  std::sort(nodes.begin(), nodes.end(),
            [](const Node* a, const Node* b) { return a->key < b->key; });
  std::string out{kSnapshotMagic};
  put_varint(out, s.index);
  put_varint(out, s.cluster_records.size() + nodes.size());
  pb::StoredNode stored;
  std::string bytes;
  for (const auto& [key, record] : s.cluster_records) {
    stored.Clear();
    stored.set_value(record.first);
    stored.set_created_index(record.second);
    stored.set_modified_index(record.second);
    CHECK(stored.SerializeToString(&bytes), "serializing cluster record {}", key);
    const std::string prefixed = kClusterRecordPrefix + key;
    put_varint(out, prefixed.size());
    out.append(prefixed);
    put_varint(out, bytes.size());
    out.append(bytes);
  }
  for (const Node* node : nodes) {
    stored.set_dir(node->dir);
    stored.set_value(node->value.str());
    stored.set_created_index(node->created_index);
    stored.set_modified_index(node->modified_index);
    stored.set_expiration_unix_ns(node->expiration_ns);
    CHECK(stored.SerializeToString(&bytes), "serializing {}", node->key);
    put_varint(out, node->key.size());
    out.append(node->key);
    put_varint(out, bytes.size());
    out.append(bytes);
  }
  return out;
}

common::Result<void, std::string> Store::restore_snapshot(std::string_view bytes) {
  if (!bytes.starts_with(kSnapshotMagic)) return std::string{"not a store snapshot"};
  bytes.remove_prefix(kSnapshotMagic.size());
  auto index = take_varint(bytes);
  auto count = take_varint(bytes);
  if (!index || !count) return std::string{"truncated snapshot header"};
  // Each record takes at least two bytes, which bounds the reservation by the input size.
  if (*count > bytes.size() / 2) return std::string{"snapshot count exceeds its size"};
  Records records;
  records.reserve(*count);
  for (std::uint64_t i = 0; i < *count; ++i) {
    auto key = take_bytes(bytes);
    auto node = key ? take_bytes(bytes) : std::nullopt;
    if (!node) return fmt::format("snapshot truncated at record {}", i);
    pb::StoredNode stored;
    if (!stored.ParseFromArray(node->data(), static_cast<int>(node->size()))) {
      return fmt::format("snapshot record {} does not parse", i);
    }
    records.emplace_back(std::string{*key}, std::move(stored));
  }
  if (!bytes.empty()) return std::string{"trailing bytes after snapshot"};
  return restore(std::move(records), *index);
}

}  // namespace discovery::store
