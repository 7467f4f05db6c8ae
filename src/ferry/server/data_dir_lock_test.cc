#include "ferry/server/data_dir_lock.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <unistd.h>

namespace ferry::server {
namespace {

std::string TempDir() {
  std::string tmpl = ::testing::TempDir() + "ferry_lock_XXXXXX";
  return ::mkdtemp(tmpl.data());
}

TEST(DataDirLockTest, SecondAcquireFailsNamingHolder) {
  const std::string dir = TempDir() + "/data";
  auto first = DataDirLock::Acquire(dir);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_TRUE(std::filesystem::is_directory(dir));

  auto second = DataDirLock::Acquire(dir);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("pid " + std::to_string(::getpid())), std::string::npos)
      << second.status().message();
  EXPECT_NE(second.status().message().find("ferry.lock"), std::string::npos);
}

TEST(DataDirLockTest, ReleasedOnDestruction) {
  const std::string dir = TempDir();
  { ASSERT_TRUE(DataDirLock::Acquire(dir).ok()); }
  auto again = DataDirLock::Acquire(dir);
  EXPECT_TRUE(again.ok()) << again.status().ToString();
}

TEST(DataDirLockTest, UncreatableDirIsAnError) {
  const std::string dir = TempDir();
  std::ofstream(dir + "/file") << "x";
  auto lock = DataDirLock::Acquire(dir + "/file/sub");
  ASSERT_FALSE(lock.ok());
  EXPECT_NE(lock.status().message().find("cannot create data dir"), std::string::npos);
}

}  // namespace
}  // namespace ferry::server
