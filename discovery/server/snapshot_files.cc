#include "discovery/server/snapshot_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace discovery::server {
namespace fs = std::filesystem;

namespace {

std::string errno_text(std::string_view what, const fs::path& path) {
  return std::string(what) + " " + path.string() + ": " + std::strerror(errno);
}

bool valid_file_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
         name.find('\0') == std::string::npos;
}

}  // namespace

SnapshotFileReader::SnapshotFileReader(fs::path dir, std::vector<CheckpointFile> files,
                                       std::size_t chunk_bytes)
    : dir_(std::move(dir)),
      files_(std::move(files)),
      chunk_bytes_(std::max<std::size_t>(1, chunk_bytes)) {}

SnapshotFileReader::~SnapshotFileReader() {
  if (fd_ >= 0) ::close(fd_);
}

common::Result<std::optional<pb::SnapshotChunk>, std::string> SnapshotFileReader::next() {
  if (file_ == files_.size()) return std::nullopt;
  const CheckpointFile& file = files_[file_];
  const fs::path path = dir_ / file.name;
  if (fd_ < 0) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) return errno_text("open", path);
  }
  pb::SnapshotChunk chunk;
  chunk.set_file(file.name);
  chunk.set_offset(offset_);
  const std::size_t want =
      static_cast<std::size_t>(std::min<std::uint64_t>(chunk_bytes_, file.bytes - offset_));
  std::string& data = *chunk.mutable_data();
  data.resize(want);
  std::size_t got = 0;
  while (got < want) {
    const ssize_t n =
        ::pread(fd_, data.data() + got, want - got, static_cast<off_t>(offset_ + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_text("read", path);
    if (n == 0) return "snapshot file " + path.string() + " shorter than listed";
    got += static_cast<std::size_t>(n);
  }
  offset_ += want;
  if (offset_ == file.bytes) {
    ::close(fd_);
    fd_ = -1;
    offset_ = 0;
    ++file_;
  }
  return chunk;
}

common::Result<std::unique_ptr<SnapshotFileWriter>, std::string> SnapshotFileWriter::create(
    fs::path dir, std::uint64_t bytes_max) {
  std::error_code ec;
  if (!fs::create_directory(dir, ec) || ec) {
    return "creating " + dir.string() + ": " + (ec ? ec.message() : "exists");
  }
  return std::unique_ptr<SnapshotFileWriter>(new SnapshotFileWriter(std::move(dir), bytes_max));
}

SnapshotFileWriter::~SnapshotFileWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!finished_) {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
}

common::Result<void, std::string> SnapshotFileWriter::write(const pb::SnapshotChunk& chunk) {
  if (!valid_file_name(chunk.file())) return "bad snapshot file name";
  if (chunk.file() != file_) {
    if (std::find(done_.begin(), done_.end(), chunk.file()) != done_.end()) {
      return "snapshot file " + chunk.file() + " sent twice";
    }
    if (auto closed = close_file(); !closed) return closed;
    file_ = chunk.file();
    offset_ = 0;
    const fs::path path = dir_ / file_;
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd_ < 0) return errno_text("create", path);
  }
  if (chunk.offset() != offset_) {
    return "snapshot chunk of " + file_ + " at " + std::to_string(chunk.offset()) + ", want " +
           std::to_string(offset_);
  }
  if (chunk.data().size() > bytes_max_ - bytes_) {
    return "snapshot larger than " + std::to_string(bytes_max_) + " bytes";
  }
  bytes_ += chunk.data().size();
  std::size_t put = 0;
  while (put < chunk.data().size()) {
    const ssize_t n = ::write(fd_, chunk.data().data() + put, chunk.data().size() - put);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_text("write", dir_ / file_);
    put += static_cast<std::size_t>(n);
  }
  offset_ += put;
  return {};
}

common::Result<void, std::string> SnapshotFileWriter::close_file() {
  if (fd_ < 0) return {};
  // Synced before the MsgSnap is handed on: the raft loop installs these files as its database.
  const int synced = ::fsync(fd_);
  ::close(fd_);
  fd_ = -1;
  if (synced != 0) return errno_text("fsync", dir_ / file_);
  done_.push_back(file_);
  return {};
}

common::Result<void, std::string> SnapshotFileWriter::finish() {
  if (auto closed = close_file(); !closed) return closed;
  const int fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_text("open", dir_);
  const int synced = ::fsync(fd);
  ::close(fd);
  if (synced != 0) return errno_text("fsync", dir_);
  finished_ = true;
  return {};
}

}  // namespace discovery::server
