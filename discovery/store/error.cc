#include "discovery/store/error.h"

namespace discovery::store {

std::string_view error_message(ErrorCode code) {
  switch (code) {
    case ErrorCode::KeyNotFound:
      return "Key not found";
    case ErrorCode::TestFailed:
      return "Compare failed";
    case ErrorCode::NotFile:
      return "Not a file";
    case ErrorCode::NotDir:
      return "Not a directory";
    case ErrorCode::NodeExist:
      return "Key already exists";
    case ErrorCode::RootReadOnly:
      return "Root is read only";
    case ErrorCode::DirNotEmpty:
      return "Directory not empty";
    case ErrorCode::Unauthorized:
      return "The request requires user authentication";
    case ErrorCode::PrevValueRequired:
      return "PrevValue is Required in POST form";
    case ErrorCode::TtlNan:
      return "The given TTL in POST form is not a number";
    case ErrorCode::IndexNan:
      return "The given index in POST form is not a number";
    case ErrorCode::InvalidField:
      return "Invalid field";
    case ErrorCode::InvalidForm:
      return "Invalid POST form";
    case ErrorCode::RefreshValue:
      return "Value provided on refresh";
    case ErrorCode::RefreshTtlRequired:
      return "A TTL must be provided on refresh";
    case ErrorCode::RaftInternal:
      return "Raft Internal Error";
    case ErrorCode::LeaderElect:
      return "During Leader Election";
    case ErrorCode::WatcherCleared:
      return "watcher is cleared due to etcd recovery";
    case ErrorCode::EventIndexCleared:
      return "The event in requested index is outdated and cleared";
  }
  return "";
}

int http_status(ErrorCode code) {
  // Behaviour item 9: the few codes with their own status; everything else is a bad request.
  switch (code) {
    case ErrorCode::KeyNotFound:
      return 404;
    case ErrorCode::TestFailed:
    case ErrorCode::NodeExist:
      return 412;
    case ErrorCode::NotFile:
    case ErrorCode::DirNotEmpty:
      return 403;
    case ErrorCode::Unauthorized:
      return 401;
    case ErrorCode::RaftInternal:
    case ErrorCode::LeaderElect:
      return 500;
    default:
      return 400;
  }
}

}  // namespace discovery::store
