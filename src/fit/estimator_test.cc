#include "fit/estimator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "core/status_matchers.h"
#include "core/units.h"
#include "fit/test_models.h"

namespace hangar::fit {
namespace {

using ::testing::HasSubstr;

uint64_t PadTo(uint64_t n, uint64_t to) { return (n + to - 1) / to * to; }

// A dense model: `layers` blocks of `layer_mib` MiB each, GQA attention.
ModelFacts Dense(uint32_t layers, uint32_t kv_heads = 2, uint32_t head_dim = 64) {
  ModelFacts f;
  f.name = "dense";
  f.architecture = "llama";
  f.exact = true;
  f.n_embd = 512;
  f.n_vocab = 32000;
  f.n_ctx_train = 32768;
  f.input_bytes = 10 * kMiB;
  f.output_bytes = 20 * kMiB;
  for (uint32_t i = 0; i < layers; ++i) {
    LayerFacts l;
    l.weight_bytes = 100 * kMiB;
    l.n_head = 8;
    l.n_head_kv = kv_heads;
    l.head_k = head_dim;
    l.head_v = head_dim;
    l.n_ff = 1536;
    f.layers.push_back(l);
  }
  return f;
}

MemoryRequest Request(uint32_t n_ctx, std::string kv = "f16",
                      FlashAttention fa = FlashAttention::kOn) {
  MemoryRequest r;
  r.n_ctx = n_ctx;
  r.type_k = CacheType{kv};
  r.type_v = CacheType{kv};
  r.flash_attn = fa;
  return r;
}

uint64_t Kv(const ModelFacts& f, const MemoryRequest& r) {
  Result<uint64_t> kv = KvCacheBytes(f, r);
  EXPECT_OK(kv);
  return kv.value_or(0);
}

// --- KV cache -----------------------------------------------------------------

TEST(KvCacheTest, DenseGqaAndCacheTypes) {
  // K and V rows of n_head_kv × head_dim elements per cell and layer; a q8_0
  // block is 32 values in 34 bytes, q4_0 32 values in 18 bytes.
  struct Case {
    std::string kv;
    uint32_t n_ctx;
    uint32_t kv_heads;
    double bytes_per_value;
  };
  for (const Case& c : {Case{"f16", 4096, 2, 2.0}, Case{"f16", 8192, 8, 2.0},
                        Case{"f32", 4096, 2, 4.0}, Case{"q8_0", 4096, 2, 34.0 / 32},
                        Case{"q4_0", 16384, 4, 18.0 / 32}, Case{"q5_1", 4096, 2, 24.0 / 32}}) {
    const ModelFacts f = Dense(6, c.kv_heads, 64);
    const double per_cell = 2.0 * c.kv_heads * 64 * c.bytes_per_value;  // K + V
    const auto want = static_cast<uint64_t>(6 * c.n_ctx * per_cell);
    EXPECT_EQ(Kv(f, Request(c.n_ctx, c.kv)), want) << c.kv << " ctx " << c.n_ctx;
  }
}

TEST(KvCacheTest, ContextIsPaddedTo256) {
  const ModelFacts f = Dense(2);
  EXPECT_EQ(Kv(f, Request(1000)), Kv(f, Request(1024)));
  EXPECT_LT(Kv(f, Request(1024)), Kv(f, Request(1025)));
}

TEST(KvCacheTest, SlidingWindowLayersHoldTheWindowPlusABatch) {
  struct Case {
    uint32_t n_ctx;
    uint32_t window;
    uint32_t n_ubatch;
    uint32_t n_seq;
    bool swa_full;
  };
  for (const Case& c : {Case{8192, 1024, 512, 1, false}, Case{8192, 1000, 512, 1, false},
                        Case{1024, 4096, 512, 1, false}, Case{32768, 4096, 256, 1, false},
                        Case{8192, 1024, 512, 2, false}, Case{8192, 1024, 512, 1, true}}) {
    ModelFacts f = Dense(4);
    f.n_swa = c.window;
    f.layers[0].swa = f.layers[1].swa = f.layers[2].swa = true;  // one global layer
    MemoryRequest r = Request(c.n_ctx);
    r.n_ubatch = c.n_ubatch;
    r.n_seq = c.n_seq;
    r.swa_full = c.swa_full;
    const uint64_t per_seq = c.n_ctx / c.n_seq;
    const uint64_t swa_cells =
        c.swa_full ? per_seq : PadTo(std::min<uint64_t>(per_seq, c.window + c.n_ubatch), 256);
    const uint64_t per_cell = 2 * 2 * 64 * 2;
    const uint64_t want = (1 * per_seq + 3 * swa_cells) * c.n_seq * per_cell;
    EXPECT_EQ(Kv(f, r), want) << "ctx " << c.n_ctx << " window " << c.window << " seqs " << c.n_seq
                              << (c.swa_full ? " swa_full" : "");
  }
}

TEST(KvCacheTest, MlaKeepsOneLatentAndNoV) {
  ModelFacts f = Dense(3, 16, 192);
  f.kv_lora_rank = 512;
  f.n_rot = 64;
  for (uint32_t n_ctx : {4096u, 32768u}) {
    EXPECT_EQ(Kv(f, Request(n_ctx)), uint64_t{3} * n_ctx * (512 + 64) * 2) << n_ctx;
  }
}

TEST(KvCacheTest, RecurrentStateIsFixedF32PerSequence) {
  ModelFacts f = Dense(4);
  f.recurrent_state_elements = 3 * 5120 + 16 * 5120;
  for (LayerFacts& l : f.layers) {
    l.recurrent = true;
    l.n_head_kv = 0;
  }
  for (uint32_t n_seq : {1u, 3u}) {
    MemoryRequest small = Request(4096);
    small.n_seq = n_seq;
    MemoryRequest large = Request(65536);
    large.n_seq = n_seq;
    const uint64_t want = 4 * PadTo(f.recurrent_state_elements * 4, 32) * n_seq;
    EXPECT_EQ(Kv(f, small), want);
    EXPECT_EQ(Kv(f, large), want) << "the state does not grow with the context";
  }
}

// KV of catalog entries from their architecture facts, by the formula of
// llama.cpp's llama_kv_cache (f16, one sequence, n_ubatch 512).
uint64_t CatalogKvFormula(const ModelArchitecture& a, uint64_t n_ctx) {
  uint64_t total = 0;
  for (uint32_t il = 0; il < a.block_count; ++il) {
    uint64_t cells = n_ctx;
    if (a.HasSlidingWindow() && a.IsSlidingWindowLayer(il) && a.name != "phi3") {
      cells = PadTo(std::min<uint64_t>(n_ctx, a.sliding_window + 512), 256);
    }
    const uint64_t per_cell = a.UsesMla()
                                  ? uint64_t{a.kv_lora_rank} + a.rope_dimension_count
                                  : uint64_t{a.head_count_kv} * (a.key_length + a.value_length);
    total += cells * per_cell * 2;
  }
  return total;
}

TEST(KvCacheTest, CatalogEntriesFollowTheFormula) {
  for (const char* id :
       {"llama3.1-8b-q4", "qwen2.5-coder-7b-q4", "qwen3-30b-a3b-q4", "gemma3-12b-q4",
        "gemma2-9b-q4", "deepseek-coder-v2-lite-q4", "mixtral-8x7b-q4"}) {
    const CatalogEntry* e = FindById(id);
    ASSERT_NE(e, nullptr) << id;
    Result<ModelFacts> facts = FactsFromCatalog(*e);
    ASSERT_OK(facts) << id;
    for (uint32_t n_ctx : {4096u, 32768u}) {
      EXPECT_EQ(Kv(*facts, Request(n_ctx)), CatalogKvFormula(e->arch, n_ctx))
          << id << " at " << n_ctx;
    }
  }
  // The published figure for Llama 3.1 8B: 128 KiB per token in f16.
  Result<ModelFacts> llama = FactsFromCatalog(*FindById("llama3.1-8b-q4"));
  ASSERT_OK(llama);
  EXPECT_EQ(Kv(*llama, Request(8192)), 8192 * 128 * kKiB);
}

TEST(KvCacheTest, CatalogSlidingWindowAndMlaAreSmallerThanPlainAttention) {
  for (const char* id : {"gemma3-12b-q4", "gemma2-9b-q4", "deepseek-coder-v2-lite-q4"}) {
    const CatalogEntry* e = FindById(id);
    ASSERT_NE(e, nullptr) << id;
    Result<ModelFacts> facts = FactsFromCatalog(*e);
    ASSERT_OK(facts);
    ModelFacts plain = *facts;
    plain.n_swa = 0;
    plain.kv_lora_rank = 0;
    for (LayerFacts& l : plain.layers) l.swa = false;
    EXPECT_LT(Kv(*facts, Request(32768)), Kv(plain, Request(32768))) << id;
  }
}

// --- Placement ----------------------------------------------------------------

TEST(PlacementTest, NglOffloadsTheLastLayersAndTheOutput) {
  const ModelFacts f = Dense(8);
  const std::vector<GpuMemory> gpu = {{"CUDA0", 24 * kGiB, 24 * kGiB}};
  struct Case {
    int32_t ngl;
    uint32_t gpu_blocks;  // repeating layers on the GPU
    bool output_on_gpu;
  };
  for (const Case& c : {Case{0, 0, false}, Case{1, 0, true}, Case{3, 2, true}, Case{9, 8, true},
                        Case{-1, 8, true}, Case{100, 8, true}}) {
    MemoryRequest r = Request(4096);
    r.n_gpu_layers = c.ngl;
    Result<MemoryBreakdown> b = Estimate(f, r, gpu);
    ASSERT_OK(b);
    ASSERT_EQ(b->devices.size(), 2u);
    const uint64_t out = c.output_on_gpu ? f.output_bytes : 0;
    EXPECT_EQ(b->devices[1].weights, c.gpu_blocks * 100 * kMiB + out) << "ngl " << c.ngl;
    EXPECT_EQ(b->host().weights,
              (8 - c.gpu_blocks) * 100 * kMiB + f.input_bytes + (f.output_bytes - out))
        << "ngl " << c.ngl;
    const uint64_t per_layer_kv = Kv(Dense(1), r);
    EXPECT_EQ(b->devices[1].kv_cache, c.gpu_blocks * per_layer_kv) << "ngl " << c.ngl;
    EXPECT_EQ(b->host().kv_cache, (8 - c.gpu_blocks) * per_layer_kv) << "ngl " << c.ngl;
    EXPECT_EQ(b->n_gpu_layers, c.gpu_blocks + (c.output_on_gpu ? 1 : 0));
    EXPECT_GT(b->host().output, 0u) << "logits are always read on the host";
    if (c.gpu_blocks > 0) {
      EXPECT_GT(b->devices[1].compute, 0u);
    }
  }
}

TEST(PlacementTest, TwoGpusSplitByFreeMemory) {
  // 9 units (8 blocks + output) cut at the cumulative shares of free memory:
  // unit il goes to the first GPU whose share exceeds il / 9.
  const ModelFacts f = Dense(8);
  struct Case {
    uint64_t free0, free1;
    uint32_t units0;  // units on the first GPU: the count of il/9 < share0
  };
  for (const Case& c :
       {Case{8 * kGiB, 8 * kGiB, 5}, Case{12 * kGiB, 4 * kGiB, 7}, Case{4 * kGiB, 12 * kGiB, 3}}) {
    const std::vector<GpuMemory> gpus = {{"CUDA0", 16 * kGiB, c.free0},
                                         {"CUDA1", 16 * kGiB, c.free1}};
    MemoryRequest r = Request(4096);
    r.n_gpu_layers = -1;
    Result<MemoryBreakdown> b = Estimate(f, r, gpus);
    ASSERT_OK(b);
    ASSERT_EQ(b->devices.size(), 3u);
    EXPECT_EQ(b->devices[1].weights, c.units0 * 100 * kMiB);
    EXPECT_EQ(b->devices[2].weights, (8 - c.units0) * 100 * kMiB + f.output_bytes);
    EXPECT_EQ(b->host().weights, f.input_bytes) << "token embeddings stay on the CPU";
    EXPECT_EQ(b->host().kv_cache, 0u);
    EXPECT_GT(b->devices[1].compute, 0u);
    EXPECT_GT(b->devices[2].compute, b->devices[1].compute) << "the output layer's logits";
    EXPECT_EQ(b->devices[1].device, "CUDA0");
    EXPECT_EQ(b->devices[2].device, "CUDA1");
  }
}

TEST(PlacementTest, WithoutGpusEverythingStaysOnTheHost) {
  const ModelFacts f = Dense(4);
  MemoryRequest r = Request(2048);
  r.n_gpu_layers = -1;
  Result<MemoryBreakdown> b = Estimate(f, r);
  ASSERT_OK(b);
  ASSERT_EQ(b->devices.size(), 1u);
  EXPECT_EQ(b->n_gpu_layers, 0);
  EXPECT_EQ(b->host().weights, f.WeightBytes());
  EXPECT_EQ(b->GpuTotal(), 0u);
}

TEST(PlacementTest, TiedOutputIsCopiedToTheGpu) {
  ModelFacts f = Dense(4);
  f.tied_output_bytes = f.input_bytes;
  MemoryRequest r = Request(2048);
  r.n_gpu_layers = -1;
  const std::vector<GpuMemory> gpu = {{"CUDA0", 8 * kGiB, 8 * kGiB}};
  Result<MemoryBreakdown> on_gpu = Estimate(f, r, gpu);
  ASSERT_OK(on_gpu);
  EXPECT_EQ(on_gpu->devices[1].weights, 4 * 100 * kMiB + f.output_bytes + f.input_bytes);
  r.n_gpu_layers = 0;
  Result<MemoryBreakdown> on_cpu = Estimate(f, r, gpu);
  ASSERT_OK(on_cpu);
  EXPECT_EQ(on_cpu->host().weights, f.WeightBytes()) << "one copy while the CPU holds both";
}

TEST(PlacementTest, MoeExpertsAreAllResident) {
  const gguf::ModelSummary s = testing::TinySummary("qwen3moe");
  Result<ModelFacts> f = FactsFromSummary(s);
  ASSERT_OK(f);
  uint64_t all_tensors = 0;
  for (const gguf::TensorInfo& t : s.tensors) all_tensors += PadTo(t.size, 32);
  Result<MemoryBreakdown> b = Estimate(*f, Request(2048));
  ASSERT_OK(b);
  EXPECT_EQ(b->host().weights, all_tensors);
  EXPECT_GT(f->layers[0].n_ff_expert, 0u);
  EXPECT_EQ(f->layers[0].n_expert_used, s.expert_used_count.value_or(0));
}

// --- Compute and flash attention ------------------------------------------------

TEST(ComputeTest, WithoutFlashAttentionKqGrowsWithTheContext) {
  const ModelFacts f = Dense(2);
  Result<MemoryBreakdown> off_small = Estimate(f, Request(4096, "f16", FlashAttention::kOff));
  Result<MemoryBreakdown> off_large = Estimate(f, Request(32768, "f16", FlashAttention::kOff));
  Result<MemoryBreakdown> on_large = Estimate(f, Request(32768, "f16", FlashAttention::kOn));
  ASSERT_OK(off_small);
  ASSERT_OK(off_large);
  ASSERT_OK(on_large);
  // KQ: n_kv × n_ubatch × n_head × 4 bytes.
  EXPECT_GE(off_large->host().compute, uint64_t{32768} * 512 * 8 * 4);
  EXPECT_LT(on_large->host().compute, off_large->host().compute);
  EXPECT_LT(off_small->host().compute, off_large->host().compute);
  EXPECT_FALSE(off_large->flash_attn);
  EXPECT_TRUE(on_large->flash_attn);
}

TEST(ComputeTest, AutoFlashAttentionResolvesOn) {
  Result<MemoryBreakdown> b = Estimate(Dense(2), Request(4096, "q8_0", FlashAttention::kAuto));
  ASSERT_OK(b);
  EXPECT_TRUE(b->flash_attn);
}

TEST(EstimateTest, RejectsMalformedRequests) {
  const ModelFacts f = Dense(2);
  EXPECT_THAT(Estimate(f, Request(4096, "q8_0", FlashAttention::kOff)),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(Estimate(f, Request(4096, "q9_9")), StatusIs(StatusCode::kInvalidArgument));
  MemoryRequest zero = Request(4096);
  zero.n_ubatch = 0;
  EXPECT_THAT(Estimate(f, zero), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(Estimate(ModelFacts{}, Request(4096)), StatusIs(StatusCode::kInvalidArgument));
  MemoryRequest crowded = Request(256);
  crowded.n_seq = 512;  // llama.cpp: "n_ctx_seq == 0"
  EXPECT_THAT(Estimate(f, crowded), StatusIs(StatusCode::kInvalidArgument));
  // A quantized K cache alone works without flash attention.
  MemoryRequest k_only = Request(4096, "f16", FlashAttention::kOff);
  k_only.type_k = CacheType{"q8_0"};
  EXPECT_OK(Estimate(f, k_only));
}

TEST(EstimateTest, EveryCatalogGgufEntryGetsAnEstimateNearItsFileSize) {
  int estimated = 0;
  for (const CatalogEntry& e : BuiltinCatalog()) {
    if (e.format != ModelFormat::kGguf || e.arch.block_count == 0) continue;
    Result<MemoryBreakdown> b = Estimate(e, Request(4096));
    ASSERT_OK(b) << e.id;
    const double weights = static_cast<double>(b->host().weights);
    EXPECT_NEAR(weights, static_cast<double>(e.file_size_bytes), 0.01 * e.file_size_bytes) << e.id;
    EXPECT_GT(b->host().kv_cache, 0u) << e.id;
    EXPECT_EQ(b->n_ctx, 4096u) << e.id;
    ++estimated;
  }
  EXPECT_GT(estimated, 10);
}

TEST(EstimateTest, CatalogEntryWithoutArchitectureIsRejected) {
  CatalogEntry e;
  e.id = "mystery";
  e.file_size_bytes = kGiB;
  EXPECT_THAT(Estimate(e, Request(4096)), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(Estimate(e, Request(4096)), StatusHasMessage(HasSubstr("mystery")));
}

TEST(GpuMemoryTest, NamesDevicesAsLlamaCppDoes) {
  std::vector<GpuInfo> gpus(3);
  gpus[0].vendor = "nvidia";
  gpus[0].vram_total = 8 * kGiB;
  gpus[0].vram_free = 6 * kGiB;
  gpus[1].vendor = "nvidia";
  gpus[1].vram_total = 4 * kGiB;
  gpus[2].vendor = "amd";
  gpus[2].vram_total = 16 * kGiB;
  const std::vector<GpuMemory> m = GpuMemoryOf(gpus);
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0].name, "CUDA0");
  EXPECT_EQ(m[0].free, 6 * kGiB);
  EXPECT_EQ(m[1].name, "CUDA1");
  EXPECT_EQ(m[1].free, 4 * kGiB) << "unknown free memory counts as the total";
  EXPECT_EQ(m[2].name, "ROCm0");
}

}  // namespace
}  // namespace hangar::fit
