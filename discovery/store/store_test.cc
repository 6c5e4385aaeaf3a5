// Store operations against etcd 3.4.23 behaviour (observed with `etcd --enable-v2=true` and
// reference/etcd-v2-behaviour.md). Times are explicit; no clock is read.

#include "discovery/store/store.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "discovery/store/store_test_util.h"

namespace discovery::store {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace)

TEST(StoreSet, CreatesFileAndImplicitParentDirs) {
  Store store;
  Event event = ok(store, Put("/a/b/c").value("v"));
  EXPECT_EQ(event.action, Action::Set);
  EXPECT_EQ(event.node, file("/a/b/c", "v", 1, 1));
  EXPECT_FALSE(event.prev_node);
  EXPECT_EQ(event.etcd_index, 1u);
  EXPECT_EQ(store.index(), 1u);
  // The implicit dirs are permanent and carry the index of the write that made them.
  EXPECT_EQ(get(store, "/a").node.created_index, 1u);
  Event b = get(store, "/a/b");
  EXPECT_TRUE(b.node.dir);
  EXPECT_EQ(b.node.modified_index, 1u);
  EXPECT_EQ(keys_of(b.node.nodes), std::vector<std::string>{"/a/b/c"});
  store.check_invariants();
}

TEST(StoreSet, OverwriteMakesNewNodeWithPrevNode) {
  Store store;
  ok(store, Put("/k").value("1"));
  Event event = ok(store, Put("/k").value("2"));
  EXPECT_EQ(event.action, Action::Set);
  // etcd's set replaces the node: createdIndex is the new index.
  EXPECT_EQ(event.node, file("/k", "2", 2, 2));
  EXPECT_EQ(event.prev_node, file("/k", "1", 1, 1));
}

TEST(StoreSet, DirOnExistingFileReplacesIt) {
  Store store;
  ok(store, Put("/k").value("1"));
  Event event = ok(store, Put("/k").dir().value("ignored"));
  EXPECT_EQ(event.node, dir_view("/k", 2, 2));
  EXPECT_EQ(event.prev_node, file("/k", "1", 1, 1));
  EXPECT_TRUE(get(store, "/k").node.dir);
}

TEST(StoreSet, Refusals) {
  struct Case {
    const char* name;
    pb::Command command;
    ErrorCode code;
    std::string cause;
  };
  const std::vector<Case> cases = {
      {"dir on dir", Put("/d").dir(), ErrorCode::NotFile, "/d"},
      {"value on dir", Put("/d").value("x"), ErrorCode::NotFile, "/d"},
      {"through a file", Put("/f/x/y").value("1"), ErrorCode::NotDir, "/f"},
      {"root", Put("/").value("1"), ErrorCode::RootReadOnly, "/"},
      {"refresh of missing", Put("/m/n").refresh().ttl(5), ErrorCode::KeyNotFound, "/m"},
      {"refresh of dir", Put("/d").refresh().ttl(5), ErrorCode::NotFile, "/d"},
  };
  for (const Case& c : cases) {
    Store store;
    ok(store, Put("/d").dir());
    ok(store, Put("/f").value("x"));
    Error error = fail(store, c.command);
    EXPECT_EQ(error, (Error{c.code, c.cause, 2})) << c.name;
    EXPECT_EQ(store.index(), 2u) << c.name;
    EXPECT_TRUE(store.take_changes().size() == 2) << c.name;
  }
}

TEST(StoreCreate, PrevExistFalse) {
  Store store;
  Event event = ok(store, Put("/p/k").value("v").prev_exist(false));
  EXPECT_EQ(event.action, Action::Create);
  EXPECT_EQ(event.node, file("/p/k", "v", 1, 1));
  EXPECT_EQ(fail(store, Put("/p/k").value("w").prev_exist(false)),
            (Error{ErrorCode::NodeExist, "/p/k", 1}));
  // prevValue does not turn a create into a compare.
  EXPECT_EQ(fail(store, Put("/p/k").value("w").prev_exist(false).prev_value("v")),
            (Error{ErrorCode::NodeExist, "/p/k", 1}));
  EXPECT_EQ(fail(store, Put("/p").dir().prev_exist(false)), (Error{ErrorCode::NodeExist, "/p", 1}));
  EXPECT_EQ(fail(store, Put("/p/k/x").prev_exist(false)), (Error{ErrorCode::NotDir, "/p/k", 1}));
  EXPECT_EQ(fail(store, Put("/").prev_exist(false)), (Error{ErrorCode::RootReadOnly, "/", 1}));
  Event made_dir = ok(store, Put("/p/d").dir().prev_exist(false).ttl(10));
  EXPECT_TRUE(made_dir.node.dir);
  EXPECT_EQ(made_dir.node.ttl, 10);
}

TEST(StoreCreate, InOrderNamesUseTheNewIndex) {
  Store store;
  ok(store, Put("/other").value("x"));
  Event first = ok(store, Post("/q").value("a"));
  EXPECT_EQ(first.action, Action::Create);
  EXPECT_EQ(first.node, file("/q/00000000000000000002", "a", 2, 2));
  Event second = ok(store, Post("/q").value("b"));
  EXPECT_EQ(second.node.key, "/q/00000000000000000003");
  Event in_dir = ok(store, Post("/q").dir());
  EXPECT_EQ(in_dir.node, dir_view("/q/00000000000000000004", 4, 4));
  Event at_root = ok(store, Post("/").value("r"));
  EXPECT_EQ(at_root.node.key, "/00000000000000000005");
  EXPECT_EQ(fail(store, Post("/other").value("x")), (Error{ErrorCode::NotDir, "/other", 5}));
  EXPECT_EQ(keys_of(get(store, "/q").node.nodes),
            (std::vector<std::string>{"/q/00000000000000000002", "/q/00000000000000000003",
                                      "/q/00000000000000000004"}));
}

TEST(StoreUpdate, FileValueAndTtl) {
  Store store;
  ok(store, Put("/k").value("1").ttl(100));
  Event event = ok(store, Put("/k").value("2").prev_exist(true).ttl(30));
  EXPECT_EQ(event.action, Action::Update);
  EXPECT_EQ(event.node.value, "2");
  EXPECT_EQ(event.node.ttl, 30);
  EXPECT_EQ(event.node.created_index, 1u);
  EXPECT_EQ(event.node.modified_index, 2u);
  EXPECT_EQ(event.prev_node->ttl, 100);
  // Without value and ttl, an update empties the value and makes the key permanent.
  Event bare = ok(store, Put("/k").prev_exist(true));
  EXPECT_EQ(bare.node, file("/k", "", 3, 1));
  EXPECT_FALSE(store.next_expiration());
}

TEST(StoreUpdate, DirTtlKeepsStoredModifiedIndex) {
  Store store;
  ok(store, Put("/d").dir());
  Event event = ok(store, Put("/d").dir().prev_exist(true).ttl(30));
  EXPECT_EQ(event.action, Action::Update);
  EXPECT_TRUE(event.node.dir);
  EXPECT_FALSE(event.node.value);
  EXPECT_EQ(event.node.ttl, 30);
  EXPECT_EQ(event.node.modified_index, 2u);
  EXPECT_EQ(event.prev_node, dir_view("/d", 1, 1));
  // Observed on etcd 3.4.23: the dir itself keeps modifiedIndex 1.
  Event read = get(store, "/d");
  EXPECT_EQ(read.node.modified_index, 1u);
  EXPECT_EQ(read.node.ttl, 30);
  EXPECT_EQ(read.etcd_index, 2u);
}

TEST(StoreUpdate, Refusals) {
  Store store;
  ok(store, Put("/d").dir());
  EXPECT_EQ(fail(store, Put("/d").value("x").prev_exist(true)),
            (Error{ErrorCode::NotFile, "/d", 1}));
  EXPECT_EQ(fail(store, Put("/m").value("x").prev_exist(true)),
            (Error{ErrorCode::KeyNotFound, "/m", 1}));
  EXPECT_EQ(fail(store, Put("/").value("x").prev_exist(true)),
            (Error{ErrorCode::RootReadOnly, "/", 1}));
}

TEST(StoreCompareAndSwap, FailureCauses) {
  struct Case {
    const char* name;
    W command;
    Error error;
  };
  const std::vector<Case> cases = {
      {"value", Put("/k").value("n").prev_value("a"), {ErrorCode::TestFailed, "[a != cur]", 1}},
      {"index", Put("/k").value("n").prev_index(2), {ErrorCode::TestFailed, "[2 != 1]", 1}},
      {"both",
       Put("/k").value("n").prev_value("a").prev_index(2),
       {ErrorCode::TestFailed, "[a != cur] [2 != 1]", 1}},
      {"value matches",
       Put("/k").value("n").prev_value("cur").prev_index(9),
       {ErrorCode::TestFailed, "[9 != 1]", 1}},
      {"prevExist with index",
       Put("/k").value("n").prev_exist(true).prev_index(7),
       {ErrorCode::TestFailed, "[7 != 1]", 1}},
      {"missing", Put("/m").value("n").prev_value("a"), {ErrorCode::KeyNotFound, "/m", 1}},
      {"root", Put("/").value("n").prev_value("a"), {ErrorCode::RootReadOnly, "/", 1}},
  };
  for (const Case& c : cases) {
    Store store;
    ok(store, Put("/k").value("cur"));
    EXPECT_EQ(fail(store, c.command), c.error) << c.name;
  }
  Store store;
  ok(store, Put("/d").dir());
  EXPECT_EQ(fail(store, Put("/d").value("n").prev_value("a")),
            (Error{ErrorCode::NotFile, "/d", 1}));
}

TEST(StoreCompareAndSwap, Success) {
  Store store;
  ok(store, Put("/k").value("cur").ttl(50));
  Event event = ok(store, Put("/k").value("new").prev_value("cur").prev_index(1));
  EXPECT_EQ(event.action, Action::CompareAndSwap);
  // Without a ttl the swap makes the key permanent, as etcd's UpdateTTL does.
  EXPECT_EQ(event.node, file("/k", "new", 2, 1));
  EXPECT_EQ(event.prev_node->value, "cur");
  EXPECT_EQ(event.prev_node->ttl, 50);
  EXPECT_FALSE(store.next_expiration());
}

TEST(StoreDelete, Table) {
  struct Case {
    const char* name;
    W command;
    std::optional<Error> error;  // nullopt: success
  };
  const std::vector<Case> cases = {
      {"dir without flags", Del("/d"), Error{ErrorCode::NotFile, "/d", 4}},
      {"non-empty dir with dir", Del("/d").dir(), Error{ErrorCode::DirNotEmpty, "/d", 4}},
      {"empty dir with dir", Del("/e").dir(), std::nullopt},
      {"dir recursive", Del("/d").recursive(), std::nullopt},
      {"file", Del("/d/f"), std::nullopt},
      {"file with dir", Del("/d/f").dir(), std::nullopt},
      {"file recursive", Del("/d/f").recursive(), std::nullopt},
      {"missing", Del("/d/x"), Error{ErrorCode::KeyNotFound, "/d/x", 4}},
      {"through file", Del("/d/f/x"), Error{ErrorCode::NotDir, "/d/f", 4}},
      {"root", Del("/").recursive(), Error{ErrorCode::RootReadOnly, "/", 4}},
  };
  for (const Case& c : cases) {
    Store store;
    ok(store, Put("/d/f").value("1"));
    ok(store, Put("/d/g").value("2"));
    ok(store, Put("/e").dir());
    ok(store, Put("/z").value("z"));
    auto result = store.apply(c.command);
    if (c.error) {
      ASSERT_FALSE(result.has_value()) << c.name;
      EXPECT_EQ(result.error(), *c.error) << c.name;
    } else {
      ASSERT_TRUE(result.has_value()) << c.name;
      EXPECT_EQ((*result)->action, Action::Delete) << c.name;
      EXPECT_EQ(store.index(), 5u) << c.name;
    }
    store.check_invariants();
  }
}

TEST(StoreDelete, EventShapes) {
  Store store;
  ok(store, Put("/d/f").value("1").ttl(20));
  Event file_gone = ok(store, Del("/d/f"));
  EXPECT_EQ(file_gone.node, gone("/d/f", 2, 1));
  EXPECT_EQ(file_gone.prev_node->value, "1");
  EXPECT_EQ(file_gone.prev_node->ttl, 20);
  Event dir_gone = ok(store, Del("/d").dir());
  EXPECT_EQ(dir_gone.node, gone("/d", 3, 1, true));
  EXPECT_EQ(dir_gone.prev_node, dir_view("/d", 1, 1));
  EXPECT_EQ(get_error(store, "/d"), (Error{ErrorCode::KeyNotFound, "/d", 3}));
}

}  // namespace
}  // namespace discovery::store
