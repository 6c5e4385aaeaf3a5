#include "discovery/server/snapshot_files.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <random>

namespace discovery::server {
namespace {

namespace fs = std::filesystem;

class SnapshotFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("raftio-files-" + std::to_string(::getpid()) + "-" +
                                         std::to_string(std::random_device{}()));
    fs::create_directories(root_ / "src");
  }
  void TearDown() override { fs::remove_all(root_); }
  void make_file(const std::string& name, const std::string& content) {
    std::ofstream(root_ / "src" / name, std::ios::binary) << content;
  }
  static std::string read(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  fs::path root_;
};

TEST_F(SnapshotFilesTest, ChunksReassembleEveryFileIncludingEmptyOnes) {
  std::string big(10'000, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7);
  make_file("000001.sst", big);
  make_file("CURRENT", "MANIFEST-000001\n");
  make_file("empty", "");
  const auto files = list_checkpoint(root_ / "src");
  ASSERT_TRUE(files.has_value());
  ASSERT_EQ(files->size(), 3u);
  SnapshotFileReader reader(root_ / "src", *files, 4096);
  auto writer = SnapshotFileWriter::create(root_ / "dst", 1 << 20);
  ASSERT_TRUE(writer.has_value());
  int chunks = 0;
  for (;;) {
    auto chunk = reader.next();
    ASSERT_TRUE(chunk.has_value()) << chunk.error();
    if (!*chunk) break;
    EXPECT_LE((*chunk)->data().size(), 4096u);
    ASSERT_TRUE((*writer)->write(**chunk).has_value());
    ++chunks;
  }
  EXPECT_EQ(chunks, 3 + 1 + 1);  // 10000 bytes in 4096-byte chunks, then two single chunks
  ASSERT_TRUE((*writer)->finish().has_value());
  writer->reset();
  EXPECT_EQ(read(root_ / "dst" / "000001.sst"), big);
  EXPECT_EQ(read(root_ / "dst" / "CURRENT"), "MANIFEST-000001\n");
  EXPECT_TRUE(fs::exists(root_ / "dst" / "empty"));
}

TEST_F(SnapshotFilesTest, WriterRefusesBadChunksAndCleansUp) {
  auto writer = SnapshotFileWriter::create(root_ / "dst", 10);
  ASSERT_TRUE(writer.has_value());
  pb::SnapshotChunk chunk;
  chunk.set_file("../escape");
  EXPECT_FALSE((*writer)->write(chunk).has_value());
  chunk.set_file("a");
  chunk.set_offset(5);  // a gap
  EXPECT_FALSE((*writer)->write(chunk).has_value());
  chunk.set_offset(0);
  chunk.set_data("0123456789");
  EXPECT_TRUE((*writer)->write(chunk).has_value());
  chunk.set_offset(10);
  chunk.set_data("x");  // beyond bytes_max
  EXPECT_FALSE((*writer)->write(chunk).has_value());
  chunk.set_file("b");
  chunk.set_offset(0);
  chunk.set_data("");
  EXPECT_TRUE((*writer)->write(chunk).has_value());
  chunk.set_file("a");  // back to a closed file
  EXPECT_FALSE((*writer)->write(chunk).has_value());
  EXPECT_FALSE(fs::exists(root_ / "escape"));
  writer->reset();  // never finished: the staging directory goes
  EXPECT_FALSE(fs::exists(root_ / "dst"));
}

}  // namespace
}  // namespace discovery::server
