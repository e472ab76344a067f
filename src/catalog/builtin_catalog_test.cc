#include "catalog/builtin_catalog.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "core/status_matchers.h"

namespace hangar {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

const CatalogEntry* Builtin(const std::string& id) {
  for (const CatalogEntry& e : BuiltinCatalog()) {
    if (e.id == id) return &e;
  }
  return nullptr;
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string BaseName(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

TEST(BuiltinCatalogTest, HasAtLeastFortyEntries) { EXPECT_GE(BuiltinCatalog().size(), 40u); }

TEST(BuiltinCatalogTest, IdsAreUniqueLowercaseAndSafe) {
  std::set<std::string> seen;
  for (const CatalogEntry& e : BuiltinCatalog()) {
    EXPECT_TRUE(seen.insert(Lower(e.id)).second) << "duplicate id " << e.id;
    EXPECT_EQ(e.id, Lower(e.id));
    for (char c : e.id) {
      EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_')
          << e.id;
    }
  }
}

TEST(BuiltinCatalogTest, ReturnsTheSameTableEveryTime) {
  EXPECT_EQ(BuiltinCatalog().data(), BuiltinCatalog().data());
  // A fresh build holds the same entries in the same order.
  std::vector<CatalogEntry> fresh = MakeBuiltinEntries();
  ASSERT_EQ(fresh.size(), BuiltinCatalog().size());
  for (size_t i = 0; i < fresh.size(); ++i) EXPECT_EQ(fresh[i], BuiltinCatalog()[i]);
}

// Every model the specifications name, with the facts that identify it.
TEST(BuiltinCatalogTest, ContainsEveryNamedModel) {
  struct Named {
    std::string id;
    std::string arch;
    std::string quantization;
    std::string label;
  };
  const std::vector<Named> named = {
      {"qwen2.5-coder-3b-q4", "qwen2", "Q4_K_M", "3B"},
      {"qwen2.5-coder-3b-q5", "qwen2", "Q5_K_M", "3B"},
      {"qwen2.5-coder-3b-q8", "qwen2", "Q8_0", "3B"},
      {"qwen2.5-coder-7b-q4", "qwen2", "Q4_K_M", "7B"},
      {"qwen2.5-coder-7b-q5", "qwen2", "Q5_K_M", "7B"},
      {"qwen2.5-coder-7b-q8", "qwen2", "Q8_0", "7B"},
      {"qwen2.5-coder-14b-q4", "qwen2", "Q4_K_M", "14B"},
      {"qwen2.5-coder-14b-q5", "qwen2", "Q5_K_M", "14B"},
      {"qwen2.5-coder-14b-q8", "qwen2", "Q8_0", "14B"},
      {"qwen3-0.6b-q8", "qwen3", "Q8_0", "0.6B"},
      {"qwen3-1.7b-q8", "qwen3", "Q8_0", "1.7B"},
      {"qwen3-4b-q4", "qwen3", "Q4_K_M", "4B"},
      {"qwen3-8b-q4", "qwen3", "Q4_K_M", "8B"},
      {"qwen3-14b-q4", "qwen3", "Q4_K_M", "14B"},
      {"qwen3-32b-q4", "qwen3", "Q4_K_M", "32B"},
      {"qwen3-30b-a3b-q4", "qwen3moe", "Q4_K_M", "30B-A3B"},
      {"qwen3-235b-a22b-q4", "qwen3moe", "Q4_K_M", "235B-A22B"},
      {"llama3.1-8b-q4", "llama", "Q4_K_M", "8B"},
      {"llama3.1-70b-q4", "llama", "Q4_K_M", "70B"},
      {"llama3.2-1b-q8", "llama", "Q8_0", "1B"},
      {"llama3.2-3b-q4", "llama", "Q4_K_M", "3B"},
      {"mixtral-8x7b-q4", "llama", "Q4_K_M", "8x7B"},
      {"gemma2-2b-q4", "gemma2", "Q4_K_M", "2B"},
      {"gemma2-9b-q4", "gemma2", "Q4_K_M", "9B"},
      {"gemma3-1b-q4", "gemma3", "Q4_K_M", "1B"},
      {"gemma3-4b-q4", "gemma3", "Q4_K_M", "4B"},
      {"gemma3-12b-q4", "gemma3", "Q4_K_M", "12B"},
      {"gemma3-27b-q4", "gemma3", "Q4_K_M", "27B"},
      {"phi3.5-mini-q4", "phi3", "Q4_K_M", "3.8B"},
      {"phi4-14b-q4", "phi3", "Q4_K_M", "14B"},
      {"mistral-7b-q4", "llama", "Q4_K_M", "7B"},
      {"mistral-nemo-12b-q4", "llama", "Q4_K_M", "12B"},
      {"deepseek-r1-qwen-1.5b-q4", "qwen2", "Q4_K_M", "1.5B"},
      {"deepseek-r1-qwen-7b-q4", "qwen2", "Q4_K_M", "7B"},
      {"deepseek-r1-qwen-14b-q4", "qwen2", "Q4_K_M", "14B"},
      {"deepseek-coder-v2-lite-q4", "deepseek2", "Q4_K_M", "16B-A2.4B"},
      {"nomic-embed-text-v1.5-f16", "nomic-bert", "F16", "137M"},
  };
  for (const Named& n : named) {
    const CatalogEntry* e = Builtin(n.id);
    ASSERT_NE(e, nullptr) << n.id << " is missing";
    EXPECT_EQ(e->arch.name, n.arch) << n.id;
    EXPECT_EQ(e->quantization, n.quantization) << n.id;
    EXPECT_EQ(e->parameter_label, n.label) << n.id;
  }
}

// specs/002 names these three entries with these exact files.
TEST(BuiltinCatalogTest, SpecRegistryEntriesKeepTheirFiles) {
  struct Spec {
    std::string id;
    std::string repo;
    std::string file;
  };
  for (const Spec& s : std::vector<Spec>{
           {"qwen2.5-coder-3b-q4", "Qwen/Qwen2.5-Coder-3B-Instruct-GGUF",
            "qwen2.5-coder-3b-instruct-q4_k_m.gguf"},
           {"qwen2.5-coder-7b-q5", "Qwen/Qwen2.5-Coder-7B-Instruct-GGUF",
            "qwen2.5-coder-7b-instruct-q5_k_m.gguf"},
           {"qwen2.5-coder-14b-q5", "Qwen/Qwen2.5-Coder-14B-Instruct-GGUF",
            "qwen2.5-coder-14b-instruct-q5_k_m.gguf"},
       }) {
    const CatalogEntry* e = Builtin(s.id);
    ASSERT_NE(e, nullptr) << s.id;
    const ModelSource* hf = e->FirstSource(SourceKind::kHuggingFace);
    ASSERT_NE(hf, nullptr) << s.id;
    EXPECT_EQ(hf->repo, s.repo);
    EXPECT_EQ(hf->file, s.file);
    EXPECT_TRUE(e->recommended) << s.id;
    EXPECT_TRUE(e->HasTag("coding")) << s.id;
  }
}

TEST(BuiltinCatalogTest, EveryEntryIsConsistent) {
  for (const CatalogEntry& e : BuiltinCatalog()) {
    SCOPED_TRACE(e.id);
    EXPECT_FALSE(e.name.empty());
    EXPECT_FALSE(e.family.empty());
    EXPECT_FALSE(e.description.empty());
    EXPECT_FALSE(e.use_case.empty());
    EXPECT_FALSE(e.quantization.empty());
    EXPECT_GT(e.parameter_count, 0);
    EXPECT_FALSE(e.parameter_label.empty());
    EXPECT_GE(e.quality_tier, 1);
    EXPECT_LE(e.quality_tier, 5);
    EXPECT_GT(e.context_length, 0u);
    EXPECT_GT(e.file_size_bytes, 0u);
    EXPECT_GT(e.min_ram_bytes, e.file_size_bytes);
    EXPECT_GT(e.min_vram_bytes, e.file_size_bytes);
    EXPECT_EQ(e.recommended, e.HasTag("recommended"));
    EXPECT_TRUE(e.builtin);

    const ModelArchitecture& a = e.arch;
    EXPECT_FALSE(a.name.empty());
    EXPECT_GT(a.block_count, 0u);
    EXPECT_GT(a.embedding_length, 0u);
    EXPECT_GT(a.feed_forward_length, 0u);
    EXPECT_GT(a.head_count, 0u);
    ASSERT_GT(a.head_count_kv, 0u);
    EXPECT_EQ(a.head_count % a.head_count_kv, 0u) << "heads divisible by KV heads";
    EXPECT_GT(a.key_length, 0u);
    EXPECT_GT(a.value_length, 0u);
    EXPECT_GT(a.vocab_size, 0u);

    ASSERT_FALSE(e.sources.empty());
    ASSERT_NE(e.FirstSource(SourceKind::kHuggingFace), nullptr);
    EXPECT_EQ(e.sources.front().kind, SourceKind::kHuggingFace) << "Hugging Face first";
    for (const ModelSource& s : e.sources) {
      SCOPED_TRACE(s.Reference());
      EXPECT_FALSE(s.repo.empty());
      EXPECT_GE(s.split_count, 1u);
      if (!s.sha256.empty()) {
        EXPECT_EQ(s.sha256.size(), 64u);
        EXPECT_TRUE(std::all_of(s.sha256.begin(), s.sha256.end(), [](char c) {
          return std::isdigit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'f');
        }));
        EXPECT_EQ(s.split_count, 1u) << "a digest names one file";
      }
      if (s.kind == SourceKind::kOllama) {
        EXPECT_NE(s.repo.find(':'), std::string::npos) << "Ollama sources carry a tag";
        continue;
      }
      ASSERT_EQ(s.kind, SourceKind::kHuggingFace);
      EXPECT_EQ(std::count(s.repo.begin(), s.repo.end(), '/'), 1) << "ORG/REPO";
      const std::string file = Lower(BaseName(s.file));
      switch (e.format) {
        case ModelFormat::kGguf:
          EXPECT_TRUE(EndsWith(file, ".gguf"));
          EXPECT_NE(file.find(Lower(e.quantization)), std::string::npos)
              << "the file name carries the quantization";
          break;
        case ModelFormat::kOnnx:
          EXPECT_TRUE(EndsWith(file, ".onnx"));
          break;
        case ModelFormat::kSafetensors:
          EXPECT_TRUE(EndsWith(file, ".safetensors"));
          break;
        case ModelFormat::kPytorch:
          ADD_FAILURE() << "the catalog offers no pickled weights";
          break;
      }
      char part[32];
      std::snprintf(part, sizeof part, "-00001-of-%05u.gguf", s.split_count);
      EXPECT_EQ(s.split_count > 1, EndsWith(file, part)) << "first part of a split set";
    }
  }
}

TEST(BuiltinCatalogTest, MixtureOfExpertsEntriesDescribeTheirExperts) {
  int moe = 0;
  for (const CatalogEntry& e : BuiltinCatalog()) {
    SCOPED_TRACE(e.id);
    EXPECT_EQ(e.HasTag("moe"), e.arch.IsMoe());
    EXPECT_EQ(e.active_parameter_count > 0, e.arch.IsMoe());
    if (!e.arch.IsMoe()) continue;
    ++moe;
    EXPECT_GT(e.arch.expert_used_count, 0u);
    EXPECT_LT(e.arch.expert_used_count, e.arch.expert_count);
    EXPECT_GT(e.arch.expert_feed_forward_length, 0u);
    EXPECT_LT(e.active_parameter_count, e.parameter_count);
  }
  EXPECT_GE(moe, 4) << "Qwen3 30B-A3B and 235B-A22B, Mixtral, DeepSeek-Coder-V2-Lite";
}

TEST(BuiltinCatalogTest, GemmaEntriesHaveSlidingWindows) {
  for (const CatalogEntry& e : BuiltinCatalog()) {
    SCOPED_TRACE(e.id);
    if (e.arch.name == "gemma2") {
      EXPECT_EQ(e.arch.sliding_window, 4096u);
      EXPECT_EQ(e.arch.sliding_window_pattern, 2u);
    } else if (e.arch.name == "gemma3") {
      EXPECT_EQ(e.arch.sliding_window, e.parameter_label == "1B" ? 512u : 1024u);
      EXPECT_EQ(e.arch.sliding_window_pattern, 6u);
    }
  }
}

TEST(BuiltinCatalogTest, DeepSeekV2UsesLatentAttention) {
  const CatalogEntry* e = Builtin("deepseek-coder-v2-lite-q4");
  ASSERT_NE(e, nullptr);
  EXPECT_TRUE(e->arch.UsesMla());
  EXPECT_GT(e->arch.rope_dimension_count, 0u);
  EXPECT_GT(e->arch.key_length, e->arch.value_length) << "K head carries the rope part";
  // The latent cache is far smaller than full per-head K and V would be.
  ModelArchitecture without_mla = e->arch;
  without_mla.kv_lora_rank = 0;
  EXPECT_LT(ApproxKvCacheBytes(e->arch, 16384), ApproxKvCacheBytes(without_mla, 16384));
}

TEST(BuiltinCatalogTest, CoversEveryFormatPurposeAndAnEmbeddingModel) {
  std::set<ModelFormat> formats;
  std::set<Purpose> purposes;
  bool embedding = false;
  for (const CatalogEntry& e : BuiltinCatalog()) {
    formats.insert(e.format);
    purposes.insert(e.purpose);
    embedding = embedding || e.HasTag("embedding");
  }
  EXPECT_EQ(formats.size(), 3u);
  EXPECT_EQ(purposes.size(), 4u);
  EXPECT_TRUE(embedding);
}

// Within one model, more bits per weight means a bigger file and more memory.
TEST(BuiltinCatalogTest, SizesGrowWithQuantizationBits) {
  const std::map<std::string, int> bits = {{"Q4_K_M", 4}, {"Q5_K_M", 5}, {"Q8_0", 8}};
  std::map<std::string, std::vector<const CatalogEntry*>> by_model;
  for (const CatalogEntry& e : BuiltinCatalog()) {
    if (e.format == ModelFormat::kGguf && bits.count(e.quantization) > 0) {
      by_model[e.family + "/" + e.parameter_label].push_back(&e);
    }
  }
  for (const auto& [model, entries] : by_model) {
    for (const CatalogEntry* a : entries) {
      for (const CatalogEntry* b : entries) {
        if (bits.at(a->quantization) < bits.at(b->quantization)) {
          EXPECT_LT(a->file_size_bytes, b->file_size_bytes) << a->id << " vs " << b->id;
          EXPECT_LT(a->min_ram_bytes, b->min_ram_bytes) << a->id << " vs " << b->id;
        }
      }
    }
  }
}

// specs/002's tiers: 3B Q4 < 7B Q5 < 14B Q5 < 14B Q8 in memory needed.
TEST(BuiltinCatalogTest, CoderTiersAreOrderedByMemory) {
  const std::vector<std::string> tiers = {"qwen2.5-coder-3b-q4", "qwen2.5-coder-7b-q5",
                                          "qwen2.5-coder-14b-q5", "qwen2.5-coder-14b-q8"};
  for (size_t i = 1; i < tiers.size(); ++i) {
    const CatalogEntry* smaller = Builtin(tiers[i - 1]);
    const CatalogEntry* larger = Builtin(tiers[i]);
    ASSERT_NE(smaller, nullptr);
    ASSERT_NE(larger, nullptr);
    EXPECT_LT(smaller->min_ram_bytes, larger->min_ram_bytes) << tiers[i];
  }
}

TEST(BuiltinCatalogTest, EveryEntryRoundTripsThroughJson) {
  for (const CatalogEntry& e : BuiltinCatalog()) {
    Result<CatalogEntry> back = CatalogEntryFromJson(ToJson(e));
    ASSERT_OK(back);
    EXPECT_EQ(*back, e) << e.id;
  }
}

}  // namespace
}  // namespace hangar
