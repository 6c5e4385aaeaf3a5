#include "discovery/server/member_snapshots.h"

#include <spdlog/spdlog.h>

#include "common/check.h"
#include "discovery/server/snapshot_checkpoint.h"

namespace discovery::server {
namespace fs = std::filesystem;

namespace {

std::uint64_t total_bytes(const std::vector<CheckpointFile>& files) {
  std::uint64_t bytes = 0;
  for (const CheckpointFile& file : files) bytes += file.bytes;
  return bytes;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// etcd turns a zero --snapshot-count into its default at start.
SnapshotPolicy normalized(SnapshotPolicy policy) {
  if (policy.count == 0) policy.count = kDefaultSnapshotCount;
  return policy;
}

}  // namespace

MemberSnapshots::MemberSnapshots(fs::path dir, SnapshotPolicy policy, RocksdbStorage& storage,
                                 RocksdbRaftLog& log)
    : dir_(std::move(dir)), policy_(normalized(policy)), storage_(storage), log_(log) {}

fs::path MemberSnapshots::checkpoint_dir(std::uint64_t index) const {
  return dir_ / checkpoint_name(index);
}

common::Result<void, std::string> MemberSnapshots::recover(std::uint64_t applied) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return "cannot create " + dir_.string() + ": " + ec.message();
  prune();
  const std::uint64_t held = index();
  if (held == 0 || fs::exists(checkpoint_dir(held))) return {};
  // The metadata was written but its checkpoint is gone (a crash before the directory was synced,
  // or the install's own checkpoint not yet made). The live database is past it by now, so a new
  // snapshot at the applied index takes its place; the log is compacted no further than before.
  spdlog::warn("checkpoint of the snapshot at {} missing; taking one at {}", held, applied);
  return take(applied, applied - std::min(applied, log_.base_index()));
}

bool MemberSnapshots::due(std::uint64_t applied) const {
  return applied > index() && applied - index() > policy_.count;
}

common::Result<void, std::string> MemberSnapshots::make_checkpoint(std::uint64_t index) {
  const fs::path dir = checkpoint_dir(index);
  // A checkpoint of this index left by a crash before its metadata was written is stale.
  if (auto removed = remove_directory(dir); !removed) return removed;
  auto files = create_checkpoint(storage_.db(), dir);
  if (!files) return files.error();
  spdlog::info("checkpoint at raft index {}: {} files, {} bytes", index, files->size(),
               total_bytes(*files));
  return {};
}

common::Result<void, std::string> MemberSnapshots::take(std::uint64_t applied,
                                                        std::uint64_t keep_entries) {
  CHECK(applied >= index(), "snapshot at {} behind the one at {}", applied, index());
  const auto start = std::chrono::steady_clock::now();
  // The checkpoint first: metadata naming a checkpoint that does not exist would be sent to a
  // follower. A crash in between leaves a checkpoint that recover() removes. The current
  // snapshot's checkpoint is reused (it may be streaming to a follower right now).
  if (applied != index() || !fs::exists(checkpoint_dir(applied))) {
    if (auto made = make_checkpoint(applied); !made) return made;
  }
  rocksdb::WriteBatch batch;
  log_.create_snapshot(batch, applied, log_.conf_state());
  const std::uint64_t compact_to = applied - std::min(applied, keep_entries);
  log_.compact(batch, compact_to);
  storage_.commit(batch, true);
  prune();
  if (metrics_.taken) metrics_.taken->inc();
  observe(start);
  spdlog::info("snapshot taken at raft index {} in {:.1f} ms; raft log now starts at {}", applied,
               seconds_since(start) * 1000, log_.first_index());
  return {};
}

std::optional<fs::path> MemberSnapshots::lend(std::uint64_t peer, std::uint64_t index) {
  if (lent_.contains(peer)) return std::nullopt;
  const fs::path dir = checkpoint_dir(index);
  if (!fs::exists(dir)) return std::nullopt;
  lent_.emplace(peer, index);
  return dir;
}

void MemberSnapshots::release(std::uint64_t peer) {
  if (lent_.erase(peer) > 0) prune();
}

void MemberSnapshots::prune() {
  const std::string current = index() > 0 ? checkpoint_name(index()) : std::string();
  std::error_code ec;
  std::vector<fs::path> stale;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name == current) continue;
    bool lent = false;
    for (const auto& [peer, lent_index] : lent_) lent = lent || checkpoint_name(lent_index) == name;
    if (!lent) stale.push_back(it->path());
  }
  for (const fs::path& path : stale) {
    // A checkpoint that cannot be removed only costs disk space; the next prune tries again.
    if (auto removed = remove_directory(path); !removed) spdlog::warn("{}", removed.error());
  }
}

common::Result<void, std::string> MemberSnapshots::verify_received(
    const fs::path& staged, const raft::pb::SnapshotMetadata& metadata) {
  auto opened = RocksdbStorage::open(staged);
  if (!opened) return opened.error();
  const std::uint64_t applied = (*opened)->applied();
  if (applied != metadata.index()) {
    return "snapshot files hold raft index " + std::to_string(applied) + ", its metadata says " +
           std::to_string(metadata.index());
  }
  return {};
}

void MemberSnapshots::install(const fs::path& staged, const raft::pb::SnapshotMetadata& metadata,
                              const raft::pb::HardState& hard_state,
                              const std::vector<raft::pb::Entry>& entries) {
  const auto start = std::chrono::steady_clock::now();
  // Everything this Ready asks to persist goes into the staged database before it becomes live,
  // so the exchange makes all of it durable at once (the Ready contract's atomic persist).
  auto prepared = prepare_received_checkpoint(staged, metadata, hard_state, entries);
  CHECK(prepared.has_value(), "installing the snapshot at {}: {}", metadata.index(),
        prepared.error());
  auto replaced = storage_.replace_with(staged);
  CHECK(replaced.has_value(), "installing the snapshot at {}: {}", metadata.index(),
        replaced.error());
  log_.reload(storage_.db());
  CHECK(log_.snapshot_metadata().index() == metadata.index(),
        "installed snapshot reads back at {}, want {}", log_.snapshot_metadata().index(),
        metadata.index());
  // This member may lead next and must then be able to send what it installed. Without the
  // checkpoint (a failure here, or a crash) recover() makes one at the next start.
  if (auto made = make_checkpoint(metadata.index()); !made) {
    spdlog::error("checkpoint of the installed snapshot: {}", made.error());
  }
  prune();
  if (metrics_.installed) metrics_.installed->inc();
  observe(start);
  spdlog::info("snapshot at raft index {} (term {}) installed in {:.1f} ms", metadata.index(),
               metadata.term(), seconds_since(start) * 1000);
}

void MemberSnapshots::observe(std::chrono::steady_clock::time_point start) const {
  if (metrics_.seconds) metrics_.seconds->observe(seconds_since(start));
}

}  // namespace discovery::server
