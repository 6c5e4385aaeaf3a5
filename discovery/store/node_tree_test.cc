// Key helpers, ttl arithmetic and NodeTree structure.

#include "discovery/store/node_tree.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace discovery::store {
namespace {

TEST(Keys, Clean) {
  for (const char* key : {"/", "/a", "/a/b", "/a b/+/%", "/_x", "/..a", "/a."}) {
    EXPECT_TRUE(is_clean_key(key)) << key;
  }
  for (const char* key : {"", "a", "/a/", "//a", "/a//b", "/./a", "/a/..", "/a/./b"}) {
    EXPECT_FALSE(is_clean_key(key)) << key;
  }
}

TEST(Keys, ParentAndJoin) {
  EXPECT_EQ(parent_key("/a"), "/");
  EXPECT_EQ(parent_key("/a/b/c"), "/a/b");
  EXPECT_EQ(join_key("/", "x"), "/x");
  EXPECT_EQ(join_key("/a", "x"), "/a/x");
}

TEST(Ttl, GoCeilingAndTruncation) {
  constexpr std::int64_t kS = 1'000'000'000;
  struct Case {
    std::int64_t remaining_ns;
    std::int64_t ttl;
  };
  for (const Case& c : std::vector<Case>{{60 * kS, 60},
                                         {60 * kS - 1, 60},
                                         {1, 1},
                                         {0, 0},
                                         {-1, 0},
                                         {-kS + 1, 0},
                                         {-kS, -1},
                                         {-kS - 1, -1},
                                         {-2 * kS - 1, -2}}) {
    EXPECT_EQ(ttl_seconds(1'000 * kS + c.remaining_ns, 1'000 * kS), c.ttl) << c.remaining_ns;
  }
}

TEST(NodeTree, AddRemoveKeepIndexesInStep) {
  NodeTree tree;
  auto walk = tree.walk_dirs("/a/b");
  ASSERT_TRUE(walk);
  EXPECT_EQ(walk->missing_from, 0u);
  std::vector<std::string> made;
  Node* b = tree.make_dirs(*walk, "/a/b", 1, [&](const Node& n) { made.push_back(n.key); });
  EXPECT_EQ(made, (std::vector<std::string>{"/a", "/a/b"}));
  Node* leaf = tree.add(b, "/a/b/c", false, "v", 1, 50);
  tree.add(b, "/a/b/d", false, "w", 1, 40);
  EXPECT_EQ(tree.earliest_expiring()->key, "/a/b/d");
  tree.set_expiration(leaf, 10);
  EXPECT_EQ(tree.earliest_expiring(), leaf);
  tree.check_invariants(1);
  auto through_file = tree.walk_dirs("/a/b/c/x");
  ASSERT_FALSE(through_file);
  EXPECT_EQ(through_file.error().cause, "/a/b/c");
  std::vector<std::string> removed;
  Node* a = *tree.find("/a");
  tree.remove(a, [&](const Node& n) { removed.push_back(n.key); });
  EXPECT_EQ(removed, (std::vector<std::string>{"/a/b/c", "/a/b/d", "/a/b", "/a"}));
  EXPECT_EQ(tree.node_count(), 0u);
  EXPECT_EQ(tree.earliest_expiring(), nullptr);
  tree.check_invariants(1);
}

TEST(NodeValue, HoldsExactlyTheAssignedBytes) {
  NodeValue value;
  EXPECT_TRUE(value.empty());
  EXPECT_EQ(value.view(), "");
  value = std::string(100, 'v');
  EXPECT_EQ(value.str(), std::string(100, 'v'));
  value = std::string_view{"a\0b", 3};  // embedded NUL kept
  EXPECT_EQ(value.view(), (std::string_view{"a\0b", 3}));
  value = "";
  EXPECT_TRUE(value.empty());
  EXPECT_EQ(value.str(), "");
}

TEST(NodeTree, ReplacedValueIsReadBack) {
  NodeTree tree;
  Node* file = tree.add(&tree.root(), "/f", false, "first", 1, 0);
  file->value = "second, longer than the first";
  EXPECT_EQ(tree.view(*file, false, 0).value, "second, longer than the first");
  tree.remove(file, nullptr);
  EXPECT_TRUE(tree.empty());
}

}  // namespace
}  // namespace discovery::store
