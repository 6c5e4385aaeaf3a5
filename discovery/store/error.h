#pragma once
// The etcd v2 error vocabulary: codes, their fixed messages and HTTP statuses
// (reference/etcd-v2-behaviour.md items 9, 10, 16-22). Used by the store for store errors and by
// api/ for parameter errors, so one table serves both.

#include <cstdint>
#include <string>
#include <string_view>

namespace discovery::store {

enum class ErrorCode : int {
  KeyNotFound = 100,
  TestFailed = 101,
  NotFile = 102,
  NotDir = 104,
  NodeExist = 105,
  RootReadOnly = 107,
  DirNotEmpty = 108,
  Unauthorized = 110,
  PrevValueRequired = 201,
  TtlNan = 202,
  IndexNan = 203,
  InvalidField = 209,
  InvalidForm = 210,
  RefreshValue = 211,
  RefreshTtlRequired = 212,
  RaftInternal = 300,
  LeaderElect = 301,
  WatcherCleared = 400,
  EventIndexCleared = 401,
};

// Error is one etcd error body: {"errorCode":code,"message":…,"cause":…,"index":index}.
struct Error {
  ErrorCode code;
  std::string cause;
  std::uint64_t index = 0;  // the store index when the error was decided; 0 for parse errors

  friend bool operator==(const Error&, const Error&) = default;
};

// etcd's fixed message text for a code, e.g. "Key not found".
std::string_view error_message(ErrorCode code);

// The HTTP status etcd 3.4 sends with a code (behaviour item 9).
int http_status(ErrorCode code);

}  // namespace discovery::store
