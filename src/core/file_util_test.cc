#include "core/file_util.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "core/status_matchers.h"

namespace hangar {
namespace {

namespace fs = std::filesystem;

class FileUtilTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("hangar-file-util-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(FileUtilTest, WriteCreatesFoldersAndReplaces) {
  fs::path f = dir_ / "a" / "b" / "config.toml";
  ASSERT_OK(WriteFileAtomic(f, "one"));
  EXPECT_EQ(*ReadFile(f), "one");
  ASSERT_OK(WriteFileAtomic(f, "two, longer"));
  EXPECT_EQ(*ReadFile(f), "two, longer");
  // No temporary file is left beside the target.
  int entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(f.parent_path())) ++entries;
  EXPECT_EQ(entries, 1);
}

TEST_F(FileUtilTest, ReadMissingIsNotFound) {
  EXPECT_THAT(ReadFile(dir_ / "missing"), StatusIs(StatusCode::kNotFound));
}

TEST_F(FileUtilTest, WriteIntoUnwritablePlaceFails) {
  fs::create_directories(dir_);
  fs::path blocker = dir_ / "file";
  ASSERT_OK(WriteFileAtomic(blocker, "x"));
  // A regular file stands where a folder is needed.
  EXPECT_THAT(WriteFileAtomic(blocker / "child.toml", "y"), StatusIs(StatusCode::kUnavailable));
  EXPECT_EQ(*ReadFile(blocker), "x");
}

}  // namespace
}  // namespace hangar
