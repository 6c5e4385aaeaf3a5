// Watch semantics of etcd 3.4 (behaviour items 28-31), driven through Store so that events come
// from real writes. The quirks pinned here were observed on etcd 3.4.23.

#include "discovery/store/watcher_hub.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "discovery/store/store.h"
#include "discovery/store/store_test_util.h"

namespace discovery::store {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace)

// Collects what one watcher receives.
struct Recorder {
  std::vector<Event> events;
  bool keep = true;
  WatcherHub::Sink sink() {
    return [this](const Event& event) {
      events.push_back(event);
      return keep;
    };
  }
  std::vector<std::string> keys() const {
    std::vector<std::string> out;
    for (const Event& event : events) out.push_back(event.node.key);
    return out;
  }
};

WatchId must_register(Store& store, std::string_view key, bool recursive, bool stream,
                      Recorder& recorder, std::uint64_t since = 0) {
  auto start = store.watch(key, recursive, stream, since, recorder.sink());
  EXPECT_TRUE(start.has_value());
  if (!start) return 0;
  EXPECT_FALSE(start->event);
  EXPECT_EQ(start->etcd_index, store.index());
  EXPECT_NE(start->id, 0u);
  return start->id;
}

TEST(Watch, ScopeOfPlainAndRecursiveWatchers) {
  Store store;
  ok(store, Put("/d/x").value("0"));
  Recorder plain_key, plain_dir, recursive_dir, root;
  must_register(store, "/d/x", false, true, plain_key);
  must_register(store, "/d", false, true, plain_dir);
  must_register(store, "/d", true, true, recursive_dir);
  must_register(store, "/", true, true, root);
  ok(store, Put("/d/x").value("1"));
  ok(store, Put("/d/y/z").value("2"));
  ok(store, Put("/other").value("3"));
  EXPECT_EQ(plain_key.keys(), std::vector<std::string>{"/d/x"});
  EXPECT_TRUE(plain_dir.events.empty());  // a plain dir watch ignores child writes
  EXPECT_EQ(recursive_dir.keys(), (std::vector<std::string>{"/d/x", "/d/y/z"}));
  EXPECT_EQ(root.keys(), (std::vector<std::string>{"/d/x", "/d/y/z", "/other"}));
  EXPECT_EQ(plain_key.events[0].etcd_index, 2u);
}

TEST(Watch, OneShotLeavesAfterOneEventStreamStays) {
  Store store;
  Recorder once, stream;
  must_register(store, "/k", false, false, once);
  must_register(store, "/k", false, true, stream);
  EXPECT_EQ(store.stats().watchers, 2u);
  ok(store, Put("/k").value("1"));
  ok(store, Put("/k").value("2"));
  EXPECT_EQ(once.events.size(), 1u);
  EXPECT_EQ(stream.events.size(), 2u);
  EXPECT_EQ(store.stats().watchers, 1u);
}

TEST(Watch, SinkRefusalAndCancelRemove) {
  Store store;
  Recorder refusing, cancelled;
  refusing.keep = false;
  must_register(store, "/k", false, true, refusing);
  WatchId id = must_register(store, "/k", false, true, cancelled);
  store.cancel_watch(id);
  store.cancel_watch(id);  // unknown ids are ignored
  ok(store, Put("/k").value("1"));
  ok(store, Put("/k").value("2"));
  EXPECT_EQ(refusing.events.size(), 1u);
  EXPECT_TRUE(cancelled.events.empty());
  EXPECT_EQ(store.stats().watchers, 0u);
}

TEST(Watch, DeletedAncestorNotifiesExistingDescendants) {
  Store store;
  ok(store, Put("/w/k").value("1"));
  ok(store, Put("/w/_h").value("1"));
  Recorder on_child, on_hidden_child, on_dir_stream, on_dir_recursive, on_missing, on_root;
  must_register(store, "/w/k", false, true, on_child);
  must_register(store, "/w/_h", false, true, on_hidden_child);
  must_register(store, "/w", false, true, on_dir_stream);
  must_register(store, "/w", true, true, on_dir_recursive);
  must_register(store, "/w/k/zz", false, true, on_missing);
  must_register(store, "/", true, true, on_root);
  ok(store, Del("/w").recursive());
  EXPECT_EQ(on_child.keys(), std::vector<std::string>{"/w"});
  EXPECT_EQ(on_hidden_child.keys(), std::vector<std::string>{"/w"});
  // etcd tells stream watchers on the deleted key itself twice: once as a removed node and once
  // as the event's own key (observed on etcd 3.4.23).
  EXPECT_EQ(on_dir_stream.keys(), (std::vector<std::string>{"/w", "/w"}));
  EXPECT_EQ(on_dir_recursive.keys(), (std::vector<std::string>{"/w", "/w"}));
  EXPECT_TRUE(on_missing.events.empty());
  EXPECT_EQ(on_root.keys(), std::vector<std::string>{"/w"});
}

TEST(Watch, DeletedFileTellsItsStreamWatcherTwice) {
  Store store;
  ok(store, Put("/x").value("1"));
  Recorder stream, once;
  must_register(store, "/x", false, true, stream);
  must_register(store, "/x", false, false, once);
  ok(store, Del("/x"));
  EXPECT_EQ(stream.events.size(), 2u);
  EXPECT_EQ(once.events.size(), 1u);
  EXPECT_EQ(stream.events[0].action, Action::Delete);
}

TEST(Watch, RecursiveWatchersSkipHiddenKeys) {
  Store store;
  Recorder root, hidden_dir, hidden_key;
  must_register(store, "/", true, true, root);
  must_register(store, "/h/_d", true, true, hidden_dir);
  must_register(store, "/h/_k", false, true, hidden_key);
  ok(store, Put("/h/_k").value("1"));
  ok(store, Put("/h/_d/x").value("1"));
  ok(store, Put("/h/v").value("1"));
  EXPECT_EQ(root.keys(), std::vector<std::string>{"/h/v"});
  EXPECT_EQ(hidden_dir.keys(), std::vector<std::string>{"/h/_d/x"});
  EXPECT_EQ(hidden_key.keys(), std::vector<std::string>{"/h/_k"});
}

TEST(Watch, FutureSinceIndexWaits) {
  Store store;
  Recorder recorder;
  must_register(store, "/k", false, true, recorder, 3);
  ok(store, Put("/k").value("1"));
  ok(store, Put("/k").value("2"));
  ok(store, Put("/k").value("3"));
  ASSERT_EQ(recorder.events.size(), 1u);
  EXPECT_EQ(recorder.events[0].index(), 3u);
}

TEST(WatchHistory, AnswersFirstMatchAtOnce) {
  Store store;
  ok(store, Put("/a").value("1"));     // 1
  ok(store, Put("/b/c").value("2"));   // 2
  ok(store, Put("/a").value("3"));     // 3
  ok(store, Put("/h/_x").value("4"));  // 4
  struct Case {
    const char* key;
    bool recursive;
    std::uint64_t since;
    std::uint64_t want;  // 0: registered instead
  };
  const std::vector<Case> cases = {
      {"/a", false, 1, 1},
      {"/a", false, 2, 3},
      {"/b", false, 1, 0},
      {"/b", true, 1, 2},
      {"/", true, 3, 3},
      {"/a", false, 5, 0},
      // The history scan, unlike live watchers, does not skip hidden keys (etcd 3.4.23).
      {"/h", true, 4, 4},
  };
  for (const Case& c : cases) {
    auto start = store.watch(c.key, c.recursive, false, c.since, [](const Event&) { return true; });
    ASSERT_TRUE(start) << c.key << " " << c.since;
    EXPECT_EQ(start->etcd_index, 4u);
    if (c.want == 0) {
      EXPECT_FALSE(start->event) << c.key << " " << c.since;
      EXPECT_NE(start->id, 0u);
      store.cancel_watch(start->id);
    } else {
      ASSERT_TRUE(start->event) << c.key << " " << c.since;
      EXPECT_EQ(start->event->index(), c.want) << c.key << " " << c.since;
      EXPECT_EQ(start->event->etcd_index, 4u);  // the current index, not the event's
      EXPECT_EQ(start->id, 0u);
    }
  }
  EXPECT_EQ(store.stats().watchers, 0u);
}

TEST(WatchHistory, DirDeletionMatchesByStringPrefix) {
  Store store;
  ok(store, Put("/p/q").value("1"));
  ok(store, Del("/p").recursive());  // 2
  ok(store, Put("/ex").dir().expiration(kT0 + kSecondNs));
  ASSERT_TRUE(store.apply(Sync(kT0 + kSecondNs)));  // 4: expire /ex
  for (const char* key : {"/pzz", "/p/q/r"}) {
    auto start = store.watch(key, false, false, 2, [](const Event&) { return true; });
    ASSERT_TRUE(start && start->event) << key;
    EXPECT_EQ(start->event->node.key, "/p");
  }
  auto expired = store.watch("/ex2/c", false, false, 3, [](const Event&) { return true; });
  ASSERT_TRUE(expired && expired->event);
  EXPECT_EQ(expired->event->action, Action::Expire);
}

TEST(WatchHistory, KeepsTheLastThousandEvents) {
  Store store;
  for (int i = 0; i < 1010; ++i) ok(store, Put("/k").value(std::to_string(i)));
  ASSERT_EQ(store.index(), 1010u);
  // The oldest kept event is current - 999.
  auto oldest = store.watch("/k", false, false, 11, [](const Event&) { return true; });
  ASSERT_TRUE(oldest && oldest->event);
  EXPECT_EQ(oldest->event->index(), 11u);
  auto cleared = store.watch("/k", false, false, 10, [](const Event&) { return true; });
  ASSERT_FALSE(cleared);
  EXPECT_EQ(cleared.error(), (Error{ErrorCode::EventIndexCleared,
                                    "the requested history has been cleared [11/10]", 1010}));
  EXPECT_EQ(store.stats().watchers, 0u);
}

TEST(WatchDeathTest, SinkMustNotReenterTheStore) {
  Store store;
  WatchId other = 0;
  ASSERT_TRUE(store.watch("/k", false, true, 0, [&](const Event&) {
    store.cancel_watch(other);
    return true;
  }));
  Recorder recorder;
  other = must_register(store, "/k", false, true, recorder);
  EXPECT_DEATH(store.apply(Put("/k").value("1")), "inside a sink");
}

}  // namespace
}  // namespace discovery::store
