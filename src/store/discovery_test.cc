#include "store/discovery.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "catalog/catalog.h"
#include "core/file_util.h"
#include "core/sha256.h"
#include "core/status_matchers.h"
#include "gguf/test_util.h"
#include "store/hf_cache.h"

namespace hangar::store {
namespace {

namespace fs = std::filesystem;
using gguf::testing::LlamaWriter;
using gguf::testing::TempDir;
using testing::HasSubstr;

// A small valid GGUF model file of `arch`.
void WriteModel(const fs::path& path, std::string_view name = "tiny",
                std::string_view arch = "llama") {
  fs::create_directories(path.parent_path());
  LlamaWriter w;
  gguf_set_val_str(w.ctx(), "general.architecture", std::string(arch).c_str());
  gguf_set_val_str(w.ctx(), "general.name", std::string(name).c_str());
  gguf_set_val_u32(w.ctx(), "general.file_type", 7);  // Q8_0
  gguf_set_val_u32(w.ctx(), (std::string(arch) + ".context_length").c_str(), 2048);
  gguf_set_val_u32(w.ctx(), (std::string(arch) + ".block_count").c_str(), 2);
  w.AddTensor("token_embd.weight", GGML_TYPE_F32, {64, 32});
  w.Write(path);
}

std::string HashOf(const fs::path& p) { return Sha256File(p).value(); }

std::pair<const CatalogEntry*, const ModelSource*> AnyHfEntry() {
  for (const CatalogEntry& e : DefaultCatalog().entries()) {
    for (const ModelSource& s : e.sources) {
      if (s.kind == SourceKind::kHuggingFace && s.split_count == 1) return {&e, &s};
    }
  }
  return {nullptr, nullptr};
}

TEST(DiscoveryTest, FindsHfCacheModelsInPlace) {
  TempDir dir;
  const fs::path hub = dir / "hub";
  HfCache cache(hub);
  auto [entry, source] = AnyHfEntry();
  ASSERT_NE(entry, nullptr);
  const ModelSource& src = *source;
  const fs::path tmp = dir / "m.gguf";
  WriteModel(tmp);
  const std::string sha = HashOf(tmp);
  fs::create_directories(cache.BlobPath(src.repo, sha).parent_path());
  fs::rename(tmp, cache.BlobPath(src.repo, sha));
  const std::string commit(40, 'a');
  ASSERT_OK(cache.LinkSnapshot(src.repo, commit, src.file, sha));
  // Side files and other repositories' non-GGUF files are not models.
  WriteModel(dir / "mm.gguf");
  const std::string mm_sha = HashOf(dir / "mm.gguf");
  fs::rename(dir / "mm.gguf", cache.BlobPath(src.repo, mm_sha));
  ASSERT_OK(cache.LinkSnapshot(src.repo, commit, "mmproj-model-f16.gguf", mm_sha));

  DiscoveryRoots roots;
  roots.hf_hub_cache = hub;
  DiscoveryReport r = Discover(roots, &DefaultCatalog(), 1'700'000'000);
  ASSERT_EQ(r.models.size(), 1u);
  const InstalledModel& m = r.models[0];
  EXPECT_EQ(m.id, "hf://" + src.repo + "/" + src.file);
  EXPECT_EQ(m.source, "hf");
  EXPECT_EQ(m.revision, commit);
  EXPECT_EQ(m.catalog_id, entry->id);
  EXPECT_FALSE(m.managed);
  EXPECT_EQ(m.digest, sha);
  EXPECT_EQ(m.name, src.repo + ":Q8_0");
  EXPECT_EQ(m.metadata["architecture"], "llama");
  EXPECT_EQ(m.metadata["context_length"], 2048);
  ASSERT_EQ(m.files.size(), 1u);
  EXPECT_EQ(m.files[0].blob, fs::canonical(cache.BlobPath(src.repo, sha)));
  EXPECT_EQ(m.size_bytes, fs::file_size(cache.BlobPath(src.repo, sha)));
}

TEST(DiscoveryTest, FindsOllamaModelsWithTheirLayers) {
  TempDir dir;
  const fs::path root = dir / "ollama";
  const fs::path tmp = dir / "m.gguf";
  WriteModel(tmp, "gemma");
  const std::string sha = HashOf(tmp);
  fs::create_directories(root / "blobs");
  fs::rename(tmp, root / "blobs" / ("sha256-" + sha));
  const std::string tmpl = "{{ .Prompt }}";
  Sha256 th;
  th.Update(tmpl);
  const std::string tmpl_sha = th.FinishHex();
  ASSERT_OK(WriteFileAtomic(root / "blobs" / ("sha256-" + tmpl_sha), tmpl));
  nlohmann::json manifest = {{"schemaVersion", 2},
                             {"mediaType", "application/vnd.docker.distribution.manifest.v2+json"},
                             {"layers",
                              {{{"mediaType", "application/vnd.ollama.image.model"},
                                {"digest", "sha256:" + sha},
                                {"size", fs::file_size(root / "blobs" / ("sha256-" + sha))}},
                               {{"mediaType", "application/vnd.ollama.image.template"},
                                {"digest", "sha256:" + tmpl_sha},
                                {"size", tmpl.size()}}}}};
  ASSERT_OK(
      WriteFileAtomic(root / "manifests/registry.ollama.ai/library/gemma2/2b", manifest.dump()));
  ASSERT_OK(WriteFileAtomic(root / "manifests/registry.ollama.ai/me/mine/latest", manifest.dump()));
  ASSERT_OK(WriteFileAtomic(root / "manifests/registry.ollama.ai/library/broken/x", "{not json"));

  DiscoveryRoots roots;
  roots.ollama_models = root;
  DiscoveryReport r = Discover(roots, &DefaultCatalog(), 1'700'000'000);
  // Both manifests name the same blob: one model per blob is kept.
  ASSERT_EQ(r.models.size(), 1u);
  const InstalledModel& m = r.models[0];
  EXPECT_EQ(m.id, "ollama://gemma2:2b");
  EXPECT_EQ(m.name, "gemma2:2b");
  EXPECT_EQ(m.source, "ollama");
  EXPECT_EQ(m.digest, sha);
  EXPECT_EQ(m.primary_path, root / "blobs" / ("sha256-" + sha));
  ASSERT_EQ(m.files.size(), 2u);
  EXPECT_EQ(m.files[1].role, "template");
  EXPECT_EQ(m.catalog_id, "gemma2-2b-q4");
  ASSERT_EQ(r.skipped.size(), 1u);
  EXPECT_THAT(r.skipped[0].reason, HasSubstr("manifest"));
}

TEST(DiscoveryTest, FindsFilesInFoldersAndSkipsBrokenOnes) {
  TempDir dir;
  WriteModel(dir / "lms/publisher/model/model-Q8_0.gguf");
  WriteModel(dir / "gpt4all/a.gguf");
  WriteModel(dir / "gpt4all/deeper/ignored.gguf");  // GPT4All's folder is flat
  WriteModel(dir / "mine/x/split-00001-of-00002.gguf");
  ASSERT_OK(WriteFileAtomic(dir / "mine/x/split-00002-of-00002.gguf", "GGUF"));
  ASSERT_OK(WriteFileAtomic(dir / "mine/broken.gguf", "not a gguf at all"));
  ASSERT_OK(WriteFileAtomic(dir / "mine/readme.txt", "hello"));

  DiscoveryRoots roots;
  roots.lmstudio_models = {dir / "lms", dir / "no-such-folder"};
  roots.gpt4all_models = dir / "gpt4all";
  roots.folders = {dir / "mine"};
  DiscoveryReport r = Discover(roots, nullptr, 1'700'000'000);
  std::vector<std::string> ids;
  for (const InstalledModel& m : r.models) ids.push_back(m.id);
  EXPECT_THAT(
      ids, testing::ElementsAre("file://" + (dir / "lms/publisher/model/model-Q8_0.gguf").string(),
                                "file://" + (dir / "gpt4all/a.gguf").string()));
  EXPECT_EQ(r.models[0].source, "lmstudio");
  EXPECT_EQ(r.models[1].source, "gpt4all");
  EXPECT_EQ(r.models[0].name, "tiny");
  // The broken file and the broken split set are skipped with reasons.
  ASSERT_EQ(r.skipped.size(), 2u);
  std::vector<std::string> skipped;
  for (const DiscoverySkip& s : r.skipped) skipped.push_back(s.path.filename().string());
  EXPECT_THAT(skipped, testing::UnorderedElementsAre("broken.gguf", "split-00001-of-00002.gguf"));
}

TEST(DiscoveryTest, LayerRoles) {
  EXPECT_EQ(OllamaLayerRole("application/vnd.ollama.image.model"), "weights");
  EXPECT_EQ(OllamaLayerRole("application/vnd.ollama.image.params"), "params");
  EXPECT_EQ(OllamaLayerRole("application/vnd.ollama.image.projector"), "projector");
  EXPECT_EQ(OllamaLayerRole("application/json"), "other");
}

}  // namespace
}  // namespace hangar::store
