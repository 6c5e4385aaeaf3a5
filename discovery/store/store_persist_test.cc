// Persistence: take_changes() records, restore(), snapshots, and a randomized determinism test.

#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "discovery/store/store.h"
#include "discovery/store/store_test_util.h"

namespace discovery::store {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace)
using Records = std::vector<std::pair<std::string, pb::StoredNode>>;

// What the server keeps on disk: the records after applying every change in order.
class Disk {
 public:
  void apply(const std::vector<Change>& changes) {
    for (const Change& change : changes) {
      if (change.kind == Change::Kind::Put) {
        records_[change.key] = change.node;
        continue;
      }
      records_.erase(change.key);
      // Everything under key + "/": the keys from key + "/" up to key + "0" ('0' follows '/').
      records_.erase(records_.lower_bound(change.key + "/"),
                     records_.lower_bound(change.key + "0"));
    }
  }
  Records records() const { return Records(records_.begin(), records_.end()); }

 private:
  std::map<std::string, pb::StoredNode> records_;
};

pb::StoredNode stored(bool dir, std::string value, std::uint64_t created, std::uint64_t modified,
                      std::int64_t expiration = 0) {
  pb::StoredNode node;
  node.set_dir(dir);
  node.set_value(std::move(value));
  node.set_created_index(created);
  node.set_modified_index(modified);
  node.set_expiration_unix_ns(expiration);
  return node;
}

TEST(StoreChanges, RecordWhatEachWriteDid) {
  Store store;
  ok(store, Put("/a/b").value("1").ttl(5));
  auto changes = store.take_changes();
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].key, "/a");
  EXPECT_TRUE(changes[0].node.dir());
  EXPECT_EQ(changes[1].key, "/a/b");
  EXPECT_EQ(changes[1].node.value(), "1");
  EXPECT_EQ(changes[1].node.expiration_unix_ns(), kT0 + 5 * kSecondNs);
  EXPECT_TRUE(store.take_changes().empty());
  fail(store, Put("/a").value("x"));
  EXPECT_TRUE(store.take_changes().empty());  // failed writes change nothing
  ok(store, Del("/a").recursive());
  changes = store.take_changes();
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].kind, Change::Kind::EraseTree);
}

TEST(StoreRestore, RoundTripKeepsTtlsAndIndex) {
  Store original;
  ok(original, Put("/a/b").value("1").ttl(5));
  ok(original, Put("/a/c").dir().ttl(9));
  ok(original, Put("/z").value("z"));
  ok(original, Put("/a/c").dir().prev_exist(true).ttl(20));
  Disk disk;
  disk.apply(original.take_changes());
  Store restored;
  ASSERT_TRUE(restored.restore(disk.records(), original.index()));
  restored.check_invariants();
  EXPECT_EQ(restored.snapshot(), original.snapshot());
  EXPECT_EQ(get(restored, "/a/c").node, get(original, "/a/c").node);
  // TTLs keep counting from the stored expiration.
  auto expired = restored.apply(Sync(kT0 + 5 * kSecondNs));
  ASSERT_TRUE(expired && *expired);
  EXPECT_EQ((*expired)->node.key, "/a/b");
  EXPECT_EQ((*expired)->index(), 5u);
  // Events before the restore are gone: old watches are told so, the next index waits.
  auto cleared = restored.watch("/a", true, false, 4, [](const Event&) { return true; });
  ASSERT_FALSE(cleared);
  EXPECT_EQ(cleared.error(), (Error{ErrorCode::EventIndexCleared,
                                    "the requested history has been cleared [5/4]", 5}));
  auto from_history = restored.watch("/a", true, false, 5, [](const Event&) { return true; });
  ASSERT_TRUE(from_history && from_history->event);
  EXPECT_EQ(from_history->event->action, Action::Expire);
}

TEST(StoreRecover, ReplacesTheKeySpaceAndKeepsWatchers) {
  Store leader;
  ok(leader, Put("/a/b").value("1"));
  ok(leader, Put("/gone").value("x"));
  ok(leader, Del("/gone"));
  ok(leader, Put("/a/c").value("2"));
  Disk disk;
  disk.apply(leader.take_changes());

  Store follower;
  ok(follower, Put("/old").value("o"));
  (void)follower.take_changes();
  std::vector<Event> seen;
  auto watched = follower.watch("/a", true, true, 0, [&seen](const Event& event) {
    seen.push_back(event);
    return true;
  });
  ASSERT_TRUE(watched && watched->id != 0);
  ASSERT_TRUE(follower.recover(disk.records(), leader.index()));
  follower.check_invariants();
  EXPECT_EQ(follower.snapshot(), leader.snapshot());
  EXPECT_EQ(follower.index(), 4u);
  EXPECT_EQ(get_error(follower, "/old").code, ErrorCode::KeyNotFound);
  EXPECT_EQ(follower.stats().watchers, 1u);
  // The watcher registered before the snapshot sees the events after it.
  ok(follower, Put("/a/d").value("3"));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].node.key, "/a/d");
  EXPECT_EQ(seen[0].index(), 5u);
  // The history starts at the recovered index.
  EXPECT_FALSE(follower.watch("/a", true, false, 4, [](const Event&) { return true; }));
}

TEST(StoreRestore, AnyOrderAndRejectsBrokenTrees) {
  Records shuffled = {{"/d/f", stored(false, "v", 2, 2)}, {"/d", stored(true, "", 1, 1)}};
  Store store;
  ASSERT_TRUE(store.restore(shuffled, 2));
  EXPECT_EQ(get(store, "/d/f").node.value, "v");
  struct Case {
    const char* name;
    Records records;
  };
  const std::vector<Case> cases = {
      {"missing parent", {{"/d/f", stored(false, "v", 1, 1)}}},
      {"file parent", {{"/d", stored(false, "", 1, 1)}, {"/d/f", stored(false, "v", 1, 1)}}},
      {"duplicate", {{"/d", stored(true, "", 1, 1)}, {"/d", stored(true, "", 1, 1)}}},
      {"root", {{"/", stored(true, "", 1, 1)}}},
      {"unclean", {{"/d/", stored(true, "", 1, 1)}}},
      {"index too high", {{"/d", stored(true, "", 1, 3)}}},
      {"dir value", {{"/d", stored(true, "x", 1, 1)}}},
  };
  for (const Case& c : cases) {
    Store broken;
    EXPECT_FALSE(broken.restore(c.records, 2)) << c.name;
    EXPECT_EQ(broken.node_count(), 0u) << c.name;
  }
}

TEST(StoreSnapshot, RoundTripAndCorruption) {
  Store original;
  ok(original, Put("/a!x").value("1"));
  ok(original, Put("/a/b/c").value("2").ttl(7));
  ok(original, Post("/q").dir());
  const std::string bytes = original.snapshot();
  Store copy;
  ASSERT_TRUE(copy.restore_snapshot(bytes));
  EXPECT_EQ(copy.snapshot(), bytes);
  EXPECT_EQ(copy.index(), 3u);
  for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
    Store truncated;
    EXPECT_FALSE(truncated.restore_snapshot(std::string_view{bytes}.substr(0, cut))) << cut;
  }
  Store trailing;
  EXPECT_FALSE(trailing.restore_snapshot(bytes + "x"));
}

// A random but reproducible write workload over a small key space, with TTLs and syncs.
class Workload {
 public:
  explicit Workload(std::uint64_t seed) : random_(seed) {}

  pb::Command next() {
    now_ += static_cast<std::int64_t>(pick(0, 3)) * 200'000'000;
    if (pick(0, 9) == 0) return Sync(now_);
    W write = method();
    write.now(now_);
    if (pick(0, 3) == 0) write.dir();
    if (pick(0, 1) == 0) write.value(values()[static_cast<std::size_t>(pick(0, 2))]);
    if (pick(0, 3) == 0) write.prev_exist(pick(0, 1) == 0);
    if (pick(0, 5) == 0) write.prev_value(values()[static_cast<std::size_t>(pick(0, 2))]);
    if (pick(0, 5) == 0) write.prev_index(static_cast<std::uint64_t>(pick(1, 40)));
    if (pick(0, 3) == 0) write.recursive();
    if (pick(0, 2) == 0) write.ttl(pick(0, 4));
    if (pick(0, 9) == 0) write.refresh();
    return write;
  }

 private:
  static const std::vector<std::string>& values() {
    static const std::vector<std::string> kValues = {"x", "y", ""};
    return kValues;
  }
  W method() {
    const int roll = pick(0, 9);
    const pb::Write::Method kind = roll < 6   ? pb::Write::PUT
                                   : roll < 8 ? pb::Write::DELETE
                                              : pb::Write::POST;
    return W{kind, key()};
  }
  std::string key() {
    static const std::vector<std::string> kNames = {"a", "b", "_h", "c"};
    std::string key;
    const int depth = pick(0, 3);
    for (int i = 0; i < depth; ++i) key += "/" + kNames[static_cast<std::size_t>(pick(0, 3))];
    return key.empty() ? "/" : key;
  }
  int pick(int low, int high) { return std::uniform_int_distribution<int>{low, high}(random_); }

  std::mt19937_64 random_;
  std::int64_t now_ = kT0;
};

TEST(StoreRandomized, SameCommandsSameBytesAndRestoreReproduces) {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    Workload workload{seed};
    Store first, second;
    Disk disk;
    std::vector<Event> watched_first, watched_second;
    ASSERT_TRUE(first.watch("/", true, true, 0, [&](const Event& e) {
      watched_first.push_back(e);
      return true;
    }));
    ASSERT_TRUE(second.watch("/", true, true, 0, [&](const Event& e) {
      watched_second.push_back(e);
      return true;
    }));
    for (int step = 0; step < 600; ++step) {
      const pb::Command command = workload.next();
      auto a = first.apply(command);
      auto b = second.apply(command);
      ASSERT_EQ(a.has_value(), b.has_value()) << command.DebugString();
      if (a) {
        ASSERT_EQ(*a, *b);
      } else {
        ASSERT_EQ(a.error(), b.error());
      }
      disk.apply(first.take_changes());
      second.take_changes();
      if (step % 100 == 99) {
        first.check_invariants();
        Store restored;
        ASSERT_TRUE(restored.restore(disk.records(), first.index()));
        restored.check_invariants();
        ASSERT_EQ(restored.snapshot(), first.snapshot()) << "step " << step;
        Store from_snapshot;
        ASSERT_TRUE(from_snapshot.restore_snapshot(first.snapshot()));
        ASSERT_EQ(from_snapshot.snapshot(), first.snapshot());
      }
    }
    EXPECT_EQ(first.snapshot(), second.snapshot());
    EXPECT_EQ(watched_first, watched_second);
    EXPECT_GT(first.index(), 50u);
  }
}

}  // namespace
}  // namespace discovery::store
