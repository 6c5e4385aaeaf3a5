// Store reads, TTLs, expiry, compareAndDelete, refresh and the stats counters, pinned against
// etcd 3.4.23. Times are explicit; no clock is read.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "discovery/store/store.h"
#include "discovery/store/store_test_util.h"

namespace discovery::store {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace)

TEST(StoreCompareAndDelete, SuccessAndRefusals) {
  Store store;
  ok(store, Put("/k").value("v"));
  ok(store, Put("/d").dir());
  EXPECT_EQ(fail(store, Del("/k").prev_value("x")), (Error{ErrorCode::TestFailed, "[x != v]", 2}));
  EXPECT_EQ(fail(store, Del("/k").prev_index(5)), (Error{ErrorCode::TestFailed, "[5 != 1]", 2}));
  EXPECT_EQ(fail(store, Del("/d").prev_value("x")), (Error{ErrorCode::NotFile, "/d", 2}));
  // etcd names the root by its internal path, trimmed to nothing.
  EXPECT_EQ(fail(store, Del("/").prev_value("x")), (Error{ErrorCode::NotFile, "", 2}));
  EXPECT_EQ(fail(store, Del("/m").prev_value("x")), (Error{ErrorCode::KeyNotFound, "/m", 2}));
  Event event = ok(store, Del("/k").prev_value("v").prev_index(1));
  EXPECT_EQ(event.action, Action::CompareAndDelete);
  EXPECT_EQ(event.node, gone("/k", 3, 1));
  EXPECT_EQ(event.prev_node, file("/k", "v", 1, 1));
}

TEST(StoreRefresh, UpdateKeepsValueConsumesIndexAndWakesNobody) {
  Store store;
  ok(store, Put("/k").value("v").ttl(10));
  int woken = 0;
  ASSERT_TRUE(store.watch("/k", false, true, 0, [&](const Event&) { return ++woken > 0; }));
  Event event = ok(store, Put("/k").refresh().prev_exist(true).ttl(100));
  EXPECT_EQ(event.action, Action::Update);
  EXPECT_EQ(event.node.value, "v");
  EXPECT_EQ(event.node.ttl, 100);
  EXPECT_EQ(event.node.modified_index, 2u);
  EXPECT_EQ(store.index(), 2u);
  EXPECT_EQ(woken, 0);
  // The history skips refresh events too.
  auto from_history = store.watch("/k", false, false, 2, [](const Event&) { return true; });
  ASSERT_TRUE(from_history);
  EXPECT_FALSE(from_history->event);
  Event cas = ok(store, Put("/k").refresh().prev_value("v").ttl(7));
  EXPECT_EQ(cas.action, Action::CompareAndSwap);
  EXPECT_EQ(cas.node.value, "v");
  EXPECT_EQ(woken, 0);
}

TEST(StoreRefresh, SetKeepsValueWithNewCreatedIndex) {
  Store store;
  ok(store, Put("/k").value("v").ttl(10));
  Event event = ok(store, Put("/k").refresh().ttl(300));
  EXPECT_EQ(event.action, Action::Set);
  EXPECT_EQ(event.node.value, "v");
  EXPECT_EQ(event.node.created_index, 2u);
  EXPECT_EQ(event.node.ttl, 300);
  EXPECT_EQ(event.prev_node->ttl, 10);
}

TEST(StoreTtl, RenderedFromTheGivenNow) {
  Store store;
  Event event = ok(store, Put("/k").value("v").expiration(kT0 + 1'500'000'000));
  EXPECT_EQ(event.node.ttl, 2);  // ceil(1.5 s)
  EXPECT_EQ(*event.node.expiration, at(kT0 + 1'500'000'000));
  EXPECT_EQ(get(store, "/k", false, kT0 + 600'000'000).node.ttl, 1);
  EXPECT_EQ(get(store, "/k", false, kT0 + 1'500'000'000).node.ttl, 0);
  // Overdue but not yet swept: Go's truncating division gives 0, then -1.
  EXPECT_EQ(get(store, "/k", false, kT0 + 2'400'000'000).node.ttl, 0);
  EXPECT_EQ(get(store, "/k", false, kT0 + 2'600'000'000).node.ttl, -1);
  // ttl=0: an expiration equal to now, so no ttl is shown.
  Event zero = ok(store, Put("/z").value("v").ttl(0));
  EXPECT_TRUE(zero.node.expiration);
  EXPECT_EQ(zero.node.ttl, 0);
  // Set and create treat expirations before 2000 as permanent.
  Event old = ok(store, Put("/o").value("v").expiration(5));
  EXPECT_FALSE(old.node.expiration);
  EXPECT_EQ(*store.next_expiration(), at(kT0));
}

TEST(StoreExpire, OrderIndexesAndEventShapes) {
  Store store;
  ok(store, Put("/b").value("b").expiration(kT0 + 2 * kSecondNs));
  ok(store, Put("/a").value("a").expiration(kT0 + 2 * kSecondNs));
  ok(store, Put("/d/c").value("c").expiration(kT0 + 1 * kSecondNs));
  ok(store, Put("/late").value("l").expiration(kT0 + 9 * kSecondNs));
  std::vector<Event> seen;
  ASSERT_TRUE(store.watch("/", true, true, 0, [&](const Event& e) {
    seen.push_back(e);
    return true;
  }));
  auto nothing = store.apply(Sync(kT0));
  ASSERT_TRUE(nothing);
  EXPECT_FALSE(*nothing);
  auto last = store.apply(Sync(kT0 + 2 * kSecondNs));
  ASSERT_TRUE(last && *last);
  EXPECT_EQ(store.index(), 7u);
  ASSERT_EQ(seen.size(), 3u);
  // Expiration order, ties broken by key; each expired node gets its own index.
  EXPECT_EQ(seen[0].node, gone("/d/c", 5, 3));
  EXPECT_EQ(seen[1].node, gone("/a", 6, 2));
  EXPECT_EQ(seen[2].node, gone("/b", 7, 1));
  EXPECT_EQ(**last, seen[2]);
  EXPECT_EQ(seen[1].action, Action::Expire);
  EXPECT_EQ(seen[1].etcd_index, 6u);
  // prevNode keeps value and expiration; the ttl is not positive any more, so it is omitted.
  EXPECT_EQ(seen[1].prev_node->value, "a");
  EXPECT_EQ(*seen[1].prev_node->expiration, at(kT0 + 2 * kSecondNs));
  EXPECT_EQ(seen[1].prev_node->ttl, 0);
  EXPECT_EQ(store.stats().expire_count, 3u);
  EXPECT_EQ(*store.next_expiration(), at(kT0 + 9 * kSecondNs));
  store.check_invariants();
}

TEST(StoreExpire, DirTakesItsSubtreeInOneEvent) {
  Store store;
  ok(store, Put("/d").dir().expiration(kT0 + kSecondNs));
  ok(store, Put("/d/x").value("x").expiration(kT0 + 5 * kSecondNs));
  ok(store, Put("/d/y/z").value("z"));
  std::vector<Event> seen;
  ASSERT_TRUE(store.watch("/d/y/z", false, false, 0, [&](const Event& e) {
    seen.push_back(e);
    return true;
  }));
  store.take_changes();
  auto last = store.apply(Sync(kT0 + 10 * kSecondNs));
  ASSERT_TRUE(last && *last);
  EXPECT_EQ((*last)->node, gone("/d", 4, 1, true));
  EXPECT_TRUE((*last)->prev_node->dir);
  EXPECT_EQ(store.index(), 4u);
  EXPECT_EQ(store.node_count(), 0u);
  ASSERT_EQ(seen.size(), 1u);  // a watcher inside the dir sees the dir's expire event
  EXPECT_EQ(seen[0].node.key, "/d");
  auto changes = store.take_changes();
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].kind, Change::Kind::EraseTree);
  EXPECT_EQ(changes[0].key, "/d");
  EXPECT_FALSE(store.next_expiration());
}

TEST(StoreGet, RootListingsAndErrors) {
  Store store;
  ok(store, Put("/b/c/d").value("1"));
  ok(store, Put("/a").value("2").ttl(5));
  ok(store, Put("/e").dir());
  Event root = get(store, "/");
  EXPECT_EQ(root.action, Action::Get);
  EXPECT_EQ(root.node.key, "");
  EXPECT_TRUE(root.node.dir);
  EXPECT_EQ(root.node.created_index, 0u);
  EXPECT_EQ(root.node.modified_index, 0u);
  EXPECT_EQ(root.etcd_index, 3u);
  EXPECT_EQ(keys_of(root.node.nodes), (std::vector<std::string>{"/a", "/b", "/e"}));
  // Non-recursive: child dirs come without their nodes.
  EXPECT_TRUE(root.node.nodes[1].nodes.empty());
  EXPECT_EQ(root.node.nodes[0].ttl, 5);
  Event deep = get(store, "/", true);
  EXPECT_EQ(keys_of(deep.node.nodes[1].nodes), std::vector<std::string>{"/b/c"});
  EXPECT_EQ(keys_of(deep.node.nodes[1].nodes[0].nodes), std::vector<std::string>{"/b/c/d"});
  EXPECT_TRUE(deep.node.nodes[2].nodes.empty());  // empty dir: nodes omitted
  EXPECT_EQ(get_error(store, "/b/x/y"), (Error{ErrorCode::KeyNotFound, "/b/x", 3}));
  EXPECT_EQ(get_error(store, "/a/x"), (Error{ErrorCode::NotDir, "/a", 3}));
  NodeView a = file("/a", "2", 2, 2);
  a.expiration = at(kT0 + 5 * kSecondNs);
  a.ttl = 5;
  EXPECT_EQ(get(store, "/a").node, a);
}

TEST(StoreGet, SortsBytewise) {
  Store store;
  for (const char* key : {"/a/b", "/a!x", "/a0", "/A", "/\xc3\xa9", "/a/a"}) {
    ok(store, Put(key).value("v"));
  }
  EXPECT_EQ(keys_of(get(store, "/").node.nodes),
            (std::vector<std::string>{"/A", "/a", "/a!x", "/a0", "/\xc3\xa9"}));
  EXPECT_EQ(keys_of(get(store, "/a").node.nodes), (std::vector<std::string>{"/a/a", "/a/b"}));
}

TEST(StoreHidden, ExcludedFromListingsButReadable) {
  Store store;
  ok(store, Put("/h/_secret").value("s"));
  ok(store, Put("/h/_dir/x").value("x"));
  ok(store, Put("/h/open/_deep").value("d"));
  ok(store, Put("/h/open/v").value("v"));
  EXPECT_EQ(keys_of(get(store, "/h").node.nodes), std::vector<std::string>{"/h/open"});
  Event deep = get(store, "/h", true);
  ASSERT_EQ(deep.node.nodes.size(), 1u);
  EXPECT_EQ(keys_of(deep.node.nodes[0].nodes), std::vector<std::string>{"/h/open/v"});
  EXPECT_EQ(get(store, "/h/_secret").node.value, "s");
  // A hidden dir read directly lists its (visible) children.
  EXPECT_EQ(keys_of(get(store, "/h/_dir").node.nodes), std::vector<std::string>{"/h/_dir/x"});
}

// Counter deltas per operation, including etcd's refusals counted as successes (observed on
// etcd 3.4.23 through /v2/stats/store).
TEST(StoreStats, CountsAsEtcdDoes) {
  Store store;
  ok(store, Put("/f").value("v"));                     // set ok
  ok(store, Put("/d").dir());                          // set ok
  fail(store, Put("/d").value("x"));                   // set fail
  fail(store, Post("/f").value("x"));                  // create fail + set fail (parent is a file)
  fail(store, Put("/f").prev_exist(false));            // create fail
  ok(store, Post("/q").value("x"));                    // create ok
  fail(store, Del("/"));                               // delete "success"
  fail(store, Del("/m"));                              // delete fail
  ok(store, Del("/q").recursive());                    // delete ok
  fail(store, Put("/").prev_exist(true));              // update "success"
  fail(store, Put("/d").value("x").prev_exist(true));  // update "success"
  fail(store, Put("/m").prev_exist(true));             // update fail
  ok(store, Put("/f").value("w").prev_exist(true));    // update ok
  fail(store, Put("/").value("x").prev_value("a"));    // CAS "success"
  fail(store, Put("/f").value("x").prev_value("a"));   // CAS fail
  fail(store, Put("/d").value("x").prev_value("a"));   // CAS fail
  ok(store, Put("/f").value("x").prev_value("w"));     // CAS ok
  fail(store, Del("/f").prev_value("a"));              // CAD "success"
  fail(store, Del("/d").prev_value("a"));              // CAD "success"
  fail(store, Del("/m").prev_value("a"));              // CAD fail
  ok(store, Del("/f").prev_value("x"));                // CAD ok
  get(store, "/d");
  get_error(store, "/nope");
  ASSERT_TRUE(store.watch("/d", true, false, 0, [](const Event&) { return true; }));
  ASSERT_TRUE(store.watch("/d", false, true, 0, [](const Event&) { return true; }));
  Stats expected;
  expected.gets_success = 1;
  expected.gets_fail = 1;
  expected.sets_success = 2;
  expected.sets_fail = 2;
  expected.create_success = 1;
  expected.create_fail = 2;
  expected.delete_success = 2;
  expected.delete_fail = 1;
  expected.update_success = 3;
  expected.update_fail = 1;
  expected.compare_and_swap_success = 2;
  expected.compare_and_swap_fail = 2;
  expected.compare_and_delete_success = 3;
  expected.compare_and_delete_fail = 1;
  expected.watchers = 2;
  EXPECT_EQ(store.stats(), expected);
  // The recursive one-shot watcher fires and leaves; the plain stream one ignores a child write.
  ok(store, Put("/d/x").value("1"));
  EXPECT_EQ(store.stats().watchers, 1u);
}

TEST(StoreStats, JsonOrderIsEtcds) {
  std::vector<std::string> names;
  visit_stats(Stats{}, [&](std::string_view name, std::uint64_t) { names.emplace_back(name); });
  EXPECT_EQ(names, (std::vector<std::string>{
                       "getsSuccess", "getsFail", "setsSuccess", "setsFail", "deleteSuccess",
                       "deleteFail", "updateSuccess", "updateFail", "createSuccess", "createFail",
                       "compareAndSwapSuccess", "compareAndSwapFail", "compareAndDeleteSuccess",
                       "compareAndDeleteFail", "expireCount", "watchers"}));
}

}  // namespace
}  // namespace discovery::store
