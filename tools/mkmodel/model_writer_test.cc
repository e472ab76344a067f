// Generated models are loaded and run by llama.cpp itself: metadata as it
// reports it, tokenization with the copied vocabulary, and a short greedy
// generation with finite logits.
#include "mkmodel/model_writer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <llama.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "core/file_util.h"
#include "core/status_matchers.h"
#include "llamacpp/handles.h"
#include "mkmodel/vocab.h"

namespace hangar::mkmodel {
namespace {

using ::testing::HasSubstr;

// A tiny model: 2 layers, 64 wide.
ModelSpec TinySpec(std::string arch, std::string type) {
  ModelSpec spec;
  spec.arch = std::move(arch);
  spec.type = std::move(type);
  spec.layers = 2;
  spec.embd = 64;
  spec.ctx = 256;
  spec.vocab_dir = HANGAR_VOCAB_DIR;
  spec.threads = 2;
  return spec;
}

class MkModelWriterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { llamacpp::InitBackend(); }

  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string(info->test_suite_name()) + "_" + info->name();
    for (char& c : name) {
      if (c == '/') c = '_';
    }
    dir_ = std::filesystem::temp_directory_path() /
           ("hangar-mkmodel-" + std::to_string(getpid()) + "-" + name);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // Loads `facts.path` on the CPU, checks what llama.cpp reports against the
  // spec, then decodes a prompt and `n_gen` greedy tokens.
  void LoadAndRun(const ModelFacts& facts, int n_gen = 4) {
    llama_model_params mparams = llama_model_default_params();
    mparams.n_gpu_layers = 0;
    llamacpp::ModelPtr owned_model = llamacpp::LoadModel(facts.path, mparams);
    llama_model* model = owned_model.get();
    ASSERT_NE(model, nullptr) << "llama.cpp could not load " << facts.path;
    const ModelShape& s = facts.shape;
    const llama_vocab* vocab = llama_model_get_vocab(model);
    EXPECT_EQ(llama_model_n_layer(model), static_cast<int>(s.layers));
    EXPECT_EQ(llama_model_n_embd(model), static_cast<int>(s.embd));
    EXPECT_EQ(llama_model_n_head(model), static_cast<int>(s.heads));
    EXPECT_EQ(llama_model_n_head_kv(model), static_cast<int>(s.kv_heads));
    EXPECT_EQ(llama_model_n_ctx_train(model), static_cast<int>(s.ctx));
    EXPECT_EQ(llama_vocab_n_tokens(vocab), static_cast<int>(s.n_vocab));
    EXPECT_EQ(llama_model_n_swa(model), static_cast<int>(s.sliding_window));
    char buf[128];
    ASSERT_GT(llama_model_meta_val_str(model, "general.architecture", buf, sizeof(buf)), 0);
    EXPECT_EQ(std::string(buf), facts.arch);
    if (s.arch->moe) {
      ASSERT_GT(
          llama_model_meta_val_str(model, (facts.arch + ".expert_count").c_str(), buf, sizeof(buf)),
          0);
      EXPECT_EQ(std::string(buf), std::to_string(s.experts));
    }
    EXPECT_NE(llama_model_chat_template(model, nullptr), nullptr);

    llama_context_params cparams = llama_context_default_params();
    cparams.n_ctx = 64;
    cparams.n_batch = 64;
    cparams.n_threads = 1;  // no spinning thread pool on a busy machine
    cparams.n_threads_batch = 1;
    llamacpp::ContextPtr owned_ctx = llamacpp::NewContext(model, cparams);
    llama_context* ctx = owned_ctx.get();
    ASSERT_NE(ctx, nullptr);

    const std::string text = "Hello world, this is a small test.";
    std::vector<llama_token> tokens(64);
    const int n = llama_tokenize(vocab, text.data(), static_cast<int32_t>(text.size()),
                                 tokens.data(), static_cast<int32_t>(tokens.size()), true, false);
    ASSERT_GT(n, 3) << "the vocabulary should split the text into several tokens";
    tokens.resize(static_cast<size_t>(n));
    for (llama_token t : tokens) {
      ASSERT_GE(t, 0);
      ASSERT_LT(t, llama_vocab_n_tokens(vocab));
    }

    ASSERT_EQ(llama_decode(ctx, llama_batch_get_one(tokens.data(), n)), 0);
    for (int step = 0; step <= n_gen; ++step) {
      const float* logits = llama_get_logits_ith(ctx, -1);
      ASSERT_NE(logits, nullptr);
      llama_token best = 0;
      for (int i = 0; i < static_cast<int>(s.n_vocab); ++i) {
        ASSERT_TRUE(std::isfinite(logits[i])) << "logit " << i << " at step " << step;
        if (logits[i] > logits[best]) best = i;
      }
      ASSERT_GE(best, 0);
      ASSERT_LT(best, llama_vocab_n_tokens(vocab));
      if (step == n_gen) break;
      ASSERT_EQ(llama_decode(ctx, llama_batch_get_one(&best, 1)), 0) << "step " << step;
    }
  }

  std::filesystem::path dir_;
};

// Every architecture. llama, qwen2 and the others use their default
// vocabulary; qwen3 and qwen3moe share qwen2's, so they take the small SPM one
// to keep the tests quick.
struct ArchCase {
  std::string arch;
  std::string vocab;  // empty: the architecture's default
};

class MkModelArchTest : public MkModelWriterTest, public ::testing::WithParamInterface<ArchCase> {};

TEST_P(MkModelArchTest, LoadsAndGenerates) {
  ModelSpec spec = TinySpec(GetParam().arch, "q8_0");
  spec.vocab = GetParam().vocab;
  if (spec.arch == "gemma3") {
    spec.sliding_window = 8;  // shorter than the prompt: the window really slides
    spec.swa_pattern = 2;     // layer 0 local, layer 1 global
  }
  Result<ModelFacts> facts = WriteModel(spec, dir_ / "model.gguf");
  ASSERT_OK(facts);
  EXPECT_EQ(facts->arch, spec.arch);
  if (spec.vocab.empty()) {
    EXPECT_EQ(facts->vocab, (*FindArch(spec.arch))->default_vocab);
  }
  EXPECT_EQ(facts->bytes, std::filesystem::file_size(dir_ / "model.gguf"));
  EXPECT_GT(facts->tensor_types["q8_0"], 0);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "model.gguf.partial"));
  LoadAndRun(*facts);
}

INSTANTIATE_TEST_SUITE_P(All, MkModelArchTest,
                         ::testing::Values(ArchCase{"llama", ""}, ArchCase{"qwen2", ""},
                                           ArchCase{"qwen3", "llama-spm"},
                                           ArchCase{"qwen3moe", "llama-spm"},
                                           ArchCase{"gemma3", ""}, ArchCase{"gemma2", ""},
                                           ArchCase{"phi3", ""}),
                         [](const auto& info) { return info.param.arch; });

TEST(MkModelPlanModelTest, QwenFamilyDefaultsToTheQwen2Vocabulary) {
  for (const char* arch : {"qwen3", "qwen3moe"}) {
    ModelSpec spec = TinySpec(arch, "f16");
    Result<ModelFacts> facts = PlanModel(spec);
    ASSERT_OK(facts);
    EXPECT_EQ(facts->vocab, "qwen2") << arch;
    EXPECT_GT(facts->shape.n_vocab, 150000u) << arch;
  }
}

// Every directly written type, on llama with the small llama-spm vocabulary.
class MkModelTypeTest : public MkModelWriterTest,
                        public ::testing::WithParamInterface<std::string> {};

TEST_P(MkModelTypeTest, LoadsAndGenerates) {
  ModelSpec spec = TinySpec("llama", GetParam());
  spec.vocab = "llama-spm";
  Result<ModelFacts> facts = WriteModel(spec, dir_ / "model.gguf");
  ASSERT_OK(facts);
  const std::string type = GetParam();
  EXPECT_GT(facts->tensor_types[type], 0);
  if (type != "f32") {
    EXPECT_GT(facts->tensor_types["f32"], 0) << "norms stay F32";
  }
  // Written directly, the size estimate is exact up to the metadata.
  const double estimate = static_cast<double>(PlanModel(spec)->bytes);
  EXPECT_NEAR(facts->bytes / estimate, 1.0, 0.02);
  LoadAndRun(*facts);
}

INSTANTIATE_TEST_SUITE_P(All, MkModelTypeTest,
                         ::testing::Values("f32", "f16", "bf16", "q8_0", "q5_1", "q5_0", "q4_1",
                                           "q4_0"),
                         [](const auto& info) { return info.param; });

// K-quant mixes go through llama_model_quantize; rows are multiples of 256 so
// the K types are really used.
class MkModelKQuantTest : public MkModelWriterTest,
                          public ::testing::WithParamInterface<std::string> {};

TEST_P(MkModelKQuantTest, Q4KMLoadsAndGenerates) {
  ModelSpec spec = TinySpec(GetParam(), "q4_k_m");
  spec.vocab = "llama-spm";
  spec.embd = 256;             // ff and expert_ff default to multiples of 256 for K-quants
  spec.tie_embeddings = true;  // one vocabulary-sized matrix to quantize, not two
  Result<ModelFacts> facts = WriteModel(spec, dir_ / "model.gguf");
  ASSERT_OK(facts);
  EXPECT_GT(facts->tensor_types["q4_K"], 0);
  EXPECT_GT(facts->tensor_types["q6_K"], 0) << "Q4_K_M keeps some tensors in Q6_K";
  EXPECT_EQ(facts->tensor_types["f16"], 0);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "model.gguf.f16.partial"));
  LoadAndRun(*facts);
}

INSTANTIATE_TEST_SUITE_P(All, MkModelKQuantTest, ::testing::Values("qwen3", "qwen3moe"),
                         [](const auto& info) { return info.param; });

TEST_F(MkModelWriterTest, SameSeedSameBytesWhateverTheThreads) {
  ModelSpec spec = TinySpec("qwen3", "q4_0");
  spec.vocab = "llama-spm";
  spec.seed = 7;
  spec.threads = 1;
  ASSERT_OK(WriteModel(spec, dir_ / "a.gguf"));
  spec.threads = 4;
  ASSERT_OK(WriteModel(spec, dir_ / "b.gguf"));
  spec.seed = 8;
  ASSERT_OK(WriteModel(spec, dir_ / "c.gguf"));
  const Result<std::string> a = ReadFile(dir_ / "a.gguf");
  const Result<std::string> b = ReadFile(dir_ / "b.gguf");
  const Result<std::string> c = ReadFile(dir_ / "c.gguf");
  ASSERT_OK(a);
  ASSERT_OK(b);
  ASSERT_OK(c);
  EXPECT_TRUE(*a == *b) << "same seed, different thread count: files differ";
  EXPECT_EQ(a->size(), c->size());
  EXPECT_FALSE(*a == *c) << "different seeds gave the same file";
}

TEST_F(MkModelWriterTest, TargetSizeIsReached) {
  ModelSpec spec = TinySpec("llama", "q8_0");
  spec.vocab = "llama-spm";
  spec.layers = 0;
  spec.embd = 0;
  spec.target_bytes = 16 * 1024 * 1024;
  Result<ModelFacts> facts = WriteModel(spec, dir_ / "model.gguf");
  ASSERT_OK(facts);
  EXPECT_NEAR(static_cast<double>(facts->bytes) / spec.target_bytes, 1.0, 0.05);
  LoadAndRun(*facts, 1);
}

TEST_F(MkModelWriterTest, ChatTemplateIsCopiedOrDefaulted) {
  struct Case {
    const char* vocab;
    bool has_own_template;
  };
  for (const Case& c : {Case{"phi-3", true}, Case{"llama-spm", false}}) {
    Result<Vocab> vocab = Vocab::Open(c.vocab, HANGAR_VOCAB_DIR);
    ASSERT_OK(vocab);
    ASSERT_EQ(vocab->has_chat_template(), c.has_own_template) << c.vocab;
    ModelSpec spec = TinySpec("llama", "q8_0");
    spec.vocab = c.vocab;
    spec.tie_embeddings = true;
    const std::filesystem::path path = dir_ / (std::string(c.vocab) + ".gguf");
    ASSERT_OK(WriteModel(spec, path));

    llama_model_params mparams = llama_model_default_params();
    mparams.n_gpu_layers = 0;
    mparams.vocab_only = true;
    llamacpp::ModelPtr owned_model = llamacpp::LoadModel(path, mparams);
    llama_model* model = owned_model.get();
    ASSERT_NE(model, nullptr);
    const char* tmpl = llama_model_chat_template(model, nullptr);
    ASSERT_NE(tmpl, nullptr);
    if (c.has_own_template) {
      EXPECT_NE(std::string(tmpl), kDefaultChatTemplate) << c.vocab;
    } else {
      EXPECT_EQ(std::string(tmpl), kDefaultChatTemplate) << c.vocab;
    }
    // llama.cpp recognises the template and formats a conversation with it.
    const llama_chat_message msg{"user", "hi there"};
    std::vector<char> out(512);
    const int n = llama_chat_apply_template(tmpl, &msg, 1, true, out.data(),
                                            static_cast<int32_t>(out.size()));
    ASSERT_GT(n, 0) << c.vocab;
    EXPECT_THAT(std::string(out.data(), static_cast<size_t>(n)), HasSubstr("hi there"));
  }
}

TEST_F(MkModelWriterTest, UnknownVocabularyIsNotFoundAndLeavesNoFile) {
  ModelSpec spec = TinySpec("llama", "f16");
  spec.vocab = "no-such-vocab";
  Result<ModelFacts> facts = WriteModel(spec, dir_ / "model.gguf");
  EXPECT_THAT(facts, StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(facts, StatusHasMessage(HasSubstr("llama-spm")));  // lists what exists
  EXPECT_TRUE(std::filesystem::is_empty(dir_));
}

// The greedy next token after `token` alone.
llama_token GreedyAfter(llama_context* ctx, const llama_vocab* vocab, llama_token token) {
  llama_memory_clear(llama_get_memory(ctx), true);
  if (llama_decode(ctx, llama_batch_get_one(&token, 1)) != 0) return -1;
  const float* logits = llama_get_logits_ith(ctx, -1);
  llama_token best = 0;
  for (int i = 0; i < llama_vocab_n_tokens(vocab); ++i) {
    if (logits[i] > logits[best]) best = i;
  }
  return best;
}

TEST_F(MkModelWriterTest, FollowsMakeGreedyDecodingPickTheSecondTokenAfterTheFirst) {
  // gemma3 ties its embeddings by default: follows untie them.
  for (std::string arch : {"llama", "gemma3"}) {
    const bool tied = arch == "gemma3";
    ModelSpec spec = TinySpec(arch, "q8_0");
    spec.vocab = "llama-spm";
    spec.follows = {{"<0x0A>", "▁hello"}, {"▁hello", "▁world"}, {"▁world", "</s>"}};
    const std::filesystem::path path = dir_ / (tied ? "tied.gguf" : "untied.gguf");
    Result<ModelFacts> facts = WriteModel(spec, path);
    ASSERT_OK(facts);
    ASSERT_EQ(facts->shape.follows.size(), 3u);
    llama_model_params mparams = llama_model_default_params();
    mparams.n_gpu_layers = 0;
    llamacpp::ModelPtr model = llamacpp::LoadModel(path, mparams);
    ASSERT_NE(model, nullptr);
    llama_context_params cparams = llama_context_default_params();
    cparams.n_ctx = 32;
    cparams.n_threads = cparams.n_threads_batch = 1;
    llamacpp::ContextPtr ctx = llamacpp::NewContext(model.get(), cparams);
    ASSERT_NE(ctx, nullptr);
    const llama_vocab* vocab = llama_model_get_vocab(model.get());
    for (const auto& [after, next] : facts->shape.follows) {
      EXPECT_EQ(GreedyAfter(ctx.get(), vocab, static_cast<llama_token>(after)), next)
          << (tied ? "tied" : "untied") << ", after token " << after;
    }
  }
}

TEST_F(MkModelWriterTest, AFollowNamingNoTokenIsRefused) {
  ModelSpec spec = TinySpec("llama", "f16");
  spec.vocab = "llama-spm";
  spec.follows = {{"▁hello", "<no such token>"}};
  Result<ModelFacts> facts = WriteModel(spec, dir_ / "model.gguf");
  EXPECT_THAT(facts, StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(facts, StatusHasMessage(HasSubstr("<no such token>")));
  EXPECT_TRUE(std::filesystem::is_empty(dir_));
  spec.follows = {{"▁hello", "▁world"}};
  spec.tie_embeddings = true;
  EXPECT_THAT(WriteModel(spec, dir_ / "model.gguf"), StatusIs(StatusCode::kInvalidArgument));
}

TEST_F(MkModelWriterTest, UnwritableOutputIsUnavailable) {
  ModelSpec spec = TinySpec("llama", "f16");
  spec.vocab = "llama-spm";
  std::filesystem::create_directories(dir_ / "taken.gguf.partial");  // a folder blocks the file
  EXPECT_THAT(WriteModel(spec, dir_ / "taken.gguf"), StatusIs(StatusCode::kUnavailable));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "taken.gguf"));
}

}  // namespace
}  // namespace hangar::mkmodel
