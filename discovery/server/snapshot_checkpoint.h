#pragma once
// Snapshots as RocksDB checkpoints: how a member's whole state (key space, applied index, raft
// metadata) is captured for a lagging or new member, and how the receiver installs it.
//
// Design: a raft snapshot's data is not the serialized store (raft::Node would hold it whole in
// memory on both ends, and so would every MsgSnap). It is empty: the snapshot's content is a
// RocksDB checkpoint of the member's database, a directory of hard links to the immutable SST
// files after a memtable flush, so making one copies nothing and takes milliseconds.
//
// MemberSnapshots (member_snapshots.h) does both sides for the raft loop.
//
// Leader side (the raft loop): every so many applied entries, after the apply batch is committed,
// create_checkpoint(db, <checkpoints>/checkpoint_name(applied)), then
// RocksdbRaftLog::create_snapshot(batch, applied, conf_state) and compact the log behind it. When a
// Ready carries a MsgSnap, hand it with that directory to PeerTransport::send_snapshot(): the
// transport streams the files in bounded chunks over a dedicated connection, then the MsgSnap, and
// reports the outcome (Node::report_snapshot). Keep the directory until then; older checkpoints
// can go once no transfer uses them.
//
// Receiving side: the transport writes the chunks into a staging directory and hands the MsgSnap
// over with it. Step it into Node; when a Ready carries the snapshot, call
// prepare_received_checkpoint() (the staged DB gets this member's hard state and the snapshot's
// metadata; the sender's raft log and hard state in it are dropped), close the database, call
// swap_in_checkpoint() (an atomic directory exchange), reopen, RocksdbRaftLog::reload() and restore
// the store from it, then make a checkpoint of it (this member may lead next). A crash at any point
// leaves either the old database or the new one in place, never a mix.
//
// Memory stays bounded by one chunk per transfer, whatever the size of the key space; the bytes on
// the wire are RocksDB's own files, whose checksums RocksDB verifies when the receiver opens them.
// The staging directory and the live database must be in one filesystem (for the exchange).
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

// The directory name of the checkpoint for the snapshot at `index`: 16 hex digits, so that names
// sort by index.
std::string checkpoint_name(std::uint64_t index);

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
// exactly metadata.index() (its "m:applied"), drops the sender's raft keys, and writes the
// snapshot's log base, metadata and configuration, `hard_state` and `entries` (the rest of the
// Ready that carried the snapshot, which must follow it), synced. Nothing of it is live until
// swap_in_checkpoint(), so the whole Ready becomes durable at once, as Node's Ready contract asks.
// Errors: the files do not open as a database, or the applied index differs (the snapshot is then
// refused).
common::Result<void, std::string> prepare_received_checkpoint(
    const std::filesystem::path& dir, const raft::pb::SnapshotMetadata& metadata,
    const raft::pb::HardState& hard_state, const std::vector<raft::pb::Entry>& entries = {});

// Atomically exchanges the directories `live` and `staged` (renameat2 RENAME_EXCHANGE) and syncs
// their parent, then removes `staged` (now the old database); when `live` does not exist, moves
// `staged` there. Both must be in the same filesystem; the database in `live` must be closed.
common::Result<void, std::string> swap_in_checkpoint(const std::filesystem::path& live,
                                                     const std::filesystem::path& staged);

// Removes a directory tree if present (staging leftovers after a crash).
common::Result<void, std::string> remove_directory(const std::filesystem::path& dir);

}  // namespace discovery::server
