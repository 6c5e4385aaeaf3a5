#include "discovery/server/snapshot_checkpoint.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <rocksdb/utilities/checkpoint.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "discovery/server/rocksdb_raft_log.h"
#include "discovery/server/rocksdb_storage.h"

namespace discovery::server {
namespace fs = std::filesystem;

namespace {

std::string errno_text(std::string_view what, const fs::path& path) {
  return std::string(what) + " " + path.string() + ": " + std::strerror(errno);
}

// A rename is durable only once its directory is synced (rename(2) alone may be lost in a crash).
common::Result<void, std::string> sync_directory(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_text("open", dir);
  const int synced = ::fsync(fd);
  ::close(fd);
  if (synced != 0) return errno_text("fsync", dir);
  return {};
}

}  // namespace

std::string checkpoint_name(std::uint64_t index) { return fmt::format("{:016x}", index); }

common::Result<std::vector<CheckpointFile>, std::string> create_checkpoint(rocksdb::DB& db,
                                                                           const fs::path& dir) {
  rocksdb::Checkpoint* raw = nullptr;
  rocksdb::Status status = rocksdb::Checkpoint::Create(&db, &raw);
  if (!status.ok()) return "checkpoint of " + db.GetName() + ": " + status.ToString();
  const std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  // log_size_for_flush 0: always flush the memtable first, so the checkpoint is SST files only and
  // its applied index is the one last committed.
  status = checkpoint->CreateCheckpoint(dir.string(), 0);
  if (!status.ok()) return "checkpoint into " + dir.string() + ": " + status.ToString();
  return list_checkpoint(dir);
}

common::Result<std::vector<CheckpointFile>, std::string> list_checkpoint(const fs::path& dir) {
  std::vector<CheckpointFile> files;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    const std::uint64_t bytes = it->file_size(ec);
    if (ec) break;
    files.push_back({it->path().filename().string(), bytes});
  }
  if (ec) return "listing " + dir.string() + ": " + ec.message();
  std::sort(files.begin(), files.end(),
            [](const CheckpointFile& a, const CheckpointFile& b) { return a.name < b.name; });
  return files;
}

common::Result<void, std::string> prepare_received_checkpoint(
    const fs::path& dir, const raft::pb::SnapshotMetadata& metadata,
    const raft::pb::HardState& hard_state, const std::vector<raft::pb::Entry>& entries) {
  auto opened = RocksdbStorage::open(dir);
  if (!opened) return opened.error();
  RocksdbStorage& storage = **opened;
  // The raft index the files' store reflects ("m:applied"), not the store's own etcd index.
  const std::uint64_t applied = storage.applied();
  if (applied != metadata.index()) {
    return "snapshot files in " + dir.string() + " hold raft index " + std::to_string(applied) +
           ", the snapshot says " + std::to_string(metadata.index());
  }
  // The sender's log, hard state and configuration describe the sender; none of it may survive
  // into this member (its vote above all). "r;" is the first key after every "r:" key.
  rocksdb::WriteBatch clear;
  if (!clear.DeleteRange("r:", "r;").ok()) return std::string("batch delete of raft keys failed");
  storage.commit(clear);
  const std::unique_ptr<RocksdbRaftLog> log = RocksdbRaftLog::load(storage.db());
  rocksdb::WriteBatch batch;
  log->apply_snapshot(batch, metadata);
  log->set_hard_state(batch, hard_state);
  log->append(batch, entries);
  storage.commit(batch);
  return {};
}

common::Result<void, std::string> swap_in_checkpoint(const fs::path& live, const fs::path& staged) {
  // With no database in place yet there is nothing to exchange: a plain rename is just as atomic.
  std::error_code ec;
  const bool has_live = fs::exists(live, ec);
  if (ec) return "checking " + live.string() + ": " + ec.message();
  const unsigned flags = has_live ? RENAME_EXCHANGE : RENAME_NOREPLACE;
  if (::renameat2(AT_FDCWD, staged.c_str(), AT_FDCWD, live.c_str(), flags) != 0) {
    return errno_text("moving " + staged.string() + " to", live);
  }
  if (auto synced = sync_directory(live.parent_path()); !synced) return synced;
  if (staged.parent_path() != live.parent_path()) {
    if (auto synced = sync_directory(staged.parent_path()); !synced) return synced;
  }
  if (!has_live) return {};
  return remove_directory(staged);
}

common::Result<void, std::string> remove_directory(const fs::path& dir) {
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (ec) return "removing " + dir.string() + ": " + ec.message();
  return {};
}

}  // namespace discovery::server
