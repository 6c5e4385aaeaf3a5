#pragma once
// Snapshots as RocksDB checkpoints: how a member's whole state (key space, applied index, raft
// metadata) is captured for a lagging or new member, and how the receiver installs it.
//
// Design: a raft snapshot's bytes are not the serialized store. The leader makes a RocksDB
// checkpoint of its database (hard links to the immutable SST files after a memtable flush, so it
// costs no copy and little time) and records its metadata in the raft log (RocksdbRaftLog::
// record_snapshot). To send it, the peer transport streams the checkpoint's files in bounded
// chunks over a dedicated connection, then the MsgSnap itself; the receiver writes the chunks
// into a staging directory. Memory stays bounded by one chunk per transfer, whatever the size of
// the key space, and the bytes on the wire are exactly RocksDB's files, whose own checksums
// RocksDB verifies when the receiver opens them.
//
// Installing: once the receiver's Node accepts the MsgSnap, the raft loop calls
// prepare_received_checkpoint() (the staged DB gets this member's hard state and the snapshot's
// metadata; the sender's raft log and hard state in it are dropped), closes its own database,
// calls swap_in_checkpoint() (an atomic directory exchange) and reopens. A crash at any point
// leaves either the old database or the new one in place, never a mix; leftovers of an unfinished
// install are removed by remove_directory() at start-up.
//
// Threads: each function is blocking file I/O, called from the raft strand (checkpoint creation is
// a flush plus hard links; preparing opens the staged DB once). Errors are expected failures
// (disk full, a torn transfer) returned as text; nothing here CHECKs on bad input from a peer.

#include <rocksdb/db.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/result.h"
#include "raft/raft.pb.h"

namespace discovery::server {

struct CheckpointFile {
  std::string name;  // relative to the checkpoint directory, no '/'
  std::uint64_t bytes = 0;
};

// Creates a checkpoint of `db` in `dir`, which must not exist (its parent must), and lists its
// files. Everything committed to `db` before the call is in it.
common::Result<std::vector<CheckpointFile>, std::string> create_checkpoint(
    rocksdb::DB& db, const std::filesystem::path& dir);

// Lists the regular files of a checkpoint directory (sorted by name).
common::Result<std::vector<CheckpointFile>, std::string> list_checkpoint(
    const std::filesystem::path& dir);

// Makes a received checkpoint in `dir` this member's database: checks that its store reached
// exactly metadata.index(), drops the sender's raft keys, and writes `hard_state` and the
// snapshot's log base, metadata and configuration, synced. Errors: the files do not open as a
// database, or the applied index differs (the snapshot is then refused).
common::Result<void, std::string> prepare_received_checkpoint(
    const std::filesystem::path& dir, const raft::pb::SnapshotMetadata& metadata,
    const raft::pb::HardState& hard_state);

// Atomically exchanges the directories `live` and `staged` (renameat2 RENAME_EXCHANGE) and syncs
// their parent, then removes `staged` (now the old database). Both must exist in the same
// filesystem; the database in `live` must be closed.
common::Result<void, std::string> swap_in_checkpoint(const std::filesystem::path& live,
                                                     const std::filesystem::path& staged);

// Removes a directory tree if present (staging leftovers after a crash).
common::Result<void, std::string> remove_directory(const std::filesystem::path& dir);

}  // namespace discovery::server
