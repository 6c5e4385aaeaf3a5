#pragma once
// The two ends of a snapshot's file transfer (see snapshot_checkpoint.h for why a snapshot is a
// directory of RocksDB files): SnapshotFileReader cuts a checkpoint directory into chunks for the
// wire, SnapshotFileWriter puts received chunks back into files in a staging directory.
//
// Both are owned by one transfer (one connection) and are not thread-safe. They do blocking file
// I/O: one chunk per call, so memory stays at one chunk whatever the snapshot's size.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "discovery/server/peer.pb.h"
#include "discovery/server/snapshot_checkpoint.h"

namespace discovery::server {

class SnapshotFileReader {
 public:
  // Errors come from next(). chunk_bytes > 0.
  SnapshotFileReader(std::filesystem::path dir, std::vector<CheckpointFile> files,
                     std::size_t chunk_bytes);
  ~SnapshotFileReader();
  SnapshotFileReader(const SnapshotFileReader&) = delete;
  SnapshotFileReader& operator=(const SnapshotFileReader&) = delete;

  // The next chunk (every file yields at least one, an empty file one empty chunk), nullopt after
  // the last one. Errors: a file cannot be opened or read, or is shorter than listed.
  common::Result<std::optional<pb::SnapshotChunk>, std::string> next();

 private:
  std::filesystem::path dir_;
  std::vector<CheckpointFile> files_;
  std::size_t chunk_bytes_;
  std::size_t file_ = 0;      // index into files_
  std::uint64_t offset_ = 0;  // within files_[file_]
  int fd_ = -1;
};

class SnapshotFileWriter {
 public:
  // Creates `dir` (which must not exist). Unless finish() succeeds, the destructor removes it, so
  // a broken transfer leaves nothing behind.
  static common::Result<std::unique_ptr<SnapshotFileWriter>, std::string> create(
      std::filesystem::path dir, std::uint64_t bytes_max);
  ~SnapshotFileWriter();
  SnapshotFileWriter(const SnapshotFileWriter&) = delete;
  SnapshotFileWriter& operator=(const SnapshotFileWriter&) = delete;

  // Appends one chunk. Errors (the transfer is then to be dropped): a file name that is empty,
  // has a '/' or is "." or ".."; an offset other than the bytes of that file so far; a file that
  // was already closed; the transfer passing bytes_max; a write failure.
  common::Result<void, std::string> write(const pb::SnapshotChunk& chunk);
  // Syncs every file and the directory; afterwards the directory is the caller's.
  common::Result<void, std::string> finish();
  const std::filesystem::path& dir() const { return dir_; }

 private:
  SnapshotFileWriter(std::filesystem::path dir, std::uint64_t bytes_max)
      : dir_(std::move(dir)), bytes_max_(bytes_max) {}
  common::Result<void, std::string> close_file();

  std::filesystem::path dir_;
  std::uint64_t bytes_max_;
  std::uint64_t bytes_ = 0;
  std::string file_;          // the file being written
  std::uint64_t offset_ = 0;  // its size so far
  int fd_ = -1;
  std::vector<std::string> done_;  // closed files
  bool finished_ = false;
};

}  // namespace discovery::server
