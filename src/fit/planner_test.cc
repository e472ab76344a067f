#include "fit/planner.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "core/status_matchers.h"
#include "core/units.h"
#include "fit/estimator.h"
#include "fit/test_models.h"

namespace hangar::fit {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr uint64_t kGb = 1000ULL * 1000 * 1000;

HardwareInfo Machine(uint64_t ram, std::vector<uint64_t> vram = {}) {
  HardwareInfo hw;
  hw.memory.total = ram;
  hw.memory.available = ram;
  hw.memory.usable = ram;
  for (size_t i = 0; i < vram.size(); ++i) {
    GpuInfo g;
    g.index = static_cast<int>(i);
    g.vendor = "nvidia";
    g.name = "Test GPU";
    g.vram_total = vram[i];
    g.vram_free = vram[i];
    hw.gpus.push_back(g);
  }
  return hw;
}

ModelFacts CatalogFacts(const char* id) {
  const CatalogEntry* e = FindById(id);
  EXPECT_NE(e, nullptr) << id;
  Result<ModelFacts> f = FactsFromCatalog(*e);
  EXPECT_OK(f);
  return f.value_or(ModelFacts{});
}

PlanOptions Options(uint32_t n_ctx, bool max_context = false) {
  PlanOptions o;
  o.request.n_ctx = n_ctx;
  o.max_context = max_context;
  return o;
}

TEST(BudgetsTest, ShareOfUsableRamLessTheReserve) {
  Limits limits;  // 80%, 90%, 2 GB
  const Budgets b = ComputeBudgets(Machine(16 * kGb, {8 * kGb}), limits);
  EXPECT_EQ(b.ram, static_cast<uint64_t>(0.8 * 16 * kGb) - 2 * kGb);
  ASSERT_EQ(b.gpus.size(), 1u);
  EXPECT_EQ(b.gpus[0], static_cast<uint64_t>(0.9 * 8 * kGb));
  EXPECT_EQ(b.ram_explanation, "80% of 16.0 GB less 2.0 GB reserved");

  HardwareInfo limited = Machine(64 * kGb);
  limited.memory.cgroup_limit = 10 * kGb;
  limited.memory.usable = 10 * kGb;
  EXPECT_EQ(ComputeBudgets(limited, limits).ram, 6 * kGb) << "the cgroup limit is what counts";

  Limits absolute;
  absolute.max_ram_usage = Amount{.is_fraction = false, .fraction = 0, .bytes = 6 * kGb};
  const Budgets a = ComputeBudgets(Machine(64 * kGb), absolute);
  EXPECT_EQ(a.ram, 4 * kGb);
  EXPECT_EQ(a.ram_explanation, "limit 6.0 GB less 2.0 GB reserved");

  EXPECT_EQ(ComputeBudgets(Machine(1 * kGb), limits).ram, 0u) << "the reserve exceeds the share";
}

TEST(PlanFitTest, FitsOnTheCpuWhenRamSuffices) {
  const ModelFacts f = CatalogFacts("qwen2.5-coder-7b-q4");
  Result<FitPlan> plan = PlanFit(f, Options(8192), Machine(64 * kGb), Limits{});
  ASSERT_OK(plan);
  EXPECT_TRUE(plan->fits);
  EXPECT_EQ(plan->request.n_gpu_layers, 0);
  EXPECT_EQ(plan->request.n_ctx, 8192u);
  EXPECT_LE(plan->memory.HostTotal(), plan->budgets.ram);
  EXPECT_THAT(plan->reason, StartsWith("fits with 8192 tokens of context"));
  EXPECT_FALSE(plan->probed);
}

TEST(PlanFitTest, TooLittleRamSaysHowMuchIsNeededAndWhy) {
  const ModelFacts f = CatalogFacts("qwen2.5-coder-14b-q4");
  Result<FitPlan> plan = PlanFit(f, Options(8192), Machine(8 * kGb), Limits{});
  ASSERT_OK(plan);
  EXPECT_FALSE(plan->fits);
  const std::string needs = fmt::format("needs {:.1f} GB of RAM", plan->memory.HostTotal() / 1e9);
  EXPECT_THAT(plan->reason, HasSubstr(needs));
  EXPECT_THAT(plan->reason,
              HasSubstr("4.4 GB usable within limits (80% of 8.0 GB less 2.0 GB reserved)"));
  EXPECT_GT(plan->memory.HostTotal(), plan->budgets.ram);
}

TEST(PlanFitTest, AutoLayersFillTwoGpusAsFarAsTheyGo) {
  const ModelFacts f = CatalogFacts("qwen2.5-coder-14b-q4");
  const int32_t all = static_cast<int32_t>(f.n_layer()) + 1;
  {
    const HardwareInfo hw = Machine(64 * kGb, {4 * kGb, 4 * kGb});
    Result<FitPlan> plan = PlanFit(f, Options(8192), hw, Limits{});
    ASSERT_OK(plan);
    EXPECT_TRUE(plan->fits);
    const int32_t ngl = plan->request.n_gpu_layers;
    EXPECT_GT(ngl, 0);
    EXPECT_LT(ngl, all);
    ASSERT_EQ(plan->memory.devices.size(), 3u);
    for (size_t i = 0; i < 2; ++i) {
      EXPECT_LE(plan->memory.devices[1 + i].Total(), plan->budgets.gpus[i]);
      EXPECT_GT(plan->memory.devices[1 + i].weights, 0u) << "both GPUs hold layers";
    }
    // One more layer would overflow a GPU.
    MemoryRequest more = plan->request;
    more.n_gpu_layers = ngl + 1;
    Result<MemoryBreakdown> b = Estimate(f, more, GpuMemoryOf(hw.gpus));
    ASSERT_OK(b);
    EXPECT_TRUE(b->devices[1].Total() > plan->budgets.gpus[0] ||
                b->devices[2].Total() > plan->budgets.gpus[1]);
    EXPECT_THAT(plan->reason, HasSubstr(fmt::format("{} of {} layers on the GPUs", ngl, all)));
  }
  {
    Result<FitPlan> plan =
        PlanFit(f, Options(8192), Machine(64 * kGb, {16 * kGb, 16 * kGb}), Limits{});
    ASSERT_OK(plan);
    EXPECT_TRUE(plan->fits);
    EXPECT_EQ(plan->request.n_gpu_layers, all) << "full offload when it fits";
  }
  {
    PlanOptions fixed = Options(8192);
    fixed.auto_gpu_layers = false;
    fixed.request.n_gpu_layers = -1;
    Result<FitPlan> plan = PlanFit(f, fixed, Machine(64 * kGb, {4 * kGb, 4 * kGb}), Limits{});
    ASSERT_OK(plan);
    EXPECT_FALSE(plan->fits);
    EXPECT_THAT(plan->reason, HasSubstr("on CUDA"));
    EXPECT_THAT(plan->reason, HasSubstr("usable within limits (90% of 4.0 GB)"));
  }
}

TEST(PlanFitTest, WorkersTakeTheFewestLayersThatLetTheRestFitHere) {
  const ModelFacts f = CatalogFacts("qwen2.5-coder-14b-q4");
  const int32_t all = static_cast<int32_t>(f.n_layer()) + 1;
  const HardwareInfo hw = Machine(8 * kGb);  // 4.4 GB budget: the model does not fit alone
  PlanOptions o = Options(8192);
  o.remote = {{"RPC0[a:1]", 3 * kGb}, {"RPC1[b:1]", 6 * kGb}};
  Result<FitPlan> plan = PlanFit(f, o, hw, Limits{});
  ASSERT_OK(plan);
  EXPECT_TRUE(plan->fits) << plan->reason;
  const int32_t ngl = plan->request.n_gpu_layers;
  EXPECT_GT(ngl, 0);
  EXPECT_LT(ngl, all);
  ASSERT_EQ(plan->memory.devices.size(), 3u);
  EXPECT_LE(plan->memory.HostTotal(), plan->budgets.ram);
  EXPECT_EQ(plan->budgets.gpus, (std::vector<uint64_t>{3 * kGb, 6 * kGb}));
  EXPECT_EQ(plan->split, (std::vector<double>{3e9, 6e9}));
  EXPECT_EQ(plan->memory.devices[1].device, "RPC0[a:1]");
  // Layers in proportion to the budgets: the larger worker holds more.
  EXPECT_GT(plan->memory.devices[2].weights, plan->memory.devices[1].weights);
  // With one layer fewer on the workers, something would not fit.
  MemoryRequest fewer = plan->request;
  fewer.n_gpu_layers = ngl - 1;
  std::vector<GpuMemory> devices = {{"RPC0[a:1]", 3 * kGb, 3 * kGb},
                                    {"RPC1[b:1]", 6 * kGb, 6 * kGb}};
  Result<MemoryBreakdown> b = Estimate(f, fewer, devices);
  ASSERT_OK(b);
  EXPECT_TRUE(b->HostTotal() > plan->budgets.ram || b->devices[1].Total() > 3 * kGb ||
              b->devices[2].Total() > 6 * kGb);
  EXPECT_THAT(plan->reason, HasSubstr(fmt::format("{} of {} layers on the workers", ngl, all)));

  // Workers too small: need vs what the worker offers.
  o.remote = {{"RPC0[a:1]", 200 * 1000 * 1000}};
  plan = PlanFit(f, o, hw, Limits{});
  ASSERT_OK(plan);
  EXPECT_FALSE(plan->fits);
  EXPECT_THAT(plan->reason, HasSubstr("on RPC0[a:1], 200 MB offered by the worker"));
}

TEST(PlanFitTest, LargestContextGrowsWithMemoryAndIsTheLargest) {
  const ModelFacts f = CatalogFacts("llama3.1-8b-q4");
  uint32_t previous = 0;
  for (uint64_t ram_gb : {10, 12, 16, 24, 32, 64}) {
    const HardwareInfo hw = Machine(ram_gb * kGb);
    Result<FitPlan> plan = PlanFit(f, Options(0, /*max_context=*/true), hw, Limits{});
    ASSERT_OK(plan);
    ASSERT_TRUE(plan->fits) << ram_gb << " GB";
    const uint32_t ctx = plan->request.n_ctx;
    EXPECT_EQ(ctx % kContextStep, 0u);
    EXPECT_GE(ctx, previous) << ram_gb << " GB";
    EXPECT_LE(ctx, f.n_ctx_train);
    EXPECT_LE(plan->memory.HostTotal(), plan->budgets.ram);
    if (ctx + kContextStep <= f.n_ctx_train) {
      MemoryRequest more = plan->request;
      more.n_ctx = ctx + kContextStep;
      Result<MemoryBreakdown> b = Estimate(f, more);
      ASSERT_OK(b);
      EXPECT_GT(b->HostTotal(), plan->budgets.ram) << ram_gb << " GB: " << ctx << " is the largest";
    }
    previous = ctx;
  }
  EXPECT_EQ(previous, f.n_ctx_train) << "64 GB holds the whole trained context";
}

TEST(PlanFitTest, NothingFitsEvenAtTheSmallestContext) {
  const ModelFacts f = CatalogFacts("llama3.1-70b-q4");
  Result<FitPlan> plan = PlanFit(f, Options(0, true), Machine(16 * kGb), Limits{});
  ASSERT_OK(plan);
  EXPECT_FALSE(plan->fits);
  EXPECT_THAT(plan->reason, StartsWith("does not fit even with 256 tokens of context: needs"));
}

TEST(PlanFitTest, ProbeConfirmsALocalFile) {
  const std::filesystem::path model = testing::TinyModel("llama");
  Result<ModelFacts> f = FactsFromSummary(testing::TinySummary("llama"));
  ASSERT_OK(f);
  PlanOptions o = Options(4096);
  o.probe_model = model;
  Result<FitPlan> plan = PlanFit(*f, o, Machine(16 * kGb), Limits{});
  ASSERT_OK(plan);
  EXPECT_TRUE(plan->fits);
  EXPECT_TRUE(plan->probed);
  EXPECT_EQ(plan->memory.method, "probe");
  o.probe_model = model.parent_path() / "absent.gguf";
  EXPECT_THAT(PlanFit(*f, o, Machine(16 * kGb), Limits{}), StatusIs(StatusCode::kNotFound));
}

TEST(PlanFitTest, ProbeCorrectsAnEstimateThatWasTooLow) {
  // Facts that leave out the weights: the estimate is too low by their size,
  // the probe finds them, and the search runs again with the correction.
  Result<ModelFacts> f = FactsFromSummary(testing::TinySummary("llama"));
  ASSERT_OK(f);
  const uint64_t weights = f->WeightBytes();
  ModelFacts light = *f;
  light.input_bytes = light.output_bytes = 0;
  for (LayerFacts& l : light.layers) l.weight_bytes = 0;
  // Without flash attention the KQ matrix makes memory grow with the context.
  PlanOptions o = Options(0, /*max_context=*/true);
  o.request.flash_attn = FlashAttention::kOff;
  o.probe_model = testing::TinyModel("llama");
  MemoryRequest base = o.request;
  base.n_ctx = 12288;
  Result<MemoryBreakdown> at_base = Estimate(*f, base);
  ASSERT_OK(at_base);
  Limits limits;
  limits.os_reserve = Amount{.is_fraction = false, .fraction = 0, .bytes = 0};
  // Enough for the real model at 12288 tokens and a little more.
  limits.max_ram_usage =
      Amount{.is_fraction = false, .fraction = 0, .bytes = at_base->HostTotal() + weights / 4};
  Result<FitPlan> plan = PlanFit(light, o, Machine(16 * kGb), limits);
  ASSERT_OK(plan);
  EXPECT_TRUE(plan->probed);
  EXPECT_TRUE(plan->fits) << plan->reason;
  EXPECT_LE(plan->memory.HostTotal(), plan->budgets.ram);
  EXPECT_GE(plan->request.n_ctx, 12288u);
  MemoryRequest more = plan->request;
  more.n_ctx += kContextStep;
  Result<MemoryBreakdown> over = Estimate(*f, more);
  ASSERT_OK(over);
  EXPECT_GT(over->HostTotal(), plan->budgets.ram) << "the corrected search found the largest";
}

TEST(PlanJsonTest, HasTheDocumentedShape) {
  const ModelFacts f = CatalogFacts("qwen2.5-coder-7b-q4");
  Result<FitPlan> plan = PlanFit(f, Options(4096), Machine(32 * kGb, {8 * kGb}), Limits{});
  ASSERT_OK(plan);
  const nlohmann::json j = ToJson(*plan);
  for (const char* key :
       {"fits", "reason", "probed", "probe_note", "n_ctx", "n_gpu_layers", "budgets", "memory"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["fits"], plan->fits);
  EXPECT_EQ(j["n_ctx"], 4096);
  EXPECT_EQ(j["budgets"]["gpus"].size(), 1u);
  EXPECT_EQ(j["budgets"]["ram"], plan->budgets.ram);
  EXPECT_EQ(j["memory"]["devices"].size(), 2u);
  EXPECT_EQ(j["memory"]["method"], "estimate");
}

}  // namespace
}  // namespace hangar::fit
