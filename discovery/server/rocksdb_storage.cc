#include "discovery/server/rocksdb_storage.h"

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>

#include "common/check.h"
#include "discovery/server/snapshot_checkpoint.h"

namespace discovery::server {
namespace {

constexpr char kNodePrefix = 'k';
constexpr std::string_view kIndexKey = "m:index";
constexpr std::string_view kAppliedKey = "m:applied";

std::string node_key(std::string_view path) {
  std::string key;
  key.reserve(path.size() + 1);
  key.push_back(kNodePrefix);
  key.append(path);
  return key;
}

std::string encode_index(std::uint64_t index) {
  std::string bytes(8, '\0');
  for (int i = 7; i >= 0; --i) {
    bytes[static_cast<std::size_t>(i)] = static_cast<char>(index & 0xff);
    index >>= 8;
  }
  return bytes;
}

std::uint64_t decode_index(std::string_view bytes) {
  CHECK(bytes.size() == 8, "stored index has {} bytes, want 8", bytes.size());
  std::uint64_t index = 0;
  for (const char c : bytes) index = (index << 8) | static_cast<unsigned char>(c);
  return index;
}

// The write-ahead log grows in preallocated steps that extend the file's size, instead of
// RocksDB's default of reserving space without changing the size. An fdatasync then has only data
// to write, no inode: 0.10 ms instead of 0.16 ms on this project's machines, and that sync is the
// whole cost of a lone client's write. A crash leaves zeros after the last record, which RocksDB's
// point-in-time recovery (the default) reads as the end of the log; the crash test pins that no
// acknowledged write is lost.
class PreallocatingFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  using FileSystemWrapper::FileSystemWrapper;
  const char* Name() const override { return "PreallocatingFileSystem"; }
  rocksdb::FileOptions OptimizeForLogWrite(const rocksdb::FileOptions& file_options,
                                           const rocksdb::DBOptions& db_options) const override {
    rocksdb::FileOptions options = target()->OptimizeForLogWrite(file_options, db_options);
    options.fallocate_with_keep_size = false;
    return options;
  }
};

}  // namespace

RocksdbStorage::RocksdbStorage(std::filesystem::path dir, std::unique_ptr<rocksdb::Env> env,
                               std::unique_ptr<rocksdb::DB> db)
    : dir_(std::move(dir)), env_(std::move(env)), db_(std::move(db)) {}
RocksdbStorage::~RocksdbStorage() = default;

namespace {

common::Result<std::unique_ptr<rocksdb::DB>, std::string> open_db(const std::filesystem::path& dir,
                                                                  rocksdb::Env& env) {
  rocksdb::Options options;
  options.env = &env;
  options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  options.create_if_missing = true;
  // A small key space that is read whole at start and never read from disk afterwards: few
  // background threads, a small memtable (it is memory the store already holds once), no block
  // cache.
  options.max_background_jobs = 2;
  options.write_buffer_size = 1 << 20;
  options.max_write_buffer_number = 2;
  // Universal (size-tiered) compaction: every write adds a raft entry and a node under new or
  // overwritten keys all over the key space, so with leveled compaction each flush of a small
  // memtable overlaps all of level 1 and a compaction rewrites it whole, every few flushes. Those
  // rewrites (50-130 ms of a background thread, and their disk writes) lined up with the slowest
  // client writes. Merging sorted runs of similar size rewrites each byte a few times instead:
  // in the 3-member benchmark PUT p99 at 64 connections went from 28-46 ms to 15-20 ms and on a
  // follower at 16 connections from 17-20 ms to 7-8 ms (bench/README.md).
  options.compaction_style = rocksdb::kCompactionStyleUniversal;
  // Compactions run at the lowest CPU priority, so on a busy machine they take the time the raft
  // loop leaves over rather than preempting it; nothing waits for them unless files pile up far
  // past the trigger. Flushes keep the normal priority: with two memtables, a flush that falls
  // behind stalls writes. Measured (two repetitions, quiet machine): PUT at 64 connections 3-13%
  // more requests per second, p99 unchanged within the noise.
  env.LowerThreadPoolCPUPriority(rocksdb::Env::Priority::LOW, rocksdb::CpuPriority::kLow);
  rocksdb::BlockBasedTableOptions table;
  table.no_block_cache = true;
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  options.keep_log_file_num = 3;
  options.max_manifest_file_size = 16 << 20;
  rocksdb::DB* raw = nullptr;
  const rocksdb::Status status = rocksdb::DB::Open(options, dir.string(), &raw);
  if (!status.ok()) return "cannot open " + dir.string() + ": " + status.ToString();
  return std::unique_ptr<rocksdb::DB>(raw);
}

}  // namespace

common::Result<std::unique_ptr<RocksdbStorage>, std::string> RocksdbStorage::open(
    const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return "cannot create " + dir.string() + ": " + ec.message();
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(
      std::make_shared<PreallocatingFileSystem>(rocksdb::FileSystem::Default()));
  auto db = open_db(dir, *env);
  if (!db) return db.error();
  return std::unique_ptr<RocksdbStorage>(new RocksdbStorage(dir, std::move(env), std::move(*db)));
}

common::Result<void, std::string> RocksdbStorage::replace_with(
    const std::filesystem::path& staged) {
  // RocksDB must have closed every file (and released its lock) before the directories move.
  db_.reset();
  auto swapped = swap_in_checkpoint(dir_, staged);
  auto db = open_db(dir_, *env_);
  CHECK(db.has_value(), "reopening the database after a snapshot install: {}", db.error());
  db_ = std::move(*db);
  return swapped;
}

std::uint64_t RocksdbStorage::applied() const {
  std::string bytes;
  const rocksdb::Status got = db_->Get(rocksdb::ReadOptions(), std::string(kAppliedKey), &bytes);
  CHECK(got.ok() || got.IsNotFound(), "reading the applied index: {}", got.ToString());
  return got.ok() ? decode_index(bytes) : 0;
}

RocksdbStorage::Loaded RocksdbStorage::load() const {
  Loaded loaded;
  std::string index_bytes;
  const rocksdb::Status got =
      db_->Get(rocksdb::ReadOptions(), std::string(kIndexKey), &index_bytes);
  CHECK(got.ok() || got.IsNotFound(), "reading the stored index: {}", got.ToString());
  if (got.IsNotFound()) return loaded;
  loaded.index = decode_index(index_bytes);
  std::string applied_bytes;
  const rocksdb::Status got_applied =
      db_->Get(rocksdb::ReadOptions(), std::string(kAppliedKey), &applied_bytes);
  CHECK(got_applied.ok() || got_applied.IsNotFound(), "reading the applied index: {}",
        got_applied.ToString());
  if (got_applied.ok()) loaded.applied = decode_index(applied_bytes);

  rocksdb::ReadOptions options;
  options.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options));
  const std::string first(1, kNodePrefix);
  for (it->Seek(first); it->Valid() && it->key().starts_with(first); it->Next()) {
    store::pb::StoredNode node;
    CHECK(node.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())),
          "corrupt node record {}", it->key().ToString());
    loaded.records.emplace_back(std::string(it->key().data() + 1, it->key().size() - 1),
                                std::move(node));
  }
  CHECK(it->status().ok(), "reading stored nodes: {}", it->status().ToString());
  return loaded;
}

void RocksdbStorage::append(rocksdb::WriteBatch& batch, const std::vector<store::Change>& changes,
                            std::uint64_t index) {
  for (const store::Change& change : changes) {
    const std::string key = node_key(change.key);
    if (change.kind == store::Change::Kind::Put) {
      CHECK(batch.Put(key, change.node.SerializeAsString()).ok(), "batch put {}", change.key);
      continue;
    }
    // Descendants of "/a" are exactly the keys in ["/a/", "/a0"): '0' follows '/' in ASCII.
    CHECK(batch.Delete(key).ok(), "batch delete {}", change.key);
    CHECK(batch.DeleteRange(key + "/", key + "0").ok(), "batch delete range {}", change.key);
  }
  CHECK(batch.Put(std::string(kIndexKey), encode_index(index)).ok(), "batch put index");
}

void RocksdbStorage::set_applied(rocksdb::WriteBatch& batch, std::uint64_t applied) {
  CHECK(batch.Put(std::string(kAppliedKey), encode_index(applied)).ok(), "batch put applied");
}

void RocksdbStorage::commit(rocksdb::WriteBatch& batch, bool sync) {
  rocksdb::WriteOptions options;
  options.sync = sync;
  const rocksdb::Status status = db_->Write(options, &batch);
  CHECK(status.ok(), "synced write failed: {}", status.ToString());
}

}  // namespace discovery::server
