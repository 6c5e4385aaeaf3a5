#include "discovery/server/identity_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace discovery::server {
namespace {

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

common::Result<void, std::string> fsync_path(const std::filesystem::path& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return errno_text("open " + path.string());
  const int synced = ::fsync(fd);
  ::close(fd);
  if (synced != 0) return errno_text("fsync " + path.string());
  return {};
}

}  // namespace

common::Result<std::optional<Identity>, std::string> load_identity(
    const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return std::optional<Identity>();
  std::ifstream in(file);
  std::string member_hex;
  std::string cluster_hex;
  if (!(in >> member_hex >> cluster_hex)) return "malformed identity file " + file.string();
  try {
    return std::optional<Identity>(Identity{.member_id = std::stoull(member_hex, nullptr, 16),
                                            .cluster_id = std::stoull(cluster_hex, nullptr, 16)});
  } catch (const std::exception&) {
    return "malformed identity file " + file.string();
  }
}

common::Result<void, std::string> save_identity(const std::filesystem::path& file,
                                                const Identity& identity) {
  std::error_code ec;
  std::filesystem::create_directories(file.parent_path(), ec);
  if (ec) return "cannot create " + file.parent_path().string() + ": " + ec.message();
  const std::filesystem::path temporary = file.string() + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << format_id(identity.member_id) << ' ' << format_id(identity.cluster_id) << '\n';
    if (!out.flush()) return "cannot write " + temporary.string();
  }
  if (auto synced = fsync_path(temporary, O_RDONLY); !synced) return synced;
  std::filesystem::rename(temporary, file, ec);
  if (ec) return "cannot rename " + temporary.string() + ": " + ec.message();
  return fsync_path(file.parent_path(), O_RDONLY | O_DIRECTORY);
}

}  // namespace discovery::server
