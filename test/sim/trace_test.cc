// Golden traces: each file in test/testdata/raft/ is a list of blocks
//
//   command args...
//   ----
//   expected output (no blank lines)
//
// separated by blank lines; lines starting with '#' outside blocks are comments. The test runs
// the commands through a fresh TraceDriver per file and compares every output. REWRITE=1
// regenerates the expected outputs in place; review the diff, because a golden file that records
// a bug is a bug.

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "test/sim/trace_driver.h"

namespace raft::sim {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> lines_of(const fs::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Runs the file; returns its text with the actual outputs in place of the expected ones, and
// adds a test failure for every output that differs.
std::string run_file(const fs::path& path) {
  const std::vector<std::string> lines = lines_of(path);
  TraceDriver driver;
  std::ostringstream out;
  size_t i = 0;
  while (i < lines.size()) {
    const std::string& line = lines[i];
    if (line.empty() || line[0] == '#') {
      out << line << "\n";
      ++i;
      continue;
    }
    const std::string& command = line;
    ++i;
    EXPECT_TRUE(i < lines.size() && lines[i] == "----")
        << path.filename() << ":" << i << ": '----' expected after '" << command << "'";
    if (i < lines.size() && lines[i] == "----") ++i;
    std::string expected;
    while (i < lines.size() && !lines[i].empty()) expected += lines[i++] + "\n";
    const std::string actual = driver.run(command) + "\n";
    EXPECT_EQ(expected, actual) << path.filename() << ": " << command;
    out << command << "\n----\n" << actual;
  }
  return out.str();
}

std::vector<fs::path> trace_files() {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(HAWP_RAFT_TESTDATA)) {
    if (entry.path().extension() == ".txt") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

class Trace : public testing::TestWithParam<fs::path> {};

TEST_P(Trace, MatchesTheGoldenFile) {
  const std::string rewritten = run_file(GetParam());
  const char* rewrite = std::getenv("REWRITE");
  if (rewrite != nullptr && std::string(rewrite) == "1") {
    std::ofstream(GetParam()) << rewritten;
  }
}

INSTANTIATE_TEST_SUITE_P(Raft, Trace, testing::ValuesIn(trace_files()),
                         [](const testing::TestParamInfo<fs::path>& param) {
                           std::string name = param.param.stem().string();
                           for (char& c : name)
                             c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return name;
                         });

}  // namespace
}  // namespace raft::sim
