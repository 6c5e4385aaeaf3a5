#include "discovery/server/identity_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

namespace discovery::server {
namespace {

TEST(IdentityFile, RoundTripAndErrors) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("identity-file-test-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  const std::filesystem::path file = dir / "member" / "identity";
  auto missing = load_identity(file);
  ASSERT_TRUE(missing.has_value());
  EXPECT_FALSE(missing->has_value());
  const Identity identity{.member_id = 0x8e9e05c52164694d, .cluster_id = 0xcdf818194e3a8c32};
  ASSERT_TRUE(save_identity(file, identity).has_value());
  auto loaded = load_identity(file);
  ASSERT_TRUE(loaded.has_value() && loaded->has_value());
  EXPECT_EQ(**loaded, identity);
  EXPECT_FALSE(std::filesystem::exists(file.string() + ".tmp"));
  std::ofstream(file, std::ios::trunc) << "zz\n";
  EXPECT_FALSE(load_identity(file).has_value());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace discovery::server
