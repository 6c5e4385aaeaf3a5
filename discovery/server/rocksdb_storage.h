#pragma once
// RocksdbStorage: the member's durable key space in RocksDB under <data-dir>/member/keys.
//
// Layout: "k<path>" -> StoredNode bytes for every node but the root; "m:index" -> the store index
// as 8 big-endian bytes; "m:applied" -> the last raft log index applied to the store (same
// encoding), written in the batch of the changes that entry made. Keys starting "r:" belong to the
// raft log (rocksdb_raft_log.h). A batch of changes and the index it reaches are written in one
// atomic, synced write, so a restart sees either all of an apply or none of it, and never an index
// that its nodes do not reach.
//
// Threads: open/load on the main thread before serving; commit() may run on a dedicated sync
// thread while the main thread builds the next batch (RocksDB writes are thread-safe). Any write
// or read failure aborts the process: after a failed fsync we cannot know what is on disk.

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/write_batch.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "discovery/store/store.h"

namespace discovery::server {

class RocksdbStorage {
 public:
  struct Loaded {
    std::vector<std::pair<std::string, store::pb::StoredNode>> records;  // sorted by key
    std::uint64_t index = 0;
    std::uint64_t applied = 0;  // raft log index
  };

  // Opens (creating when missing) the database in `dir`. Errors: the directory cannot be created
  // or RocksDB refuses it (locked by another process, corrupt); the message says which.
  static common::Result<std::unique_ptr<RocksdbStorage>, std::string> open(
      const std::filesystem::path& dir);
  ~RocksdbStorage();

  // Reads every stored node and the index.
  Loaded load() const;
  // Reads only the applied raft index ("m:applied"; 0 when absent).
  std::uint64_t applied() const;

  // Adds `changes` to `batch` and records `index` as the index they reach. Pure over the batch.
  static void append(rocksdb::WriteBatch& batch, const std::vector<store::Change>& changes,
                     std::uint64_t index);

  // Records `applied` as the last raft log index the store reflects. Pure over the batch.
  static void set_applied(rocksdb::WriteBatch& batch, std::uint64_t applied);

  // Writes the batch atomically and, when `sync`, syncs it (returning once it is durable). An
  // unsynced write becomes durable with the next synced one (RocksDB's log is sequential).
  void commit(rocksdb::WriteBatch& batch, bool sync = true);

  // The database itself, for the raft log that shares it (RocksdbRaftLog, checkpoints). Valid
  // until replace_with() or the end of this object.
  rocksdb::DB& db() { return *db_; }
  const std::filesystem::path& dir() const { return dir_; }

  // Makes the database prepared in `staged` (a received snapshot, see snapshot_checkpoint.h) this
  // storage's database: closes the live one, exchanges the directories atomically, reopens. A
  // crash at any point leaves either database whole in dir(). Precondition: no write in flight
  // (the sync thread idle); every db() reference taken before is invalid afterwards. Error: the
  // exchange failed (the old database is reopened and stays). A database that cannot be reopened
  // aborts the process.
  common::Result<void, std::string> replace_with(const std::filesystem::path& staged);

 private:
  RocksdbStorage(std::filesystem::path dir, std::unique_ptr<rocksdb::Env> env,
                 std::unique_ptr<rocksdb::DB> db);
  std::filesystem::path dir_;
  std::unique_ptr<rocksdb::Env> env_;  // outlives db_, which uses it
  std::unique_ptr<rocksdb::DB> db_;
};

}  // namespace discovery::server
