#include "store/blob_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "core/file_util.h"
#include "core/status_matchers.h"

namespace hangar::store {
namespace {

namespace fs = std::filesystem;

class BlobStoreTest : public testing::Test {
 protected:
  void SetUp() override {
    root_ =
        fs::temp_directory_path() / ("hangar-blobs-" + std::to_string(getpid()) + "-" +
                                     testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }
  fs::path root_;
};

const std::string kHex = std::string(63, '0') + "1";

TEST_F(BlobStoreTest, OllamaNaming) {
  BlobStore store(root_);
  EXPECT_EQ(store.BlobPath(kHex), root_ / "blobs" / ("sha256-" + kHex));
  EXPECT_EQ(store.PartialPath(kHex).filename(), "sha256-" + kHex + "-partial");
  EXPECT_EQ(store.ManifestsDir(), root_ / "manifests");
  EXPECT_OK(ValidateSha256(kHex));
  EXPECT_THAT(ValidateSha256("../" + kHex.substr(3)), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateSha256(std::string(64, 'A')), StatusIs(StatusCode::kInvalidArgument));
}

TEST_F(BlobStoreTest, AdoptMovesOrCopiesAndLists) {
  BlobStore store(root_);
  const fs::path src = root_ / "download.gguf";
  ASSERT_OK(WriteFileAtomic(src, "bytes"));
  Result<fs::path> kept = store.Adopt(src, kHex, /*keep_source=*/true);
  ASSERT_OK(kept);
  EXPECT_TRUE(fs::exists(src));
  EXPECT_EQ(ReadFile(*kept).value_or(""), "bytes");
  EXPECT_TRUE(store.Has(kHex));

  const std::string other = std::string(63, '0') + "2";
  Result<fs::path> moved = store.Adopt(src, other, /*keep_source=*/false);
  ASSERT_OK(moved);
  EXPECT_FALSE(fs::exists(src));
  ASSERT_OK(WriteFileAtomic(store.PartialPath(std::string(64, 'f')), "part"));
  std::vector<BlobStore::Blob> blobs = store.List();
  ASSERT_EQ(blobs.size(), 2u);
  EXPECT_EQ(blobs[0].sha256, kHex);
  EXPECT_EQ(blobs[0].size, 5u);
  EXPECT_EQ(store.Partials().size(), 1u);
  EXPECT_THAT(store.Adopt(src, "nothex", true), StatusIs(StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace hangar::store
