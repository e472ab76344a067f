#include "app/resolver.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "app/test_util.h"
#include "core/status_matchers.h"

namespace hangar::app {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// A snapshot over a temporary folder: one preset with local weights, one
// model imported in place, one pulled from the hub as a catalog entry.
class ResolverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    preset_file_ = home_.path() / "models/demo.gguf";
    app_test::WriteTinyGguf(preset_file_, "llama", 4096);
    imported_ = home_.path() / "dl/Tiny-Llama-Q8_0.gguf";
    app_test::WriteTinyGguf(imported_, "llama", 4096);
    pulled_ = home_.path() / "hub/qwen2.5-coder-3b-instruct-q4_k_m.gguf";
    app_test::WriteTinyGguf(pulled_, "qwen2", 4096);
    const std::string toml = "default_model = \"demo\"\n[model_presets.demo]\nweights = \"" +
                             preset_file_.string() + "\"\nsize_gb = 0.000004\n" +
                             "[model_presets.faraway]\nweights = \"/nowhere/x.gguf\"\n";
    Result<Config> config = Config::Parse(toml, "config.toml");
    ASSERT_OK(config.status());
    snapshot_.config = *config;

    store::InstalledModel imported;
    imported.id = "file://" + imported_.string();
    imported.name = "Tiny Llama";
    imported.source = "import";
    imported.managed = false;
    imported.primary_path = imported_;
    imported.metadata["entry"] = ToJson(EntryFromGgufFile(imported_, "tiny-llama-q8_0", "Tiny"));
    store::InstalledModel pulled;
    pulled.id = "hf://Qwen/Qwen2.5-Coder-3B-Instruct-GGUF/qwen2.5-coder-3b-instruct-q4_k_m.gguf";
    pulled.name = "qwen2.5-coder-3b-instruct-q4_k_m";
    pulled.source = "hf";
    pulled.catalog_id = "qwen2.5-coder-3b-q4";
    pulled.primary_path = pulled_;
    snapshot_.installed = {imported, pulled};
    Result<ModelIndex> index = ModelIndex::Build(DefaultCatalog(), snapshot_.config.presets(),
                                                 "config.toml", snapshot_.installed);
    ASSERT_OK(index.status());
    snapshot_.models = std::move(*index);
  }

  Result<Resolution> Resolve(std::string_view text, ResolveOptions options = {}) {
    return app::Resolve(snapshot_, text, options);
  }

  app_test::TempHome home_;
  fs::path preset_file_, imported_, pulled_;
  Snapshot snapshot_;
};

struct Case {
  std::string text;
  TargetKind kind;
  std::string id;  // DisplayId()
};

TEST_F(ResolverTest, EveryKindOfReferenceInPrecedenceOrder) {
  const std::vector<Case> cases = {
      // 1. files, installed or not
      {imported_.string(), TargetKind::kInstalled, "tiny-llama-q8_0"},
      {"file://" + imported_.string(), TargetKind::kInstalled, "tiny-llama-q8_0"},
      {preset_file_.string(), TargetKind::kLocalFile, "demo.gguf"},
      // 2. installed models by id, name, entry id, catalog id
      {"file://" + imported_.string(), TargetKind::kInstalled, "tiny-llama-q8_0"},
      {"Tiny Llama", TargetKind::kInstalled, "tiny-llama-q8_0"},
      {"TINY-LLAMA-Q8_0", TargetKind::kInstalled, "tiny-llama-q8_0"},
      {"qwen2.5-coder-3b-q4", TargetKind::kInstalled, "qwen2.5-coder-3b-q4"},
      // 3. presets and catalog entries, by id or alias
      {"demo", TargetKind::kInstalled, "demo"},
      {"faraway", TargetKind::kCatalog, "faraway"},
      {"qwen2.5-coder-7b-q5", TargetKind::kCatalog, "qwen2.5-coder-7b-q5"},
      {"Qwen2.5-Coder-7B-Q5", TargetKind::kCatalog, "qwen2.5-coder-7b-q5"},
      {"qwen2.5-coder:3b", TargetKind::kInstalled, "qwen2.5-coder-3b-q4"},
      // 5. remote sources (a catalog entry with that source lends its facts)
      {"hf://org/repo:Q4_K_M", TargetKind::kRemote, "hf://org/repo:Q4_K_M"},
      {"org/repo:Q8_0", TargetKind::kRemote, "org/repo:Q8_0"},
      {"hf.co/org/repo", TargetKind::kRemote, "hf.co/org/repo"},
      {"ollama://library/gemma3:4b", TargetKind::kRemote, "gemma3-4b-q4"},
      {"somebody/model:tag", TargetKind::kRemote, "somebody/model:tag"},
      {"llama9:70b", TargetKind::kRemote, "llama9:70b"},
      {"https://example.com/x.gguf", TargetKind::kRemote, "https://example.com/x.gguf"},
      {"Qwen/Qwen2.5-Coder-7B-Instruct-GGUF:Q5_K_M", TargetKind::kRemote, "qwen2.5-coder-7b-q5"},
      // installed under its canonical spelling
      {"hf://Qwen/Qwen2.5-Coder-3B-Instruct-GGUF/qwen2.5-coder-3b-instruct-q4_k_m.gguf",
       TargetKind::kInstalled, "qwen2.5-coder-3b-q4"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    Result<Resolution> r = Resolve(c.text);
    ASSERT_OK(r.status());
    EXPECT_EQ(r->kind, c.kind) << TargetKindName(r->kind);
    EXPECT_EQ(r->DisplayId(), c.id);
  }
}

TEST_F(ResolverTest, WhatEachAnswerCarries) {
  Resolution preset = *Resolve("demo");
  EXPECT_EQ(preset.file, preset_file_);
  EXPECT_FALSE(preset.record);
  EXPECT_FALSE(preset.source);  // a preset names no source

  Resolution pulled = *Resolve("qwen2.5-coder-3b-q4");
  ASSERT_TRUE(pulled.record);
  EXPECT_EQ(pulled.file, pulled_);
  ASSERT_TRUE(pulled.source);  // pulled again from where it came from
  EXPECT_EQ(pulled.source->Canonical(), pulled.record->id);
  EXPECT_TRUE(pulled.sha256.empty());  // an update is not held to the catalog's file

  Resolution catalog = *Resolve("qwen2.5-coder-7b-q5");
  EXPECT_TRUE(catalog.file.empty());
  ASSERT_TRUE(catalog.source);
  EXPECT_EQ(catalog.source->kind, fetch::RefKind::kHuggingFace);

  Resolution remote = *Resolve("Qwen/Qwen2.5-Coder-7B-Instruct-GGUF:Q5_K_M");
  ASSERT_TRUE(remote.view);  // the catalog's facts
  ASSERT_TRUE(remote.source);
  EXPECT_EQ(remote.source->quant, "Q5_K_M");  // but pulled as written
  EXPECT_TRUE(remote.sha256.empty());

  Resolution imported = *Resolve("tiny-llama-q8_0");
  EXPECT_FALSE(imported.source);  // found in place: nothing to pull
}

TEST_F(ResolverTest, ACatalogIdNotInstalledBringsItsSourceAndDigest) {
  Snapshot bare;
  bare.models = *ModelIndex::Build(DefaultCatalog(), {}, "config.toml", {});
  Resolution r = *app::Resolve(bare, "qwen2.5-coder-3b-q4");
  EXPECT_EQ(r.kind, TargetKind::kCatalog);
  ASSERT_TRUE(r.source);
  EXPECT_EQ(r.source->repo, "Qwen/Qwen2.5-Coder-3B-Instruct-GGUF");
  EXPECT_EQ(r.sha256.size(), 64u);
  // Its alias too; a NAME:TAG nobody has is a guess at the registry.
  EXPECT_EQ(app::Resolve(bare, "qwen2.5-coder:3b")->sha256, r.sha256);
  Resolution guess = *app::Resolve(bare, "qwen9:1b");
  EXPECT_EQ(guess.kind, TargetKind::kRemote);
  EXPECT_TRUE(guess.guessed_remote);
  EXPECT_FALSE(app::Resolve(bare, "ollama://qwen9:1b")->guessed_remote);
}

TEST_F(ResolverTest, NamesAreNotFilesUnlessSpelledAsPaths) {
  // A file in the working directory named like a model does not shadow it.
  const fs::path cwd = fs::current_path();
  fs::current_path(home_.path());
  app_test::WriteTinyGguf(home_.path() / "faraway", "llama", 64);
  fs::create_directories(home_.path() / "org/repo");
  Result<Resolution> word = Resolve("faraway");
  Result<Resolution> repo = Resolve("org/repo");
  Result<Resolution> spelled = Resolve("./faraway");
  fs::current_path(cwd);
  ASSERT_OK(word.status());
  EXPECT_EQ(word->kind, TargetKind::kCatalog);
  ASSERT_OK(repo.status());
  EXPECT_EQ(repo->kind, TargetKind::kRemote);  // a folder named like a repository
  ASSERT_OK(spelled.status());
  EXPECT_EQ(spelled->kind, TargetKind::kLocalFile);
}

TEST_F(ResolverTest, MissingPathsAreNotFoundNotRemote) {
  for (std::string text :
       {"/nowhere/model.gguf", "./model.gguf", "../up/model.gguf", "~/models/x.gguf", "model.gguf",
        "file:///nowhere/x.gguf", "a/b/c/d.bin"}) {
    SCOPED_TRACE(text);
    Result<Resolution> r = Resolve(text);
    EXPECT_THAT(r, StatusIs(StatusCode::kNotFound));
    EXPECT_THAT(r, StatusHasMessage(HasSubstr("does not exist")));
  }
}

TEST_F(ResolverTest, HostileAndOddReferences) {
  EXPECT_THAT(Resolve(""), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(Resolve(std::string("demo\0../x", 9)), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(Resolve("demo\nrm -rf"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(Resolve(std::string(kMaxRefLength + 1, 'a')), StatusIs(StatusCode::kInvalidArgument));
  // A long name within the limit is just unknown.
  EXPECT_THAT(Resolve(std::string(kMaxRefLength, 'a')), StatusIs(StatusCode::kNotFound));
  // Directories are no models.
  EXPECT_THAT(Resolve(".."), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(Resolve("."), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(Resolve(home_.path().string()), StatusIs(StatusCode::kInvalidArgument));
  // Traversal inside a repository path is refused by the reference parser.
  EXPECT_THAT(Resolve("hf://org/repo/../../etc/passwd"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(Resolve("ftp://example.com/x.gguf"), StatusIs(StatusCode::kInvalidArgument));
  // A store id of a model that is gone.
  EXPECT_THAT(Resolve("blob://sha256-" + std::string(64, 'a')), StatusIs(StatusCode::kNotFound));
  // Unicode names are names: unknown here, with a suggestion.
  Result<Resolution> unicode = Resolve("模型-7b");
  EXPECT_THAT(unicode, StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(unicode, StatusHasMessage(HasSubstr("hangar list")));
  Result<Resolution> typo = Resolve("qwen2.5-coder-7b-q6");
  EXPECT_THAT(typo, StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(typo, StatusHasMessage(HasSubstr("qwen2.5-coder-7b-q")));
}

TEST_F(ResolverTest, RemoteCallersCannotNameLocalFiles) {
  ResolveOptions remote;
  remote.allow_paths = false;
  for (std::string text : std::vector<std::string>{imported_.string(), "file:///etc/passwd",
                                                   "/etc/passwd", "../../etc/passwd", "x.gguf"}) {
    SCOPED_TRACE(text);
    EXPECT_THAT(Resolve(text, remote), StatusIs(StatusCode::kInvalidArgument));
  }
  // Names still work.
  EXPECT_EQ(Resolve("tiny-llama-q8_0", remote)->kind, TargetKind::kInstalled);
  EXPECT_EQ(Resolve("hf://org/repo:Q4_K_M", remote)->kind, TargetKind::kRemote);
}

TEST_F(ResolverTest, AnInstalledNameShadowsTheRegistry) {
  // "qwen2.5-coder:3b" is an Ollama name too; the installed catalog model wins.
  Resolution r = *Resolve("qwen2.5-coder:3b");
  EXPECT_EQ(r.kind, TargetKind::kInstalled);
  ASSERT_TRUE(r.record);
  EXPECT_EQ(r.record->catalog_id, "qwen2.5-coder-3b-q4");
}

}  // namespace
}  // namespace hangar::app
