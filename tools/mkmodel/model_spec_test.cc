#include "mkmodel/model_spec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "core/status_matchers.h"
#include "core/units.h"
#include "mkmodel/weight_type.h"

namespace hangar::mkmodel {
namespace {

using ::testing::HasSubstr;

constexpr uint32_t kVocab = 32000;           // llama-spm
constexpr uint64_t kVocabMeta = 700 * kKiB;  // about its tokenizer metadata

const TensorPlan* Find(const std::vector<TensorPlan>& tensors, const std::string& name) {
  auto it = std::find_if(tensors.begin(), tensors.end(),
                         [&](const TensorPlan& t) { return t.name == name; });
  return it == tensors.end() ? nullptr : &*it;
}

TEST(MkModelWeightTypeTest, ParsesNamesCaseInsensitively) {
  ASSERT_OK(ParseWeightType("Q8_0"));
  EXPECT_EQ(ParseWeightType("Q8_0")->tensor_type, GGML_TYPE_Q8_0);
  EXPECT_FALSE(ParseWeightType("q8_0")->via_quantize);
  ASSERT_OK(ParseWeightType("q4_k_m"));
  EXPECT_TRUE(ParseWeightType("q4_k_m")->via_quantize);
  EXPECT_EQ(ParseWeightType("q4_k_m")->file_type, LLAMA_FTYPE_MOSTLY_Q4_K_M);
}

TEST(MkModelWeightTypeTest, UnknownNameListsTheKnownOnes) {
  EXPECT_THAT(ParseWeightType("q9_9"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseWeightType("q9_9"), StatusHasMessage(HasSubstr("q4_0")));
}

TEST(MkModelSpecTest, UnknownArchitecture) {
  ModelSpec spec;
  spec.arch = "mamba9";
  EXPECT_THAT(ResolveShape(spec, kVocab, kVocabMeta), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(FindArch("mamba9"), StatusHasMessage(HasSubstr("qwen3moe")));
}

TEST(MkModelSpecTest, DefaultsAreSmallAndConsistent) {
  for (const ArchTraits& arch : AllArchs()) {
    ModelSpec spec;
    spec.arch = std::string(arch.name);
    Result<ModelShape> shape = ResolveShape(spec, kVocab, kVocabMeta);
    ASSERT_OK(shape) << arch.name;
    EXPECT_EQ(shape->n_vocab, kVocab);
    EXPECT_GE(shape->layers, 1u);
    EXPECT_EQ(shape->heads % shape->kv_heads, 0u) << arch.name;
    EXPECT_LT(EstimateFileBytes(*shape, kVocabMeta), 64 * kMiB) << arch.name;
    EXPECT_EQ(shape->experts > 0, arch.moe) << arch.name;
    EXPECT_EQ(shape->sliding_window, arch.sliding_window) << arch.name;
  }
}

TEST(MkModelSpecTest, ExplicitNumbersAreKept) {
  ModelSpec spec;
  spec.arch = "qwen3moe";
  spec.layers = 3;
  spec.embd = 96;
  spec.ff = 200;
  spec.heads = 6;
  spec.kv_heads = 3;
  spec.head_dim = 40;
  spec.ctx = 1234;
  spec.experts = 5;
  spec.experts_used = 3;
  spec.expert_ff = 48;
  Result<ModelShape> s = ResolveShape(spec, kVocab, kVocabMeta);
  ASSERT_OK(s);
  EXPECT_EQ(s->layers, 3u);
  EXPECT_EQ(s->embd, 96u);
  EXPECT_EQ(s->ff, 200u);
  EXPECT_EQ(s->heads, 6u);
  EXPECT_EQ(s->kv_heads, 3u);
  EXPECT_EQ(s->head_dim, 40u);
  EXPECT_EQ(s->ctx, 1234u);
  EXPECT_EQ(s->experts, 5u);
  EXPECT_EQ(s->experts_used, 3u);
  EXPECT_EQ(s->expert_ff, 48u);
}

struct BadSpecCase {
  std::string label;
  ModelSpec spec;
  std::string message;
};

ModelSpec With(std::string arch, void (*edit)(ModelSpec&)) {
  ModelSpec spec;
  spec.arch = std::move(arch);
  edit(spec);
  return spec;
}

TEST(MkModelSpecTest, ContradictionsAreRejected) {
  const BadSpecCase cases[] = {
      {"experts on dense", With("qwen3", [](ModelSpec& s) { s.experts = 4; }), "dense"},
      {"kv not dividing", With("llama", [](ModelSpec& s) { s.heads = 4, s.kv_heads = 3; }),
       "must divide"},
      {"qwen2 width", With("qwen2", [](ModelSpec& s) { s.embd = 128, s.head_dim = 48; }),
       "heads × head-dim"},
      {"gemma2 untied", With("gemma2", [](ModelSpec& s) { s.tie_embeddings = false; }), "always"},
      {"swa on llama", With("llama", [](ModelSpec& s) { s.sliding_window = 16; }), "sliding"},
      {"odd head dim", With("llama", [](ModelSpec& s) { s.head_dim = 33; }), "even"},
      {"used > experts", With("qwen3moe", [](ModelSpec& s) { s.experts = 2, s.experts_used = 3; }),
       "experts-used"},
      {"bad type", With("llama", [](ModelSpec& s) { s.type = "q3"; }), "unknown weight type"},
      {"too many layers", With("llama", [](ModelSpec& s) { s.layers = 100000; }), "layers"},
  };
  for (const BadSpecCase& c : cases) {
    Result<ModelShape> shape = ResolveShape(c.spec, kVocab, kVocabMeta);
    EXPECT_THAT(shape, StatusIs(StatusCode::kInvalidArgument)) << c.label;
    EXPECT_THAT(shape, StatusHasMessage(HasSubstr(c.message))) << c.label;
  }
}

TEST(MkModelSpecTest, TargetSizeLandsNearIt) {
  struct Case {
    std::string arch, type;
    uint64_t target;
  };
  const Case cases[] = {
      {"llama", "f16", 64 * kMiB},    {"qwen3", "q8_0", 256 * kMiB}, {"llama", "q4_0", 1 * kGiB},
      {"qwen3moe", "q8_0", 1 * kGiB}, {"gemma3", "f32", 100 * kMiB}, {"llama", "q4_k_m", 3 * kGiB},
  };
  for (const Case& c : cases) {
    ModelSpec spec;
    spec.arch = c.arch;
    spec.type = c.type;
    spec.target_bytes = c.target;
    Result<ModelShape> shape = ResolveShape(spec, kVocab, kVocabMeta);
    ASSERT_OK(shape) << c.arch << " " << c.type;
    const double ratio =
        static_cast<double>(EstimateFileBytes(*shape, kVocabMeta)) / static_cast<double>(c.target);
    EXPECT_NEAR(ratio, 1.0, 0.05) << c.arch << " " << c.type << ": " << shape->layers << " × "
                                  << shape->embd << ", ff " << shape->ff;
    EXPECT_GE(shape->layers, 2u) << c.arch;
  }
}

TEST(MkModelSpecTest, TargetSizeKeepsFixedLayers) {
  ModelSpec spec;
  spec.layers = 4;
  spec.target_bytes = 200 * kMiB;
  Result<ModelShape> shape = ResolveShape(spec, kVocab, kVocabMeta);
  ASSERT_OK(shape);
  EXPECT_EQ(shape->layers, 4u);
  EXPECT_NEAR(static_cast<double>(EstimateFileBytes(*shape, kVocabMeta)) / (200.0 * kMiB), 1.0,
              0.25);
}

TEST(MkModelSpecTest, TargetBelowTheSmallestModelIsRejected) {
  ModelSpec spec;
  spec.type = "f32";
  spec.target_bytes = 1 * kMiB;  // the 32000-token embedding alone is larger
  EXPECT_THAT(ResolveShape(spec, kVocab, kVocabMeta), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ResolveShape(spec, kVocab, kVocabMeta), StatusHasMessage(HasSubstr("too small")));
}

TEST(MkModelPlanTensorsTest, DenseLayout) {
  ModelSpec spec;
  spec.arch = "qwen2";
  spec.layers = 2;
  spec.embd = 64;
  spec.heads = 4;
  spec.kv_heads = 2;
  spec.ff = 96;
  spec.tie_embeddings = true;
  ASSERT_OK(ResolveShape(spec, kVocab, kVocabMeta));
  const ModelShape shape = *ResolveShape(spec, kVocab, kVocabMeta);
  const std::vector<TensorPlan> tensors = PlanTensors(shape);
  EXPECT_EQ(Find(tensors, "output.weight"), nullptr);
  const TensorPlan* embd = Find(tensors, "token_embd.weight");
  ASSERT_NE(embd, nullptr);
  EXPECT_EQ(embd->ne[0], 64);
  EXPECT_EQ(embd->ne[1], kVocab);
  const TensorPlan* k = Find(tensors, "blk.1.attn_k.weight");
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->ne[1], 2 * 16);  // kv heads × head dim
  const TensorPlan* bias = Find(tensors, "blk.0.attn_q.bias");
  ASSERT_NE(bias, nullptr);
  EXPECT_TRUE(bias->keep_f32);
  const TensorPlan* norm = Find(tensors, "blk.0.ffn_norm.weight");
  ASSERT_NE(norm, nullptr);
  EXPECT_EQ(norm->fill, Fill::kOnes);
  EXPECT_EQ(Find(tensors, "blk.2.attn_norm.weight"), nullptr);
}

TEST(MkModelPlanTensorsTest, MixtureOfExpertsLayout) {
  ModelSpec spec;
  spec.arch = "qwen3moe";
  spec.embd = 64;
  spec.experts = 4;
  spec.experts_used = 2;
  spec.expert_ff = 32;
  const ModelShape shape = *ResolveShape(spec, kVocab, kVocabMeta);
  const std::vector<TensorPlan> tensors = PlanTensors(shape);
  const TensorPlan* router = Find(tensors, "blk.0.ffn_gate_inp.weight");
  ASSERT_NE(router, nullptr);
  EXPECT_TRUE(router->keep_f32);
  EXPECT_EQ(router->ne[1], 4);
  const TensorPlan* down = Find(tensors, "blk.1.ffn_down_exps.weight");
  ASSERT_NE(down, nullptr);
  EXPECT_EQ(down->n_dims, 3);
  EXPECT_EQ(down->ne[0], 32);
  EXPECT_EQ(down->ne[1], 64);
  EXPECT_EQ(down->ne[2], 4);
  EXPECT_EQ(Find(tensors, "blk.0.ffn_gate.weight"), nullptr);
  EXPECT_NE(Find(tensors, "blk.0.attn_q_norm.weight"), nullptr);
}

TEST(MkModelPlanTensorsTest, StoredTypesFollowTheConverter) {
  TensorPlan norm;
  norm.ne = {64, 1, 1};
  norm.keep_f32 = true;
  TensorPlan matrix;
  matrix.ne = {64, 32, 1};
  TensorPlan odd;
  odd.ne = {48, 32, 1};  // rows not a multiple of the 32-wide blocks
  EXPECT_EQ(StoredType(norm, *ParseWeightType("q8_0")), GGML_TYPE_F32);
  EXPECT_EQ(StoredType(matrix, *ParseWeightType("q8_0")), GGML_TYPE_Q8_0);
  EXPECT_EQ(StoredType(matrix, *ParseWeightType("q4_0")), GGML_TYPE_Q4_0);
  EXPECT_EQ(StoredType(odd, *ParseWeightType("q4_0")), GGML_TYPE_F16);
  EXPECT_EQ(StoredType(odd, *ParseWeightType("f32")), GGML_TYPE_F32);
  EXPECT_EQ(StoredType(matrix, *ParseWeightType("q4_k_m")), GGML_TYPE_F16);
}

}  // namespace
}  // namespace hangar::mkmodel
