#include "fetch/model_ref.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/status_matchers.h"

namespace hangar::fetch {
namespace {

using testing::HasSubstr;

struct RefCase {
  std::string text;
  RefKind kind;
  std::string canonical;
  std::string repo = "", quant = "", path = "", revision = "";
};

TEST(ModelRefTest, ParsesEveryForm) {
  const RefCase cases[] = {
      {"hf://bartowski/Qwen2.5-Coder-7B-Instruct-GGUF:Q5_K_M", RefKind::kHuggingFace,
       "hf://bartowski/Qwen2.5-Coder-7B-Instruct-GGUF:Q5_K_M",
       "bartowski/Qwen2.5-Coder-7B-Instruct-GGUF", "Q5_K_M"},
      {"hf://org/repo/sub/model-Q8_0.gguf@v1.0", RefKind::kHuggingFace,
       "hf://org/repo/sub/model-Q8_0.gguf", "org/repo", "", "sub/model-Q8_0.gguf", "v1.0"},
      {"hf://org/repo@0123abc", RefKind::kHuggingFace, "hf://org/repo", "org/repo", "", "",
       "0123abc"},
      {"org/repo:q4_k_m", RefKind::kHuggingFace, "hf://org/repo:q4_k_m", "org/repo", "q4_k_m"},
      {"org/repo", RefKind::kHuggingFace, "hf://org/repo", "org/repo"},
      {"hf.co/org/repo:Q8_0", RefKind::kHuggingFace, "hf://org/repo:Q8_0", "org/repo", "Q8_0"},
      {"huggingface.co/org/repo", RefKind::kHuggingFace, "hf://org/repo", "org/repo"},
      {"ollama://qwen3:8b", RefKind::kOllama, "ollama://qwen3:8b"},
      {"ollama://qwen3", RefKind::kOllama, "ollama://qwen3:latest"},
      {"ollama://user/model:tag", RefKind::kOllama, "ollama://user/model:tag"},
      {"ollama://127.0.0.1:8080/library/qwen3:8b", RefKind::kOllama,
       "ollama://127.0.0.1:8080/library/qwen3:8b"},
      {"qwen3:8b", RefKind::kOllama, "ollama://qwen3:8b"},
      {"https://example.com/m.gguf", RefKind::kUrl, "https://example.com/m.gguf"},
      {"http://127.0.0.1:9/x/m.gguf?a=b", RefKind::kUrl, "http://127.0.0.1:9/x/m.gguf?a=b"},
      {"file:///models/m.gguf", RefKind::kFile, "file:///models/m.gguf"},
      {"/models/m.gguf", RefKind::kFile, "file:///models/m.gguf"},
      {"./m.gguf", RefKind::kFile, "file://./m.gguf"},
      {"models/m.gguf", RefKind::kFile, "file://models/m.gguf"},
      {"qwen2.5-coder-7b-q5", RefKind::kCatalog, "qwen2.5-coder-7b-q5"},
      {"  qwen3-8b  ", RefKind::kCatalog, "qwen3-8b"},
  };
  for (const RefCase& c : cases) {
    Result<ModelRef> r = ParseModelRef(c.text);
    ASSERT_OK(r) << c.text;
    EXPECT_EQ(r->kind, c.kind) << c.text;
    EXPECT_EQ(r->Canonical(), c.canonical) << c.text;
    if (c.kind == RefKind::kHuggingFace) {
      EXPECT_EQ(r->repo, c.repo) << c.text;
      EXPECT_EQ(r->quant, c.quant) << c.text;
      EXPECT_EQ(r->path, c.path) << c.text;
      EXPECT_EQ(r->revision, c.revision) << c.text;
      EXPECT_EQ(r->Revision(), c.revision.empty() ? "main" : c.revision) << c.text;
    }
  }
}

TEST(ModelRefTest, OllamaDefaults) {
  ModelRef r = ParseModelRef("ollama://gemma3").value();
  EXPECT_EQ(r.ns, "library");
  EXPECT_EQ(r.name, "gemma3");
  EXPECT_EQ(r.tag, "latest");
  EXPECT_EQ(r.host, "");
  ModelRef h = ParseModelRef("ollama://registry.example:5000/team/coder:7b").value();
  EXPECT_EQ(h.host, "registry.example:5000");
  EXPECT_EQ(h.ns, "team");
  EXPECT_EQ(h.name, "coder");
  EXPECT_EQ(h.tag, "7b");
}

TEST(ModelRefTest, RefusesBadReferences) {
  const std::string bad[] = {
      "",
      "   ",
      "hf://org",
      "hf://org/repo/../../evil.gguf",
      "hf://../repo",
      "hf://org/repo:",
      "hf://org/repo:Q4 K",
      "hf://org/repo@",
      "org/repo/file.bin",
      "ollama://",
      "ollama://a/b/c/d",
      "ollama://x:",
      "ollama://../x",
      "ftp://host/m.gguf",
      "https:///m.gguf",
      "file://",
  };
  for (const std::string& t : bad) {
    EXPECT_THAT(ParseModelRef(t), StatusIs(StatusCode::kInvalidArgument)) << "'" << t << "'";
  }
  EXPECT_THAT(ParseModelRef("hf://org/repo/../../evil.gguf"),
              StatusHasMessage(HasSubstr("evil.gguf")));
}

TEST(ModelRefTest, QuantTags) {
  const std::pair<std::string, std::string> cases[] = {
      {"Qwen2.5-Coder-7B-Instruct-Q5_K_M.gguf", "Q5_K_M"},
      {"qwen3-8b-q8_0.gguf", "Q8_0"},
      {"Meta-Llama-3.1-70B-Instruct-Q4_K_M-00001-of-00002.gguf", "Q4_K_M"},
      {"sub/gemma-2-2b-it-IQ4_XS.gguf", "IQ4_XS"},
      {"model.f16.gguf", "F16"},
      {"phi-3-mini-4k-instruct-bf16.gguf", "BF16"},
      {"tinyllama.gguf", ""},
      {"Qwen3-0.6B.gguf", ""},
  };
  for (const auto& [name, tag] : cases) EXPECT_EQ(QuantTagOf(name), tag) << name;
}

}  // namespace
}  // namespace hangar::fetch
