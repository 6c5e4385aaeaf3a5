#pragma once
// Test helpers for discovery/store: command builders with explicit times and short assertions.
// Test-only; not part of discovery_store.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "discovery/store/node_tree.h"
#include "discovery/store/store.h"

namespace discovery::store::testing {

constexpr std::int64_t kSecondNs = 1'000'000'000;
// A fixed "now" for commands (2027-01-15T08:00:00Z); tests move from it explicitly.
constexpr std::int64_t kT0 = 1'800'000'000 * kSecondNs;

inline WallTime at(std::int64_t unix_ns) { return wall_time_from_ns(unix_ns); }

// Builds one Write command: Put("/a").value("1").ttl(5).
class W {
 public:
  W(pb::Write::Method method, std::string key) {
    command_.set_time_unix_ns(kT0);
    command_.mutable_write()->set_method(method);
    command_.mutable_write()->set_key(std::move(key));
  }
  W& value(std::string v) {
    write().set_value(std::move(v));
    return *this;
  }
  W& dir() {
    write().set_dir(true);
    return *this;
  }
  W& prev_exist(bool v) {
    write().set_prev_exist(v);
    return *this;
  }
  W& prev_value(std::string v) {
    write().set_prev_value(std::move(v));
    return *this;
  }
  W& prev_index(std::uint64_t v) {
    write().set_prev_index(v);
    return *this;
  }
  W& recursive() {
    write().set_recursive(true);
    return *this;
  }
  W& refresh() {
    write().set_refresh(true);
    return *this;
  }
  // Sets the command time; call before ttl().
  W& now(std::int64_t unix_ns) {
    command_.set_time_unix_ns(unix_ns);
    return *this;
  }
  // Expiration = command time + seconds, as the API computes it.
  W& ttl(std::int64_t seconds) {
    write().set_expiration_unix_ns(command_.time_unix_ns() + seconds * kSecondNs);
    return *this;
  }
  W& expiration(std::int64_t unix_ns) {
    write().set_expiration_unix_ns(unix_ns);
    return *this;
  }
  operator pb::Command() const { return command_; }  // NOLINT(google-explicit-constructor)

 private:
  pb::Write& write() { return *command_.mutable_write(); }
  pb::Command command_;
};

inline W Put(std::string key) { return W{pb::Write::PUT, std::move(key)}; }
inline W Post(std::string key) { return W{pb::Write::POST, std::move(key)}; }
inline W Del(std::string key) { return W{pb::Write::DELETE, std::move(key)}; }

inline pb::Command Sync(std::int64_t unix_ns) {
  pb::Command command;
  command.set_time_unix_ns(unix_ns);
  command.mutable_sync()->set_time_unix_ns(unix_ns);
  return command;
}

// Applies a write that must succeed and returns its event.
inline Event ok(Store& store, const pb::Command& command) {
  auto result = store.apply(command);
  EXPECT_TRUE(result.has_value()) << "error " << static_cast<int>(result.error().code) << " "
                                  << result.error().cause;
  if (!result.has_value() || !result->has_value()) {
    ADD_FAILURE() << "no event";
    return Event{};
  }
  return **result;
}

// Applies a write that must fail and returns its error.
inline Error fail(Store& store, const pb::Command& command) {
  auto result = store.apply(command);
  EXPECT_FALSE(result.has_value()) << "unexpected success";
  if (result.has_value()) return Error{};
  return result.error();
}

inline Event get(Store& store, std::string_view key, bool recursive = false,
                 std::int64_t now = kT0) {
  auto result = store.get(key, recursive, true, at(now));
  EXPECT_TRUE(result.has_value()) << key;
  return result.has_value() ? *result : Event{};
}

inline Error get_error(Store& store, std::string_view key) {
  auto result = store.get(key, false, true, at(kT0));
  EXPECT_FALSE(result.has_value()) << key;
  return result.has_value() ? Error{} : result.error();
}

// A file view as events show it.
inline NodeView file(std::string key, std::string value, std::uint64_t modified,
                     std::uint64_t created) {
  NodeView view;
  view.key = std::move(key);
  view.value = std::move(value);
  view.modified_index = modified;
  view.created_index = created;
  return view;
}

inline NodeView dir_view(std::string key, std::uint64_t modified, std::uint64_t created) {
  NodeView view;
  view.key = std::move(key);
  view.dir = true;
  view.modified_index = modified;
  view.created_index = created;
  return view;
}

// The `node` of a delete-type event: no value.
inline NodeView gone(std::string key, std::uint64_t modified, std::uint64_t created,
                     bool dir = false) {
  NodeView view;
  view.key = std::move(key);
  view.dir = dir;
  view.modified_index = modified;
  view.created_index = created;
  return view;
}

inline std::vector<std::string> keys_of(const std::vector<NodeView>& nodes) {
  std::vector<std::string> keys;
  for (const NodeView& node : nodes) keys.push_back(node.key);
  return keys;
}

}  // namespace discovery::store::testing
