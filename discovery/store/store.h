#pragma once
// Store: etcd's v2 key space as a deterministic state machine.
//
// Ownership and threads: one Store per member, owned by the server's raft strand; not thread-safe.
// Invariants: the index only grows; it grows by exactly one per successful write and per expired
// node; failed writes change nothing (behaviour item 32). The store never reads a clock: every
// time it needs (TTL rendering, expiry) comes from the command or the caller. Node and parent
// links, the expiration index and the 1000-event history stay consistent (check_invariants()).
// Listings are always in bytewise key order (what sorted=true asks for; etcd's unsorted order is
// random, so this order is allowed too).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "discovery/store/command.pb.h"
#include "discovery/store/error.h"
#include "discovery/store/event.h"
#include "discovery/store/stats.h"
#include "discovery/store/watcher_hub.h"

namespace discovery::store {

template <class T>
using StoreResult = common::Result<T, Error>;

// One change to persist after an apply, in order. Put writes one node record under `key`;
// EraseTree removes `key` and every key under `key + "/"`.
struct Change {
  enum class Kind { Put, EraseTree };
  Kind kind;
  std::string key;
  pb::StoredNode node;  // Put only
};

class Store {
 public:
  // Keys handed to apply, get and watch must be clean absolute paths ("/" or "/a/b") of at most
  // this many bytes. The API's 4 KiB request line keeps them far below; the bound keeps the tree
  // depth, and so the recursion in listings and removals, small.
  static constexpr std::size_t kKeyBytesMax = 16 * 1024;

  Store();
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Applies one command. For a Write it returns the event (or the etcd error); for a Sync it
  // returns the last expire event, or an Error-free empty optional when nothing expired; for a
  // ClusterRecord an empty optional (its index is taken, but no client sees an event).
  // Every event (including each expire) is also delivered to matching watchers before return,
  // except refresh writes, which consume an index but wake no one (as in etcd). The Write is
  // mapped as command.proto says; Command.time_unix_ns renders the ttl fields of the answer.
  // Counts the operation in stats() as etcd does (stats.h). A Command without an operation, a
  // Write without a method or with a bad key (see kKeyBytesMax) is a broken invariant.
  StoreResult<std::optional<Event>> apply(const pb::Command& command);

  // Reads `key` as of now. `now` only computes ttl fields. Errors: KeyNotFound (cause = first
  // missing path), NotDir (cause = the file's path) — as etcd's Get.
  StoreResult<Event> get(std::string_view key, bool recursive, bool sorted, WallTime now);

  // Registers a watch or answers it from history. See WatcherHub::watch. `since_index` 0 means
  // "the next event". After restore() the history starts empty and every index up to the restored
  // one counts as cleared (EventIndexCleared), since those events were not kept.
  StoreResult<WatchStart> watch(std::string_view key, bool recursive, bool stream,
                                std::uint64_t since_index, WatcherHub::Sink sink);
  void cancel_watch(WatchId id);

  std::uint64_t index() const;

  // The value of a cluster record (command.proto ClusterRecord), if one was written at `key`.
  std::optional<std::string> cluster_record(std::string_view key) const;

  // Persisted cluster records use the change/record key kClusterRecordPrefix + key, which no
  // client key can equal (client keys start with '/').
  static constexpr char kClusterRecordPrefix = '#';

  // Earliest expiration among stored nodes, if any (so the server knows when to propose Sync).
  std::optional<WallTime> next_expiration() const;

  // Changes made by the applies since the last call, in order, for the server to persist in one
  // batch with index(). Clears the list.
  std::vector<Change> take_changes();

  // Rebuilds the key space from persisted records (any order; sorted by key is fastest: O(key
  // length) per record) and the persisted index. Only on a new store (CHECKed). Returns an error
  // message for records that do not form a tree or do not fit the index; the store is then empty.
  common::Result<void, std::string> restore(
      std::vector<std::pair<std::string, pb::StoredNode>> records, std::uint64_t index);

  // Replaces the key space with `records` at `index` (a raft snapshot installed), as restore()
  // does, on a store in use: registered watchers stay (they see the events after `index`, the
  // ones in between are lost to them, as in etcd); the history restarts at `index`; stats stay.
  // Precondition: no changes left untaken. On error the store is empty.
  common::Result<void, std::string> recover(
      std::vector<std::pair<std::string, pb::StoredNode>> records, std::uint64_t index);

  // The whole key space and index as bytes (records in key order); equal stores give equal bytes.
  // restore_snapshot is restore() from such bytes; truncated or trailing bytes are errors.
  std::string snapshot() const;
  common::Result<void, std::string> restore_snapshot(std::string_view bytes);

  // Per-member counters (/v2/stats/store); not part of the replicated state. The watchers field
  // is refreshed from the hub on every call.
  Stats& stats();
  const Stats& stats() const;

  // Number of nodes, the root excluded.
  std::size_t node_count() const;

  // Full structural check of the tree, the expiration index and the history (aborts on a broken
  // invariant). O(nodes): for tests and after restore, not for every apply.
  void check_invariants() const;

 private:
  common::Result<void, std::string> rebuild(
      std::vector<std::pair<std::string, pb::StoredNode>> records, std::uint64_t index);

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace discovery::store
