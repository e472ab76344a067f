#include "store/share.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "core/file_util.h"
#include "core/sha256.h"
#include "core/status_matchers.h"
#include "gguf/test_util.h"

namespace hangar::store {
namespace {

namespace fs = std::filesystem;
using gguf::testing::TempDir;

ino_t Inode(const fs::path& p) {
  struct stat st {};
  ::stat(p.c_str(), &st);
  return st.st_ino;
}

InstalledModel ModelAt(const fs::path& file, std::string digest = "") {
  InstalledModel m;
  m.id = "file://" + file.string();
  m.name = "Tiny";
  m.source = "folder";
  m.primary_path = file;
  m.size_bytes = fs::file_size(file);
  m.metadata = {{"architecture", "qwen3"}, {"parameters", 600000000}, {"quantization", "Q8_0"}};
  m.files.push_back({"weights", file, file, digest, m.size_bytes});
  return m;
}

TEST(ShareTest, OllamaGetsHardLinksAndAManifest) {
  TempDir dir;
  const fs::path file = dir / "models/Qwen3-0.6B-Q8_0.gguf";
  ASSERT_OK(WriteFileAtomic(file, "GGUF model bytes"));
  const std::string sha = Sha256File(file).value();
  Result<ShareResult> r = ShareWithOllama(ModelAt(file), dir / "ollama", "qwen3-tiny:q8");
  ASSERT_OK(r);
  EXPECT_EQ(r->name, "qwen3-tiny:q8");
  const fs::path blob = dir / "ollama/blobs" / ("sha256-" + sha);
  EXPECT_EQ(Inode(blob), Inode(file));  // no second copy of the bytes
  ASSERT_EQ(r->files.size(), 1u);
  EXPECT_EQ(r->files[0].link, LinkKind::kHardLink);
  ASSERT_EQ(r->digests.size(), 1u);  // the digest was computed once
  EXPECT_EQ(r->digests[0].second, sha);
  EXPECT_EQ(r->index, dir / "ollama/manifests/registry.ollama.ai/library/qwen3-tiny/q8");
  nlohmann::json manifest = nlohmann::json::parse(ReadFile(r->index).value());
  EXPECT_EQ(manifest["schemaVersion"], 2);
  EXPECT_EQ(manifest["layers"][0]["mediaType"], "application/vnd.ollama.image.model");
  EXPECT_EQ(manifest["layers"][0]["digest"], "sha256:" + sha);
  const std::string config_digest = manifest["config"]["digest"];
  const fs::path config_blob = dir / "ollama/blobs" / ("sha256-" + config_digest.substr(7));
  nlohmann::json config = nlohmann::json::parse(ReadFile(config_blob).value());
  EXPECT_EQ(config["model_format"], "gguf");
  EXPECT_EQ(config["model_family"], "qwen3");
  EXPECT_EQ(Sha256File(config_blob).value(), config_digest.substr(7));
  // Sharing again finds the links in place.
  Result<ShareResult> again = ShareWithOllama(ModelAt(file, sha), dir / "ollama", "qwen3-tiny:q8");
  ASSERT_OK(again);
  EXPECT_EQ(again->files[0].link, LinkKind::kAlreadyThere);
  EXPECT_TRUE(again->digests.empty());
}

TEST(ShareTest, OllamaRefusesBadNamesAndSplitModels) {
  TempDir dir;
  const fs::path file = dir / "m.gguf";
  ASSERT_OK(WriteFileAtomic(file, "x"));
  for (std::string bad : {"Upper:tag", "../x", "a/b/c", "x:", "x y"}) {
    EXPECT_THAT(ShareWithOllama(ModelAt(file), dir / "ollama", bad),
                StatusIs(StatusCode::kInvalidArgument))
        << bad;
  }
  InstalledModel split = ModelAt(file);
  split.files.push_back(split.files[0]);
  EXPECT_THAT(ShareWithOllama(split, dir / "ollama", "s"),
              StatusIs(StatusCode::kFailedPrecondition));
}

TEST(ShareTest, LmStudioLayoutAndConflicts) {
  TempDir dir;
  const fs::path blob = dir / "hub/blobs" / std::string(64, 'a');
  ASSERT_OK(WriteFileAtomic(blob, "bytes"));
  InstalledModel m = ModelAt(blob);
  m.files[0].path = dir / "hub/snapshots/c/model-Q8_0.gguf";
  Result<ShareResult> r = ShareWithLmStudio(m, dir / "lms", "tiny");
  ASSERT_OK(r);
  EXPECT_EQ(r->name, "hangar/tiny");
  const fs::path to = dir / "lms/hangar/tiny/model-Q8_0.gguf";
  EXPECT_EQ(Inode(to), Inode(blob));
  // Another file already at the place is not overwritten.
  ASSERT_OK(WriteFileAtomic(dir / "lms/me/x/model-Q8_0.gguf", "other"));
  EXPECT_THAT(ShareWithLmStudio(m, dir / "lms", "me/x"), StatusIs(StatusCode::kAlreadyExists));
  EXPECT_EQ(ReadFile(dir / "lms/me/x/model-Q8_0.gguf").value(), "other");
  EXPECT_THAT(ShareWithLmStudio(m, dir / "lms", "../up"), StatusIs(StatusCode::kInvalidArgument));
}

TEST(ShareTest, DefaultNames) {
  InstalledModel m;
  m.primary_path = "/x/Qwen2.5-Coder-7B-Instruct-Q5_K_M.gguf";
  EXPECT_EQ(DefaultShareName(m), "qwen2.5-coder-7b-instruct-q5_k_m");
  m.catalog_id = "qwen2.5-coder-7b-q5";
  EXPECT_EQ(DefaultShareName(m), "qwen2.5-coder-7b-q5");
}

}  // namespace
}  // namespace hangar::store
