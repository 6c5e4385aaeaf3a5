#include "test/sim/checker.h"

#include <gtest/gtest.h>

#include "raft/memory_storage.h"

namespace raft::sim {
namespace {

pb::Entry entry(uint64_t term, uint64_t index, std::string data = "") {
  pb::Entry e;
  e.set_term(term);
  e.set_index(index);
  e.set_data(std::move(data));
  return e;
}

// A stored log with the given entry terms at indexes 1, 2, ... and the given commit index.
struct Log {
  Log(std::vector<uint64_t> terms, uint64_t commit) {
    std::vector<pb::Entry> entries;
    for (size_t i = 0; i < terms.size(); ++i) entries.push_back(entry(terms[i], i + 1));
    storage.append(entries);
    pb::HardState hs;
    hs.set_commit(commit);
    log.commit_to(commit);
  }
  MemoryStorage storage;
  RaftLog log{storage};
};

TEST(Checker, TwoLeadersInOneTermFail) {
  Checker checker;
  Log log({1}, 0);
  checker.observe_role(1, Role::Leader, 3, log.log);
  checker.observe_role(1, Role::Leader, 3, log.log);
  EXPECT_FALSE(checker.failed());
  checker.observe_role(2, Role::Leader, 3, log.log);
  EXPECT_TRUE(checker.failed());
  EXPECT_NE(checker.failure().find("election safety"), std::string::npos) << checker.failure();
}

TEST(Checker, DifferentEntriesAtOneIndexAndTermFail) {
  Checker checker;
  checker.observe_entries(1, 0, {entry(1, 1, "a"), entry(1, 2, "b")});
  checker.observe_entries(2, 1, {entry(1, 2, "b")});
  EXPECT_FALSE(checker.failed());
  checker.observe_entries(3, 1, {entry(1, 2, "c")});
  EXPECT_TRUE(checker.failed());
}

TEST(Checker, EqualEntriesAfterDifferentTermsFail) {
  Checker checker;
  checker.observe_entries(1, 1, {entry(2, 5, "a")});
  checker.observe_entries(2, 2, {entry(2, 5, "a")});
  EXPECT_TRUE(checker.failed());
}

TEST(Checker, ACommitThatGoesBackFails) {
  Checker checker;
  Log log({1, 1, 1}, 3);
  uint64_t seen = 0;
  checker.observe_commit(1, 1, log.log, seen);
  EXPECT_EQ(seen, 3u);
  Log shorter({1, 1, 1}, 2);
  checker.observe_commit(1, 1, shorter.log, seen);
  EXPECT_TRUE(checker.failed());
}

TEST(Checker, ALaterLeaderWithoutACommittedEntryFails) {
  Checker checker;
  Log committed({1, 1}, 2);  // index 2 of term 1 committed by a member in term 1
  uint64_t seen = 0;
  checker.observe_commit(1, 1, committed.log, seen);
  Log same({1, 1, 2}, 0);
  checker.observe_role(2, Role::Leader, 2, same.log);
  EXPECT_FALSE(checker.failed());
  Log lacking({1}, 0);
  checker.observe_role(3, Role::Leader, 3, lacking.log);
  EXPECT_TRUE(checker.failed());
  EXPECT_NE(checker.failure().find("leader completeness"), std::string::npos);
}

TEST(Checker, DifferentAppliedPrefixesFail) {
  Checker checker;
  checker.observe_applied(1, 1, 1, 42);
  checker.observe_applied(2, 1, 1, 42);
  EXPECT_FALSE(checker.failed());
  checker.observe_applied(3, 1, 1, 43);
  EXPECT_TRUE(checker.failed());
}

}  // namespace
}  // namespace raft::sim
