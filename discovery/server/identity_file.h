#pragma once
// The member's identity on disk: <data-dir>/member/identity, written once by the first start and
// read by every restart, which takes its ids from here rather than from the flags (etcd keeps
// them in its WAL). A file of its own, outside the database, because installing a snapshot
// swaps in the leader's whole database. Blocking file I/O at start only.

#include <filesystem>
#include <optional>
#include <string>

#include "common/result.h"
#include "discovery/server/member_id.h"

namespace discovery::server {

// nullopt when the file does not exist. Error: it exists but cannot be read or is malformed.
common::Result<std::optional<Identity>, std::string> load_identity(
    const std::filesystem::path& file);

// Writes the file atomically and durably (a temporary file, fsync, rename, fsync of the
// directory). Error: any of these failed.
common::Result<void, std::string> save_identity(const std::filesystem::path& file,
                                                const Identity& identity);

}  // namespace discovery::server
