#include "store/hf_cache.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "core/file_util.h"
#include "core/status_matchers.h"

namespace hangar::store {
namespace {

namespace fs = std::filesystem;
using testing::HasSubstr;

constexpr std::string_view kSha =
    "3f2a0000000000000000000000000000000000000000000000000000000000aa";
constexpr std::string_view kCommit = "0123456789abcdef0123456789abcdef01234567";

class HfCacheTest : public testing::Test {
 protected:
  void SetUp() override {
    root_ =
        fs::temp_directory_path() / ("hangar-hfcache-" + std::to_string(getpid()) + "-" +
                                     testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }
  void WriteBlob(const HfCache& cache, std::string_view repo, std::string_view id,
                 std::string_view bytes) {
    ASSERT_OK(WriteFileAtomic(cache.BlobPath(repo, id), bytes));
  }
  fs::path root_;
};

TEST(HfCacheNamesTest, RepoIds) {
  struct Case {
    std::string id;
    bool ok;
  };
  const Case cases[] = {
      {"bartowski/Qwen2.5-Coder-7B-Instruct-GGUF", true},
      {"gpt2", true},
      {"org/repo.v1_x", true},
      {"", false},
      {"/repo", false},
      {"org/", false},
      {"a/b/c", false},
      {"../repo", false},
      {"org/..", false},
      {"org/re po", false},
      {"org/--x", false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ValidateRepoId(c.id).ok(), c.ok) << c.id;
  }
  EXPECT_EQ(HfCache::RepoFolderName("org/repo"), "models--org--repo");
  EXPECT_EQ(HfCache::RepoIdFromFolder("models--org--repo").value_or(""), "org/repo");
  EXPECT_EQ(HfCache::RepoIdFromFolder("models--gpt2").value_or(""), "gpt2");
  EXPECT_FALSE(HfCache::RepoIdFromFolder("datasets--org--repo"));
  EXPECT_FALSE(HfCache::RepoIdFromFolder(".locks"));
}

TEST(HfCacheNamesTest, RepoPaths) {
  struct Case {
    std::string path;
    bool ok;
  };
  const Case cases[] = {
      {"model.gguf", true},
      {"Q4_K_M/model-00001-of-00002.gguf", true},
      {"../../evil.gguf", false},
      {"a/../../evil.gguf", false},
      {"/etc/passwd", false},
      {"./x.gguf", false},
      {"a//b", false},
      {"a\\..\\b", false},
      {"", false},
      {std::string("a\0b", 3), false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ValidateRepoPath(c.path).ok(), c.ok) << c.path;
  }
  EXPECT_THAT(ValidateRepoPath("../../evil.gguf"), StatusHasMessage(HasSubstr("evil.gguf")));
  EXPECT_OK(ValidateBlobId(kSha));
  EXPECT_OK(ValidateBlobId(kCommit));
  EXPECT_THAT(ValidateBlobId("ABC"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateBlobId("../" + std::string(kSha.substr(3))),
              StatusIs(StatusCode::kInvalidArgument));
}

TEST_F(HfCacheTest, LayoutPaths) {
  HfCache cache(root_);
  EXPECT_EQ(cache.BlobPath("o/r", kSha), root_ / "models--o--r" / "blobs" / std::string(kSha));
  EXPECT_EQ(cache.IncompletePath("o/r", kSha).filename(), std::string(kSha) + ".incomplete");
  EXPECT_EQ(cache.LockPath("o/r", kSha),
            root_ / ".locks" / "models--o--r" / (std::string(kSha) + ".lock"));
  EXPECT_EQ(cache.SnapshotPath("o/r", kCommit, "sub/m.gguf"),
            root_ / "models--o--r" / "snapshots" / std::string(kCommit) / "sub" / "m.gguf");
}

TEST_F(HfCacheTest, SnapshotLinksAreRelativeSymlinks) {
  HfCache cache(root_);
  WriteBlob(cache, "o/r", kSha, "GGUF-bytes");
  Result<fs::path> top = cache.LinkSnapshot("o/r", kCommit, "m.gguf", kSha);
  ASSERT_OK(top);
  ASSERT_TRUE(fs::is_symlink(*top));
  EXPECT_EQ(fs::read_symlink(*top), fs::path("../../blobs") / std::string(kSha));
  Result<fs::path> nested = cache.LinkSnapshot("o/r", kCommit, "Q4/sub/m.gguf", kSha);
  ASSERT_OK(nested);
  EXPECT_EQ(fs::read_symlink(*nested), fs::path("../../../../blobs") / std::string(kSha));
  EXPECT_EQ(ReadFile(*nested).value_or(""), "GGUF-bytes");
  // Moving the whole cache keeps the links valid.
  const fs::path moved = root_.string() + "-moved";
  fs::remove_all(moved);
  fs::rename(root_, moved);
  HfCache again(moved);
  std::optional<HfCachedFile> f = again.Find("o/r", kCommit, "Q4/sub/m.gguf");
  fs::rename(moved, root_);
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->size, 10u);
}

TEST_F(HfCacheTest, LinkRefusesTraversalAndMissingBlobs) {
  HfCache cache(root_);
  EXPECT_THAT(cache.LinkSnapshot("o/r", kCommit, "../../evil.gguf", kSha),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(cache.LinkSnapshot("o/r", "../x", "m.gguf", kSha),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(cache.LinkSnapshot("o/r", kCommit, "m.gguf", kSha), StatusIs(StatusCode::kNotFound));
  EXPECT_FALSE(fs::exists(root_.parent_path() / "evil.gguf"));
}

TEST_F(HfCacheTest, RelinkReplacesTheEntry) {
  HfCache cache(root_);
  const std::string other(64, 'b');
  WriteBlob(cache, "o/r", kSha, "one");
  WriteBlob(cache, "o/r", other, "two");
  ASSERT_OK(cache.LinkSnapshot("o/r", kCommit, "m.gguf", kSha));
  ASSERT_OK(cache.LinkSnapshot("o/r", kCommit, "m.gguf", other));
  EXPECT_EQ(ReadFile(cache.SnapshotPath("o/r", kCommit, "m.gguf")).value_or(""), "two");
}

TEST_F(HfCacheTest, RefsRoundTrip) {
  HfCache cache(root_);
  Result<std::optional<std::string>> none = cache.ReadRef("o/r", "main");
  ASSERT_OK(none);
  EXPECT_FALSE(none->has_value());
  ASSERT_OK(cache.WriteRef("o/r", "main", kCommit));
  EXPECT_EQ(ReadFile(root_ / "models--o--r" / "refs" / "main").value_or(""), kCommit);
  EXPECT_EQ(cache.ReadRef("o/r", "main")->value_or(""), kCommit);
  EXPECT_THAT(cache.WriteRef("o/r", "../x", kCommit), StatusIs(StatusCode::kInvalidArgument));
}

TEST_F(HfCacheTest, FindIgnoresDanglingLinksAndListsFiles) {
  HfCache cache(root_);
  WriteBlob(cache, "o/r", kSha, "abc");
  ASSERT_OK(cache.LinkSnapshot("o/r", kCommit, "a.gguf", kSha));
  ASSERT_OK(cache.LinkSnapshot("o/r", kCommit, "dir/b.gguf", kSha));
  // A dangling entry, as a half-finished download of another tool leaves.
  fs::create_symlink("../../blobs/missing", cache.SnapshotPath("o/r", kCommit, "gone.gguf"));
  EXPECT_FALSE(cache.Find("o/r", kCommit, "gone.gguf"));
  EXPECT_FALSE(cache.Find("o/r", kCommit, "../../blobs/" + std::string(kSha)));
  std::vector<HfCachedFile> files = cache.ListFiles();
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].path, "a.gguf");
  EXPECT_EQ(files[1].path, "dir/b.gguf");
  EXPECT_EQ(files[0].repo_id, "o/r");
  EXPECT_EQ(files[0].blob_path, fs::canonical(cache.BlobPath("o/r", kSha)));
}

TEST_F(HfCacheTest, RemoveBlobTakesItsSnapshotEntries) {
  HfCache cache(root_);
  const std::string other(64, 'c');
  WriteBlob(cache, "o/r", kSha, "12345");
  WriteBlob(cache, "o/r", other, "x");
  ASSERT_OK(cache.LinkSnapshot("o/r", kCommit, "dir/a.gguf", kSha));
  ASSERT_OK(cache.LinkSnapshot("o/r", kCommit, "keep.gguf", other));
  Result<uint64_t> freed = cache.RemoveBlob("o/r", kSha);
  ASSERT_OK(freed);
  EXPECT_EQ(*freed, 5u);
  EXPECT_FALSE(fs::exists(cache.BlobPath("o/r", kSha)));
  EXPECT_FALSE(fs::exists(cache.SnapshotPath("o/r", kCommit, "dir")));
  EXPECT_TRUE(cache.Find("o/r", kCommit, "keep.gguf").has_value());
}

}  // namespace
}  // namespace hangar::store
