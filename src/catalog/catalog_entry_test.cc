#include "catalog/catalog_entry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/status_matchers.h"

namespace hangar {
namespace {

using ::testing::HasSubstr;

ModelArchitecture LlamaLike() {
  ModelArchitecture a;
  a.name = "llama";
  a.block_count = 32;
  a.embedding_length = 4096;
  a.feed_forward_length = 14336;
  a.head_count = 32;
  a.head_count_kv = 8;
  a.key_length = 128;
  a.value_length = 128;
  a.vocab_size = 128256;
  return a;
}

CatalogEntry SampleEntry() {
  CatalogEntry e;
  e.id = "sample-7b-q4";
  e.name = "Sample 7B (Q4_K_M)";
  e.family = "sample";
  e.parameter_count = 7.25e9;
  e.parameter_label = "7B";
  e.quantization = "Q4_K_M";
  e.context_length = 32768;
  e.file_size_bytes = 4'370'000'000;
  e.purpose = Purpose::kBalanced;
  e.quality_tier = 3;
  e.tags = {"chat", "tools"};
  e.description = "a sample";
  e.use_case = "tests";
  ModelSource hf;
  hf.repo = "org/Sample-7B-GGUF";
  hf.file = "Sample-7B-Q4_K_M.gguf";
  hf.sha256 = std::string(64, 'a');
  ModelSource ollama;
  ollama.kind = SourceKind::kOllama;
  ollama.repo = "sample:7b";
  e.sources = {hf, ollama};
  e.aliases = {"sample"};
  e.arch = LlamaLike();
  return e;
}

TEST(EnumNamesTest, FormatRoundTrips) {
  for (ModelFormat f : {ModelFormat::kGguf, ModelFormat::kOnnx, ModelFormat::kSafetensors}) {
    Result<ModelFormat> parsed = ParseModelFormat(ModelFormatName(f));
    ASSERT_OK(parsed);
    EXPECT_EQ(*parsed, f);
  }
}

TEST(EnumNamesTest, PurposeRoundTrips) {
  for (Purpose p :
       {Purpose::kSpeed, Purpose::kBalanced, Purpose::kQuality, Purpose::kSpecialized}) {
    Result<Purpose> parsed = ParsePurpose(PurposeName(p));
    ASSERT_OK(parsed);
    EXPECT_EQ(*parsed, p);
  }
}

TEST(EnumNamesTest, SourceKindRoundTrips) {
  for (SourceKind k : {SourceKind::kHuggingFace, SourceKind::kOllama, SourceKind::kUrl}) {
    Result<SourceKind> parsed = ParseSourceKind(SourceKindName(k));
    ASSERT_OK(parsed);
    EXPECT_EQ(*parsed, k);
  }
}

TEST(EnumNamesTest, ParsingIgnoresCase) {
  struct Case {
    std::string text;
    Purpose want;
  };
  for (const Case& c : std::vector<Case>{{"SPEED", Purpose::kSpeed},
                                         {"Balanced", Purpose::kBalanced},
                                         {"quality", Purpose::kQuality},
                                         {"Specialized", Purpose::kSpecialized}}) {
    Result<Purpose> parsed = ParsePurpose(c.text);
    ASSERT_OK(parsed);
    EXPECT_EQ(*parsed, c.want) << c.text;
  }
  Result<ModelFormat> gguf = ParseModelFormat("GGUF");
  ASSERT_OK(gguf);
  EXPECT_EQ(*gguf, ModelFormat::kGguf);
  Result<SourceKind> hf = ParseSourceKind("hf");
  ASSERT_OK(hf);
  EXPECT_EQ(*hf, SourceKind::kHuggingFace);
}

TEST(EnumNamesTest, UnknownNamesAreInvalidAndListChoices) {
  EXPECT_THAT(ParsePurpose("fastest"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ParsePurpose("fastest"), StatusHasMessage(HasSubstr("speed, balanced")));
  EXPECT_THAT(ParseModelFormat("pickle"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseModelFormat("pickle"), StatusHasMessage(HasSubstr("pickle")));
  EXPECT_THAT(ParseSourceKind(""), StatusIs(StatusCode::kInvalidArgument));
}

TEST(ModelSourceTest, Reference) {
  ModelSource hf;
  hf.repo = "Qwen/Qwen3-8B-GGUF";
  hf.file = "Qwen3-8B-Q4_K_M.gguf";
  EXPECT_EQ(hf.Reference(), "hf://Qwen/Qwen3-8B-GGUF/Qwen3-8B-Q4_K_M.gguf");
  hf.file.clear();
  EXPECT_EQ(hf.Reference(), "hf://Qwen/Qwen3-8B-GGUF");
  ModelSource ollama;
  ollama.kind = SourceKind::kOllama;
  ollama.repo = "qwen3:8b";
  EXPECT_EQ(ollama.Reference(), "ollama://qwen3:8b");
  ModelSource url;
  url.kind = SourceKind::kUrl;
  url.repo = "https://example.com/m.gguf";
  EXPECT_EQ(url.Reference(), url.repo);
}

TEST(ModelArchitectureTest, SlidingWindowLayers) {
  ModelArchitecture a = LlamaLike();
  EXPECT_FALSE(a.IsSlidingWindowLayer(0)) << "no window, no sliding layers";

  a.sliding_window = 4096;
  a.sliding_window_pattern = 2;  // gemma2: even layers slide, odd layers are global
  EXPECT_TRUE(a.IsSlidingWindowLayer(0));
  EXPECT_FALSE(a.IsSlidingWindowLayer(1));
  EXPECT_TRUE(a.IsSlidingWindowLayer(2));

  a.sliding_window_pattern = 6;  // gemma3: five local layers, then one global
  for (uint32_t il = 0; il < 12; ++il) {
    EXPECT_EQ(a.IsSlidingWindowLayer(il), il % 6 != 5) << "layer " << il;
  }

  a.sliding_window_pattern = 0;  // every layer slides
  EXPECT_TRUE(a.IsSlidingWindowLayer(5));
}

TEST(ApproxKvCacheBytesTest, DenseModel) {
  ModelArchitecture a = LlamaLike();
  // layers x KV heads x (K + V per head) x f16 x tokens
  EXPECT_EQ(ApproxKvCacheBytes(a, 8192), uint64_t{32} * 8 * (128 + 128) * 2 * 8192);
  EXPECT_EQ(ApproxKvCacheBytes(a, 0), 0u);
}

TEST(ApproxKvCacheBytesTest, HeadDimensionDefaultsToEmbeddingOverHeads) {
  ModelArchitecture a = LlamaLike();
  a.key_length = 0;
  a.value_length = 0;
  EXPECT_EQ(ApproxKvCacheBytes(a, 100), ApproxKvCacheBytes(LlamaLike(), 100));
}

TEST(ApproxKvCacheBytesTest, SlidingWindowLayersHoldOnlyTheWindow) {
  ModelArchitecture a = LlamaLike();
  a.block_count = 12;
  a.sliding_window = 1024;
  a.sliding_window_pattern = 6;
  const uint64_t per_cell = uint64_t{8} * (128 + 128) * 2;
  const uint64_t window_cells = 1024 + kSlidingWindowBatchTokens;
  EXPECT_EQ(ApproxKvCacheBytes(a, 32768), (10 * window_cells + 2 * 32768) * per_cell);
  // A context shorter than the window: every layer holds the whole context.
  EXPECT_EQ(ApproxKvCacheBytes(a, 512), uint64_t{12} * 512 * per_cell);
}

TEST(ApproxKvCacheBytesTest, MlaKeepsOneLatentPerToken) {
  ModelArchitecture a = LlamaLike();
  a.block_count = 27;
  a.kv_lora_rank = 512;
  a.rope_dimension_count = 64;
  EXPECT_EQ(ApproxKvCacheBytes(a, 4096), uint64_t{27} * (512 + 64) * 2 * 4096);
}

TEST(ApproxKvCacheBytesTest, UnknownArchitectureIsZero) {
  EXPECT_EQ(ApproxKvCacheBytes(ModelArchitecture{}, 4096), 0u);
}

TEST(FillDerivedFieldsTest, DerivesMemoryFromSizeAndArchitecture) {
  CatalogEntry e = SampleEntry();
  FillDerivedFields(e);
  EXPECT_EQ(e.min_ram_bytes, e.file_size_bytes + ApproxKvCacheBytes(e.arch, kMinRamContextTokens) +
                                 kRuntimeOverheadBytes);
  EXPECT_EQ(
      e.min_vram_bytes,
      e.file_size_bytes + ApproxKvCacheBytes(e.arch, kMinVramContextTokens) + kComputeBufferBytes);
}

TEST(FillDerivedFieldsTest, ShortContextCapsTheCache) {
  CatalogEntry e = SampleEntry();
  e.context_length = 2048;
  FillDerivedFields(e);
  EXPECT_EQ(e.min_ram_bytes,
            e.file_size_bytes + ApproxKvCacheBytes(e.arch, 2048) + kRuntimeOverheadBytes);
}

TEST(FillDerivedFieldsTest, KeepsExplicitValues) {
  CatalogEntry e = SampleEntry();
  e.min_ram_bytes = 10'000'000'000;
  e.min_vram_bytes = 6'000'000'000;
  FillDerivedFields(e);
  EXPECT_EQ(e.min_ram_bytes, 10'000'000'000u);
  EXPECT_EQ(e.min_vram_bytes, 6'000'000'000u);
}

TEST(FillDerivedFieldsTest, RecommendedFlagAndTagAgree) {
  CatalogEntry flagged = SampleEntry();
  flagged.recommended = true;
  FillDerivedFields(flagged);
  EXPECT_TRUE(flagged.HasTag("recommended"));

  CatalogEntry tagged = SampleEntry();
  tagged.tags.push_back("Recommended");
  FillDerivedFields(tagged);
  EXPECT_TRUE(tagged.recommended);
  EXPECT_EQ(std::count(tagged.tags.begin(), tagged.tags.end(), "recommended"), 1);
}

TEST(CatalogEntryTest, HasTagIgnoresCaseAndFirstSourceFindsKind) {
  CatalogEntry e = SampleEntry();
  EXPECT_TRUE(e.HasTag("CHAT"));
  EXPECT_FALSE(e.HasTag("vision"));
  ASSERT_NE(e.FirstSource(SourceKind::kOllama), nullptr);
  EXPECT_EQ(e.FirstSource(SourceKind::kOllama)->repo, "sample:7b");
  EXPECT_EQ(e.FirstSource(SourceKind::kUrl), nullptr);
}

TEST(CatalogEntryJsonTest, WritesEveryField) {
  nlohmann::json j = ToJson(SampleEntry());
  for (const char* key : {"id",
                          "name",
                          "family",
                          "parameter_count",
                          "parameter_label",
                          "active_parameter_count",
                          "quantization",
                          "format",
                          "context_length",
                          "file_size_bytes",
                          "size_approximate",
                          "min_ram_bytes",
                          "min_vram_bytes",
                          "purpose",
                          "quality_tier",
                          "tags",
                          "recommended",
                          "description",
                          "use_case",
                          "sources",
                          "aliases",
                          "architecture",
                          "builtin"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["format"], "gguf");
  EXPECT_EQ(j["purpose"], "balanced");
  EXPECT_TRUE(j["parameter_count"].is_number());
  ASSERT_EQ(j["sources"].size(), 2u);
  EXPECT_EQ(j["sources"][0]["kind"], "huggingface");
  EXPECT_EQ(j["sources"][0]["reference"], "hf://org/Sample-7B-GGUF/Sample-7B-Q4_K_M.gguf");
  EXPECT_EQ(j["sources"][1]["kind"], "ollama");
  for (const char* key : {"name", "block_count", "head_count_kv", "key_length", "sliding_window",
                          "sliding_window_pattern", "expert_count", "expert_used_count",
                          "expert_feed_forward_length", "kv_lora_rank", "rope_dimension_count"}) {
    EXPECT_TRUE(j["architecture"].contains(key)) << key;
  }
}

TEST(CatalogEntryJsonTest, RoundTrips) {
  CatalogEntry e = SampleEntry();
  e.active_parameter_count = 1.5e9;
  e.arch.expert_count = 8;
  e.arch.expert_used_count = 2;
  e.arch.sliding_window = 4096;
  e.arch.sliding_window_pattern = 2;
  e.format = ModelFormat::kOnnx;
  e.purpose = Purpose::kSpecialized;
  FillDerivedFields(e);
  Result<CatalogEntry> back = CatalogEntryFromJson(ToJson(e));
  ASSERT_OK(back);
  EXPECT_EQ(*back, e);
  // Through text, too.
  Result<CatalogEntry> reparsed = CatalogEntryFromJson(nlohmann::json::parse(ToJson(e).dump()));
  ASSERT_OK(reparsed);
  EXPECT_EQ(*reparsed, e);
}

TEST(CatalogEntryJsonTest, MissingFieldsKeepDefaults) {
  Result<CatalogEntry> e = CatalogEntryFromJson(nlohmann::json{{"id", "bare"}});
  ASSERT_OK(e);
  EXPECT_EQ(e->id, "bare");
  EXPECT_EQ(e->format, ModelFormat::kGguf);
  EXPECT_TRUE(e->sources.empty());
  EXPECT_EQ(e->arch.block_count, 0u);
}

TEST(CatalogEntryJsonTest, RejectsBadInput) {
  struct Case {
    nlohmann::json json;
    std::string message_part;
  };
  const std::vector<Case> cases = {
      {nlohmann::json::array(), "JSON object"},
      {nlohmann::json{{"name", "no id"}}, "id"},
      {nlohmann::json{{"id", 7}}, "\"id\""},
      {nlohmann::json{{"id", "x"}, {"context_length", "big"}}, "context_length"},
      {nlohmann::json{{"id", "x"}, {"file_size_bytes", -1}}, "file_size_bytes"},
      {nlohmann::json{{"id", "x"}, {"context_length", 1ULL << 40}}, "context_length"},
      {nlohmann::json{{"id", "x"}, {"purpose", "fastest"}}, "purpose"},
      {nlohmann::json{{"id", "x"}, {"format", "pickle"}}, "format"},
      {nlohmann::json{{"id", "x"}, {"tags", nlohmann::json::array({1, 2})}}, "tags"},
      {nlohmann::json{{"id", "x"}, {"recommended", "yes"}}, "recommended"},
      {nlohmann::json{{"id", "x"}, {"sources", "hf"}}, "sources"},
      {nlohmann::json{{"id", "x"},
                      {"sources", nlohmann::json::array({nlohmann::json{{"kind", "ftp"}}})}},
       "kind"},
      {nlohmann::json{{"id", "x"}, {"architecture", {{"block_count", "many"}}}}, "block_count"},
  };
  for (const Case& c : cases) {
    Result<CatalogEntry> e = CatalogEntryFromJson(c.json);
    EXPECT_THAT(e, StatusIs(StatusCode::kInvalidArgument)) << c.json.dump();
    EXPECT_THAT(e, StatusHasMessage(HasSubstr(c.message_part))) << c.json.dump();
  }
}

}  // namespace
}  // namespace hangar
