#include "catalog/catalog.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "catalog/builtin_catalog.h"
#include "core/status_matchers.h"

namespace hangar {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::vector<std::string> Ids(const std::vector<const CatalogEntry*>& entries) {
  std::vector<std::string> ids;
  for (const CatalogEntry* e : entries) ids.push_back(e->id);
  return ids;
}

CatalogEntry UserEntry(std::string id) {
  CatalogEntry e;
  e.id = std::move(id);
  e.name = "User model";
  e.family = "user";
  e.quantization = "Q4_K_M";
  e.context_length = 8192;
  e.file_size_bytes = 3'000'000'000;
  ModelSource hf;
  hf.repo = "someone/User-Model-GGUF";
  hf.file = "user-model-q4_k_m.gguf";
  e.sources = {hf};
  e.arch.name = "llama";
  e.arch.block_count = 24;
  e.arch.embedding_length = 2048;
  e.arch.head_count = 16;
  e.arch.head_count_kv = 4;
  return e;
}

TEST(CatalogTest, DefaultCatalogHoldsTheBuiltins) {
  const Catalog& c = DefaultCatalog();
  std::vector<CatalogEntry> builtins = MakeBuiltinEntries();
  ASSERT_EQ(c.size(), builtins.size());
  for (size_t i = 0; i < c.size(); ++i) EXPECT_EQ(c.entries()[i], builtins[i]);
  EXPECT_EQ(&DefaultCatalog(), &c);
  EXPECT_EQ(BuiltinCatalog().data(), c.entries().data());
}

TEST(CatalogTest, FindsEveryEntryByItsIdAliasesAndSources) {
  const Catalog& c = DefaultCatalog();
  for (const CatalogEntry& e : c.entries()) {
    EXPECT_EQ(c.FindById(e.id), &e) << e.id;
    for (const ModelSource& s : e.sources) {
      if (s.kind == SourceKind::kHuggingFace) {
        EXPECT_EQ(c.FindById(s.repo + ":" + e.quantization), &e) << s.repo;
        EXPECT_EQ(c.FindById(s.repo + "/" + s.file), &e) << s.file;
        EXPECT_EQ(c.FindById(s.Reference()), &e) << s.Reference();
      } else {
        EXPECT_EQ(c.FindById(s.repo), &e) << s.repo;
        EXPECT_EQ(c.FindById(s.Reference()), &e) << s.Reference();
      }
    }
  }
}

TEST(CatalogTest, FindByIdAcceptsTheFormsPeopleType) {
  struct Case {
    std::string ref;
    std::string want;
  };
  const std::vector<Case> cases = {
      {"qwen2.5-coder-7b-q5", "qwen2.5-coder-7b-q5"},
      {"QWEN2.5-Coder-7B-Q5", "qwen2.5-coder-7b-q5"},
      {"  qwen3-8b-q4 ", "qwen3-8b-q4"},
      {"qwen2.5-coder:7b-instruct-q5_K_M", "qwen2.5-coder-7b-q5"},
      {"llama3.1:8b", "llama3.1-8b-q4"},
      {"llama3.1:8b-instruct", "llama3.1-8b-q4"},  // specs/003
      {"llama3.2:3b-instruct", "llama3.2-3b-q4"},  // specs/003
      {"qwen3:0.6b", "qwen3-0.6b-q8"},             // specs/001
      {"qwen3_medium", "qwen3-1.7b-q8"},           // specs/001 size names
      {"gemma2-2b-it", "gemma2-2b-q4"},            // specs/000 preset name
      {"ollama://llama3.1:8b", "llama3.1-8b-q4"},
      {"ollama://library/gemma3:4b", "gemma3-4b-q4"},
      {"ollama://registry.ollama.ai/library/gemma3:12b", "gemma3-12b-q4"},
      {"library/qwen3:14b", "qwen3-14b-q4"},
      {"gemma3", "gemma3-4b-q4"},
      {"ollama://qwen3", "qwen3-8b-q4"},
      {"Qwen/Qwen2.5-Coder-7B-Instruct-GGUF:Q5_K_M", "qwen2.5-coder-7b-q5"},
      {"qwen/qwen2.5-coder-7b-instruct-gguf:q8_0", "qwen2.5-coder-7b-q8"},
      {"hf://Qwen/Qwen2.5-Coder-14B-Instruct-GGUF:Q8_0", "qwen2.5-coder-14b-q8"},
      {"Qwen/Qwen2.5-Coder-7B-Instruct-GGUF", "qwen2.5-coder-7b-q4"},  // default Q4_K_M
      {"hf://bartowski/Meta-Llama-3.1-8B-Instruct-GGUF", "llama3.1-8b-q4"},
      {"Qwen/Qwen3-1.7B-GGUF", "qwen3-1.7b-q8"},  // no Q4_K_M: Q8_0
      {"bartowski/Meta-Llama-3.1-8B-Instruct-GGUF/Meta-Llama-3.1-8B-Instruct-Q8_0.gguf",
       "llama3.1-8b-q8"},
  };
  for (const Case& c : cases) {
    const CatalogEntry* e = FindById(c.ref);
    ASSERT_NE(e, nullptr) << c.ref;
    EXPECT_EQ(e->id, c.want) << c.ref;
  }
}

TEST(CatalogTest, FindByIdReturnsNullForUnknownNames) {
  for (const std::string ref :
       {"", "   ", "no-such-model", "qwen3:99b", "ollama://nope:1b", "ollama://qwen3-8b-q4x",
        "Qwen/Unknown-GGUF", "Qwen/Qwen3-8B-GGUF:IQ2_XXS", "hf://a/b/c:d", "/", ":"}) {
    EXPECT_EQ(FindById(ref), nullptr) << ref;
  }
}

TEST(CatalogTest, LookupSuggestsTheClosestId) {
  const Catalog& c = DefaultCatalog();
  Result<const CatalogEntry*> found = c.Lookup("gemma3:4b");
  ASSERT_OK(found);
  EXPECT_EQ((*found)->id, "gemma3-4b-q4");

  Result<const CatalogEntry*> prefix = c.Lookup("qwen3-8b");
  EXPECT_THAT(prefix, StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(prefix, StatusHasMessage(HasSubstr("did you mean \"qwen3-8b-q4\"")));
  EXPECT_THAT(prefix, StatusHasMessage(HasSubstr("hangar list --all")));

  Result<const CatalogEntry*> typo = c.Lookup("qwen2.5-coder-7b-q6");
  EXPECT_THAT(typo, StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(typo, StatusHasMessage(HasSubstr("did you mean \"qwen2.5-coder-7b-q")));

  Result<const CatalogEntry*> far = c.Lookup("zzzzzzzzzzzzzzzzzzzzzzzz");
  EXPECT_THAT(far, StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(far, StatusHasMessage(Not(HasSubstr("did you mean"))));
  EXPECT_THAT(far, StatusHasMessage(HasSubstr("zzzzzzzzzzzzzzzzzzzzzzzz")));
}

TEST(CatalogTest, FilterByPurpose) {
  for (Purpose p :
       {Purpose::kSpeed, Purpose::kBalanced, Purpose::kQuality, Purpose::kSpecialized}) {
    CatalogFilter f;
    f.purpose = p;
    std::vector<const CatalogEntry*> got = Filter(f);
    EXPECT_FALSE(got.empty()) << PurposeName(p);
    size_t want = 0;
    for (const CatalogEntry& e : BuiltinCatalog()) want += e.purpose == p ? 1 : 0;
    EXPECT_EQ(got.size(), want) << PurposeName(p);
    for (const CatalogEntry* e : got) EXPECT_EQ(e->purpose, p) << e->id;
  }
}

TEST(CatalogTest, FilterByTagIgnoresCase) {
  CatalogFilter f;
  f.tag = "CODING";
  std::vector<const CatalogEntry*> got = Filter(f);
  for (const CatalogEntry* e : got) EXPECT_TRUE(e->HasTag("coding")) << e->id;
  std::vector<std::string> ids = Ids(got);
  for (const char* id : {"qwen2.5-coder-3b-q4", "qwen2.5-coder-7b-q5", "qwen2.5-coder-14b-q8",
                         "deepseek-coder-v2-lite-q4"}) {
    EXPECT_THAT(ids, testing::Contains(id));
  }
  EXPECT_THAT(ids, Not(testing::Contains("gemma3-4b-q4")));
}

TEST(CatalogTest, FilterByMemoryKeepsWhatFits) {
  const uint64_t budget = 8 * kGiB;
  CatalogFilter ram;
  ram.max_ram_bytes = budget;
  std::vector<const CatalogEntry*> fits = Filter(ram);
  ASSERT_FALSE(fits.empty());
  for (const CatalogEntry& e : DefaultCatalog().entries()) {
    bool kept = std::find(fits.begin(), fits.end(), &e) != fits.end();
    EXPECT_EQ(kept, e.min_ram_bytes <= budget) << e.id;
  }
  EXPECT_THAT(Ids(fits), testing::Contains("qwen2.5-coder-3b-q4"));
  EXPECT_THAT(Ids(fits), Not(testing::Contains("llama3.1-70b-q4")));

  CatalogFilter vram;
  vram.max_vram_bytes = 6 * kGiB;
  for (const CatalogEntry* e : Filter(vram)) EXPECT_LE(e->min_vram_bytes, 6 * kGiB) << e->id;
  EXPECT_THAT(Ids(Filter(vram)), Not(testing::Contains("qwen3-32b-q4")));
}

TEST(CatalogTest, FilterCombinesCriteria) {
  CatalogFilter f;
  f.tag = "coding";
  f.max_ram_bytes = 16 * kGiB;
  f.recommended_only = true;
  f.format = ModelFormat::kGguf;
  std::vector<const CatalogEntry*> got = Filter(f);
  ASSERT_FALSE(got.empty());
  for (const CatalogEntry* e : got) {
    EXPECT_TRUE(e->HasTag("coding") && e->recommended && e->min_ram_bytes <= 16 * kGiB &&
                e->format == ModelFormat::kGguf)
        << e->id;
  }

  CatalogFilter family;
  family.family = "GEMMA3";
  std::vector<std::string> gemma = Ids(Filter(family));
  EXPECT_EQ(gemma, (std::vector<std::string>{"gemma3-1b-q4", "gemma3-4b-q4", "gemma3-12b-q4",
                                             "gemma3-27b-q4"}));

  CatalogFilter onnx;
  onnx.format = ModelFormat::kOnnx;
  for (const CatalogEntry* e : Filter(onnx)) EXPECT_EQ(e->format, ModelFormat::kOnnx);

  EXPECT_EQ(Filter(CatalogFilter{}).size(), BuiltinCatalog().size());
}

TEST(CatalogTest, UpsertOverridesABuiltinInPlace) {
  Catalog c = Catalog::WithBuiltins();
  const size_t before = c.size();
  const CatalogEntry* original = c.FindById("qwen3-8b-q4");
  ASSERT_NE(original, nullptr);
  const size_t position = static_cast<size_t>(original - c.entries().data());
  const std::string original_description = original->description;

  CatalogEntry mine = *original;
  mine.id = "QWEN3-8B-Q4";  // ids compare case-insensitively
  mine.description = "my own notes";
  mine.aliases.clear();
  mine.builtin = false;
  ASSERT_OK(c.Upsert(mine));

  EXPECT_EQ(c.size(), before);
  const CatalogEntry* now = c.FindById("qwen3-8b-q4");
  ASSERT_NE(now, nullptr);
  EXPECT_EQ(now, &c.entries()[position]) << "same place in the order";
  EXPECT_EQ(now->id, "qwen3-8b-q4");
  EXPECT_EQ(now->description, "my own notes");
  EXPECT_FALSE(now->builtin);
  EXPECT_EQ(c.FindById("qwen3:8b"), nullptr) << "the replaced entry's alias is gone";
  EXPECT_EQ(c.FindById("qwen3:8b-q4_K_M"), now) << "its sources still resolve";
  // The process-wide catalog is untouched.
  EXPECT_EQ(DefaultCatalog().FindById("qwen3-8b-q4")->description, original_description);
  EXPECT_NE(original_description, "my own notes");
}

TEST(CatalogTest, UpsertExtendsInOrderAndFillsDerivedFields) {
  Catalog c = Catalog::WithBuiltins();
  const size_t before = c.size();
  CatalogEntry first = UserEntry("my-model-q4");
  first.aliases = {"mine", "qwen3:8b"};  // the second is taken already
  ModelSource ollama;
  ollama.kind = SourceKind::kOllama;
  ollama.repo = "me/my-model:q4";
  first.sources.push_back(ollama);
  ASSERT_OK(c.Upsert(first));
  ASSERT_OK(c.Upsert(UserEntry("other_model")));

  ASSERT_EQ(c.size(), before + 2);
  EXPECT_EQ(c.entries()[before].id, "my-model-q4");
  EXPECT_EQ(c.entries()[before + 1].id, "other_model");
  const CatalogEntry* mine = c.FindById("MY-MODEL-Q4");
  ASSERT_NE(mine, nullptr);
  EXPECT_EQ(c.FindById("mine"), mine);
  EXPECT_EQ(c.FindById("ollama://me/my-model:q4"), mine);
  EXPECT_EQ(c.FindById("qwen3:8b")->id, "qwen3-8b-q4") << "the first claim on a name keeps it";
  EXPECT_GT(mine->min_ram_bytes, mine->file_size_bytes);
  EXPECT_GT(mine->min_vram_bytes, mine->file_size_bytes);

  CatalogFilter users;
  users.family = "user";
  EXPECT_EQ(Ids(c.Filter(users)), (std::vector<std::string>{"my-model-q4", "other_model"}));
}

TEST(CatalogTest, UpsertRejectsBadIds) {
  Catalog c;
  for (const std::string id : {"", "has space", "org/model", "name:tag", "tab\tbed", "ü"}) {
    Status s = c.Upsert(UserEntry(id));
    EXPECT_THAT(s, StatusIs(StatusCode::kInvalidArgument)) << id;
  }
  EXPECT_EQ(c.size(), 0u);
}

TEST(CatalogTest, LookupsStayCorrectWithHundredsOfEntries) {
  Catalog c = Catalog::WithBuiltins();
  const size_t builtins = c.size();
  for (int i = 0; i < 240; ++i) {
    CatalogEntry e = UserEntry("bulk-" + std::to_string(i));
    e.aliases = {"bulk-alias-" + std::to_string(i)};
    e.sources[0].repo = "bulk/Model-" + std::to_string(i) + "-GGUF";
    ASSERT_OK(c.Upsert(std::move(e)));
  }
  // Override a few of them again.
  for (int i = 0; i < 240; i += 40) {
    CatalogEntry e = UserEntry("bulk-" + std::to_string(i));
    e.description = "overridden";
    ASSERT_OK(c.Upsert(std::move(e)));
  }
  ASSERT_EQ(c.size(), builtins + 240);
  for (int i = 0; i < 240; ++i) {
    const std::string id = "bulk-" + std::to_string(i);
    const CatalogEntry* e = c.FindById(id);
    ASSERT_NE(e, nullptr) << id;
    EXPECT_EQ(e, &c.entries()[builtins + i]) << id;
    EXPECT_EQ(e->description == "overridden", i % 40 == 0) << id;
    if (i % 40 != 0) {
      EXPECT_EQ(c.FindById("bulk-alias-" + std::to_string(i)), e);
      EXPECT_EQ(c.FindById("bulk/Model-" + std::to_string(i) + "-GGUF:Q4_K_M"), e);
    }
  }
  for (const CatalogEntry& e : BuiltinCatalog()) EXPECT_NE(c.FindById(e.id), nullptr) << e.id;
}

}  // namespace
}  // namespace hangar
