#include "app/models.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "app/test_util.h"
#include "core/sha256.h"
#include "core/status_matchers.h"

namespace hangar::app {
namespace {

using ::testing::HasSubstr;

ModelPreset GemmaCliPreset(const std::string& weights) {
  ModelPreset p;
  p.name = "gemma2-2b-local";
  p.weights = weights;
  p.format = "gguf";
  p.size_gb = 0.001;  // 1 MB
  p.avg_tokens_per_sec = 45;
  p.quality = "medium";
  p.use_case = "Fast iteration";
  p.context_length = 8192;
  p.min_ram_gb = 4;
  return p;
}

TEST(EntryFromPresetTest, NewEntryFromGemmaCliKeys) {
  ModelPreset p = GemmaCliPreset("/models/x.gguf");
  CatalogEntry e = *EntryFromPreset(p, nullptr, "config.toml");
  EXPECT_EQ(e.id, "gemma2-2b-local");
  EXPECT_EQ(e.format, ModelFormat::kGguf);
  EXPECT_EQ(e.file_size_bytes, 1'000'000u);
  EXPECT_TRUE(e.size_approximate);
  EXPECT_EQ(e.quality_tier, 3);
  EXPECT_EQ(e.context_length, 8192u);
  EXPECT_EQ(e.min_ram_bytes, 4'000'000'000u);
  EXPECT_EQ(e.use_case, "Fast iteration");
  EXPECT_FALSE(e.builtin);
}

TEST(EntryFromPresetTest, FactsComeFromTheGgufHeader) {
  app_test::TempHome home;
  auto weights = home.path() / "local.gguf";
  app_test::WriteTinyGguf(weights, "qwen3", 8192);
  ModelPreset p;
  p.name = "local";
  p.weights = weights.string();
  CatalogEntry e = *EntryFromPreset(p, nullptr, "config.toml");
  EXPECT_EQ(e.arch.name, "qwen3");
  EXPECT_EQ(e.family, "qwen3");
  EXPECT_EQ(e.file_size_bytes, 8192u);
  EXPECT_FALSE(e.size_approximate);
  // What the preset says wins over the header.
  p.size_gb = 1.0;
  p.family = "mine";
  CatalogEntry e2 = *EntryFromPreset(p, nullptr, "config.toml");
  EXPECT_EQ(e2.file_size_bytes, 1'000'000'000u);
  EXPECT_EQ(e2.family, "mine");
}

TEST(EntryFromPresetTest, GemmaCppFormatIsAWeightEncoding) {
  ModelPreset p;
  p.name = "gemma-sbs";
  p.weights = "/m/2b-it.sbs";
  p.format = "sfp";
  CatalogEntry e = *EntryFromPreset(p, nullptr, "config.toml");
  EXPECT_EQ(e.quantization, "sfp");
}

TEST(EntryFromPresetTest, OverrideKeepsUnsetFields) {
  const CatalogEntry* base = DefaultCatalog().FindById("qwen2.5-coder-7b-q5");
  ASSERT_NE(base, nullptr);
  ModelPreset p;
  p.name = base->id;
  p.context_length = 4096;
  p.tags = std::vector<std::string>{"mine"};
  CatalogEntry e = *EntryFromPreset(p, base, "config.toml");
  EXPECT_EQ(e.context_length, 4096u);
  EXPECT_EQ(e.tags, std::vector<std::string>{"mine"});
  EXPECT_EQ(e.quantization, base->quantization);
  EXPECT_EQ(e.sources, base->sources);
  EXPECT_EQ(e.arch, base->arch);
}

TEST(EntryFromPresetTest, BadValuesNameTheKey) {
  ModelPreset p;
  p.name = "x";
  p.quality = "superb";
  EXPECT_THAT(EntryFromPreset(p, nullptr, "config.toml"),
              StatusHasMessage(HasSubstr("config.toml: model_presets.x.quality")));
  p.quality.reset();
  p.purpose = "fastest";
  EXPECT_THAT(EntryFromPreset(p, nullptr, "config.toml"), StatusIs(StatusCode::kInvalidArgument));
}

TEST(ModelIndexTest, PresetsExtendAndOverride) {
  app_test::TempHome home;
  auto weights = home.path() / "m.gguf";
  app_test::WriteTinyGguf(weights, "llama");
  ModelPreset extra = GemmaCliPreset(weights.string());
  ModelPreset over;
  over.name = "qwen3-8b-q4";
  over.description = "my description";
  size_t builtin = DefaultCatalog().size();
  ModelIndex index = *ModelIndex::Build(DefaultCatalog(), {extra, over}, "config.toml");
  EXPECT_EQ(index.catalog().size(), builtin + 1);
  const CatalogEntry* e = index.catalog().FindById("gemma2-2b-local");
  ASSERT_NE(e, nullptr);
  ModelView v = index.View(*e, std::string("GEMMA2-2B-LOCAL"));
  EXPECT_TRUE(v.installed);
  EXPECT_TRUE(v.is_default);
  EXPECT_EQ(v.origin, ModelOrigin::kPreset);
  const CatalogEntry* q = index.catalog().FindById("qwen3-8b-q4");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->description, "my description");
  ModelView qv = index.View(*q, std::nullopt);
  EXPECT_EQ(qv.origin, ModelOrigin::kOverride);
  EXPECT_FALSE(qv.installed);
}

class ValidateTest : public ::testing::Test {
 protected:
  ModelView ViewOf(const std::filesystem::path& weights, uint64_t declared,
                   const std::string& sha = "") {
    ModelView v;
    v.entry.id = "m";
    v.entry.format = ModelFormat::kGguf;
    v.entry.file_size_bytes = declared;
    if (!sha.empty()) {
      ModelSource s;
      s.sha256 = sha;
      v.entry.sources.push_back(s);
    }
    v.weights = weights;
    return v;
  }
  const ValidationCheck* Check(const ValidationReport& r, const std::string& name) {
    for (const auto& c : r.checks) {
      if (c.name == name) return &c;
    }
    return nullptr;
  }
  app_test::TempHome home_;
};

TEST_F(ValidateTest, GoodFilePassesEveryCheck) {
  auto f = home_.path() / "good.gguf";
  app_test::WriteTinyGguf(f, "qwen3", 100'000);
  std::string sha = *Sha256File(f);
  ValidationReport r = *ValidateModel(ViewOf(f, 95'000, sha));
  EXPECT_TRUE(r.ok());
  EXPECT_THAT(Check(r, "gguf header")->detail, HasSubstr("qwen3"));
  EXPECT_FALSE(Check(r, "sha256")->skipped);
}

TEST_F(ValidateTest, SizeMoreThanTenPercentOffFails) {
  auto f = home_.path() / "small.gguf";
  app_test::WriteTinyGguf(f, "llama", 100'000);
  EXPECT_TRUE(Check(*ValidateModel(ViewOf(f, 109'000)), "size")->ok);
  ValidationReport r = *ValidateModel(ViewOf(f, 112'000));
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(Check(r, "size")->ok);
  EXPECT_THAT(Check(r, "size")->detail, HasSubstr("more than 10% off"));
}

TEST_F(ValidateTest, MissingFileFails) {
  ValidationReport r = *ValidateModel(ViewOf(home_.path() / "nope.gguf", 1000));
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(Check(r, "exists")->ok);
  EXPECT_THAT(Check(r, "exists")->detail, HasSubstr("nope.gguf"));
}

TEST_F(ValidateTest, CorruptHeaderFails) {
  auto f = home_.path() / "bad.gguf";
  std::ofstream(f, std::ios::binary) << "GGUF\x03\0\0\0garbage";
  ValidationReport r = *ValidateModel(ViewOf(f, 0));
  EXPECT_FALSE(Check(r, "gguf header")->ok);
  EXPECT_FALSE(r.ok());
}

TEST_F(ValidateTest, WrongDigestFails) {
  auto f = home_.path() / "x.gguf";
  app_test::WriteTinyGguf(f, "llama");
  ValidationReport r = *ValidateModel(ViewOf(f, 0, std::string(64, 'a')));
  EXPECT_FALSE(Check(r, "sha256")->ok);
  EXPECT_THAT(Check(r, "sha256")->detail, HasSubstr("expected aaaa"));
}

TEST_F(ValidateTest, NoLocalFilesIsFailedPrecondition) {
  ModelView v;
  v.entry.id = "qwen3-8b-q4";
  EXPECT_THAT(ValidateModel(v), StatusIs(StatusCode::kFailedPrecondition));
}

}  // namespace
}  // namespace hangar::app
