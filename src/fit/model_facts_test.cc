#include "fit/model_facts.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "catalog/catalog.h"
#include "core/status_matchers.h"
#include "fit/test_models.h"

namespace hangar::fit {
namespace {

using ::testing::HasSubstr;

uint64_t Pad32(uint64_t n) { return (n + 31) / 32 * 32; }

TEST(FactsFromSummaryTest, EveryTensorIsCountedOnceInItsLayer) {
  for (const std::string& arch : testing::TinyArchs()) {
    const gguf::ModelSummary s = testing::TinySummary(arch);
    Result<ModelFacts> f = FactsFromSummary(s);
    ASSERT_OK(f) << arch;
    EXPECT_TRUE(f->exact);
    EXPECT_EQ(f->n_layer(), s.block_count.value_or(0)) << arch;
    EXPECT_EQ(f->n_embd, s.embedding_length.value_or(0)) << arch;
    EXPECT_EQ(f->n_vocab, s.vocab_size.value_or(0)) << arch;
    uint64_t all = 0;
    uint64_t block0 = 0;
    for (const gguf::TensorInfo& t : s.tensors) {
      all += Pad32(t.size);
      if (t.name.rfind("blk.0.", 0) == 0) block0 += Pad32(t.size);
    }
    EXPECT_EQ(f->WeightBytes(), all) << arch;
    EXPECT_EQ(f->layers[0].weight_bytes, block0) << arch;
    EXPECT_GT(f->input_bytes, 0u) << arch << ": token embeddings";
    EXPECT_GT(f->layers[0].n_ff + f->layers[0].n_ff_expert, 0u) << arch;
    EXPECT_EQ(f->layers[0].n_head_kv, s.head_count_kv.value_or(0)) << arch;
  }
}

TEST(FactsFromSummaryTest, ArchitectureSpecifics) {
  {
    Result<ModelFacts> g = FactsFromSummary(testing::TinySummary("gemma3"));
    ASSERT_OK(g);
    EXPECT_GT(g->n_swa, 0u);
    int swa = 0;
    for (const LayerFacts& l : g->layers) swa += l.swa ? 1 : 0;
    EXPECT_GT(swa, 0);
    EXPECT_LT(swa, static_cast<int>(g->n_layer())) << "one global layer in two";
    EXPECT_GT(g->tied_output_bytes, 0u) << "gemma reuses the token embeddings as output";
    EXPECT_FALSE(g->tied_output_repacked) << "f16 is not repacked";
  }
  {
    Result<ModelFacts> m = FactsFromSummary(testing::TinySummary("qwen3moe"));
    ASSERT_OK(m);
    EXPECT_GT(m->layers[0].n_ff_expert, 0u);
    EXPECT_GT(m->layers[0].n_expert_used, 0u);
    EXPECT_EQ(m->layers[0].n_ff, 0u) << "qwen3moe has no dense FFN";
  }
  {
    // phi3 stores gate and up in one matrix of 2 × n_ff rows.
    const gguf::ModelSummary s = testing::TinySummary("phi3");
    Result<ModelFacts> p = FactsFromSummary(s);
    ASSERT_OK(p);
    EXPECT_EQ(p->layers[0].n_ff, s.feed_forward_length.value_or(0));
  }
}

TEST(FactsFromSummaryTest, RejectsHeadersLlamaCppCannotLoad) {
  gguf::ModelSummary s = testing::TinySummary("llama");
  gguf::ModelSummary no_blocks = s;
  no_blocks.block_count.reset();
  EXPECT_THAT(FactsFromSummary(no_blocks), StatusIs(StatusCode::kInvalidArgument));
  gguf::ModelSummary too_few = s;
  too_few.block_count = 1;  // tensors of blk.1 remain
  EXPECT_THAT(FactsFromSummary(too_few), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(FactsFromSummary(too_few), StatusHasMessage(HasSubstr("blk.1")));
}

TEST(FactsFromCatalogTest, SpreadsTheFileOverTheLayers) {
  for (const char* id : {"qwen2.5-coder-7b-q4", "qwen3-30b-a3b-q4", "gemma3-4b-q4",
                         "deepseek-coder-v2-lite-q4", "mixtral-8x7b-q4"}) {
    const CatalogEntry* e = FindById(id);
    ASSERT_NE(e, nullptr) << id;
    Result<ModelFacts> f = FactsFromCatalog(*e);
    ASSERT_OK(f) << id;
    EXPECT_FALSE(f->exact);
    EXPECT_EQ(f->n_layer(), e->arch.block_count) << id;
    EXPECT_NEAR(static_cast<double>(f->WeightBytes()), static_cast<double>(e->file_size_bytes),
                0.001 * e->file_size_bytes)
        << id;
    EXPECT_GT(f->layers.back().weight_bytes, 0u) << id;
    EXPECT_EQ(f->n_ctx_train, e->context_length) << id;
    if (e->arch.IsMoe()) {
      EXPECT_GT(f->layers.back().n_ff_expert, 0u) << id;
      // Every expert is resident: an MoE block outweighs its attention alone by far.
      EXPECT_GT(f->layers.back().weight_bytes, f->input_bytes / 4) << id;
    }
  }
}

TEST(FactsFromCatalogTest, Phi3KeepsTheWholeContextAsLlamaCppDoes) {
  CatalogEntry e;
  e.id = "phi-like";
  e.file_size_bytes = 1000000;
  e.arch.name = "phi3";
  e.arch.block_count = 4;
  e.arch.embedding_length = 256;
  e.arch.head_count = 4;
  e.arch.sliding_window = 2047;  // in phi3's config, but llama.cpp disables it
  Result<ModelFacts> phi = FactsFromCatalog(e);
  ASSERT_OK(phi);
  EXPECT_EQ(phi->n_swa, 0u);
  for (const LayerFacts& l : phi->layers) EXPECT_FALSE(l.swa);
  e.arch.name = "gemma2";
  e.arch.sliding_window_pattern = 2;
  Result<ModelFacts> gemma = FactsFromCatalog(e);
  ASSERT_OK(gemma);
  EXPECT_EQ(gemma->n_swa, 2047u);
  EXPECT_TRUE(gemma->layers[0].swa);
  EXPECT_FALSE(gemma->layers[1].swa);
}

TEST(FactsFromCatalogTest, RejectsEntriesWithoutFacts) {
  CatalogEntry onnx;
  onnx.id = "onnx-model";
  onnx.format = ModelFormat::kOnnx;
  onnx.arch.block_count = 2;
  onnx.arch.embedding_length = 64;
  onnx.arch.head_count = 2;
  EXPECT_THAT(FactsFromCatalog(onnx), StatusIs(StatusCode::kInvalidArgument));
  CatalogEntry bare;
  bare.id = "bare";
  EXPECT_THAT(FactsFromCatalog(bare), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(FactsFromCatalog(bare), StatusHasMessage(HasSubstr("bare")));
}

}  // namespace
}  // namespace hangar::fit
