#pragma once
// Stats: the per-member store counters served at /v2/stats/store.
//
// Owned by the Store (one per member) and written only on the store's thread. They are not part of
// the replicated state: every member counts the commands it applies and the reads it serves.
// Counting rules follow etcd 3.4 (pinned by store_test.cc "Stats*"):
// - gets count Store::get only (watches never count);
// - every applied Write counts once as success or failure of its operation, except that a create
//   whose parent path runs through a file also counts a set failure;
// - etcd counts some refused operations as successes: delete/update/compareAndSwap of the root,
//   update of a dir with a value, and every refused compareAndDelete (on a dir or a failed
//   compare). Only compareAndDelete of a missing key counts as its failure;
// - expireCount counts expired nodes that got their own expire event (not their children);
// - watchers is the number of registered watchers right now.

#include <cstdint>
#include <string_view>

namespace discovery::store {

struct Stats {
  std::uint64_t gets_success = 0;
  std::uint64_t gets_fail = 0;
  std::uint64_t sets_success = 0;
  std::uint64_t sets_fail = 0;
  std::uint64_t delete_success = 0;
  std::uint64_t delete_fail = 0;
  std::uint64_t update_success = 0;
  std::uint64_t update_fail = 0;
  std::uint64_t create_success = 0;
  std::uint64_t create_fail = 0;
  std::uint64_t compare_and_swap_success = 0;
  std::uint64_t compare_and_swap_fail = 0;
  std::uint64_t compare_and_delete_success = 0;
  std::uint64_t compare_and_delete_fail = 0;
  std::uint64_t expire_count = 0;
  std::uint64_t watchers = 0;

  friend bool operator==(const Stats&, const Stats&) = default;
};

// Calls visit(json_name, value) for every counter in etcd's JSON order:
// getsSuccess, getsFail, setsSuccess, setsFail, deleteSuccess, deleteFail, updateSuccess,
// updateFail, createSuccess, createFail, compareAndSwapSuccess, compareAndSwapFail,
// compareAndDeleteSuccess, compareAndDeleteFail, expireCount, watchers.
template <class Visit>
void visit_stats(const Stats& stats, Visit&& visit) {
  visit(std::string_view{"getsSuccess"}, stats.gets_success);
  visit(std::string_view{"getsFail"}, stats.gets_fail);
  visit(std::string_view{"setsSuccess"}, stats.sets_success);
  visit(std::string_view{"setsFail"}, stats.sets_fail);
  visit(std::string_view{"deleteSuccess"}, stats.delete_success);
  visit(std::string_view{"deleteFail"}, stats.delete_fail);
  visit(std::string_view{"updateSuccess"}, stats.update_success);
  visit(std::string_view{"updateFail"}, stats.update_fail);
  visit(std::string_view{"createSuccess"}, stats.create_success);
  visit(std::string_view{"createFail"}, stats.create_fail);
  visit(std::string_view{"compareAndSwapSuccess"}, stats.compare_and_swap_success);
  visit(std::string_view{"compareAndSwapFail"}, stats.compare_and_swap_fail);
  visit(std::string_view{"compareAndDeleteSuccess"}, stats.compare_and_delete_success);
  visit(std::string_view{"compareAndDeleteFail"}, stats.compare_and_delete_fail);
  visit(std::string_view{"expireCount"}, stats.expire_count);
  visit(std::string_view{"watchers"}, stats.watchers);
}

}  // namespace discovery::store
