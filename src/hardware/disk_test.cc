#include "hardware/disk.h"

#include <gtest/gtest.h>

#include "core/status_matchers.h"
#include "hardware/test_util.h"

namespace hangar {
namespace {

using hardware_test::TempTree;

TEST(ProbeDiskTest, ExistingFolder) {
  TempTree tree;
  Result<DiskInfo> disk = ProbeDisk(tree.root());
  ASSERT_OK(disk);
  EXPECT_EQ(disk->path, tree.root());
  EXPECT_GT(disk->total, 0u);
  EXPECT_LE(disk->free, disk->total);
}

TEST(ProbeDiskTest, MissingFolderIsMeasuredAtItsNearestAncestor) {
  TempTree tree;
  std::filesystem::path store = tree.root() / "not/yet/created/hub";
  Result<DiskInfo> disk = ProbeDisk(store);
  ASSERT_OK(disk);
  EXPECT_EQ(disk->path, store);  // the path asked about, as given
  Result<DiskInfo> parent = ProbeDisk(tree.root());
  ASSERT_OK(parent);
  EXPECT_EQ(disk->total, parent->total);
  EXPECT_FALSE(std::filesystem::exists(tree.root() / "not"));  // nothing created
}

TEST(ProbeDiskTest, RelativePath) {
  Result<DiskInfo> disk = ProbeDisk("relative/path/that/does/not/exist");
  ASSERT_OK(disk);
  EXPECT_GT(disk->total, 0u);
}

TEST(ProbeDiskTest, EmptyPathIsInvalid) {
  EXPECT_THAT(ProbeDisk(""), StatusIs(StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace hangar
