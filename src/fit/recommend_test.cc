#include "fit/recommend.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "core/status_matchers.h"
#include "core/units.h"

namespace hangar::fit {
namespace {

using ::testing::HasSubstr;

// --- A simple, real memory formula for the tests -----------------------------
// Weights: the file size, split by the share of layers on the GPUs (the output
// layer counts as one). KV: the catalog's f16 formula from the architecture
// facts (q8_0: 34 bytes per 32 values instead of 64). Compute: a fixed buffer
// on each device that holds layers.
constexpr uint64_t kCompute = 300'000'000;

Result<MemoryBreakdown> FormulaMemory(const CatalogEntry& e, const MemoryRequest& r,
                                      const HardwareInfo& hw) {
  if (e.arch.block_count == 0) {
    return InvalidArgumentError("no architecture facts for " + e.id);
  }
  const uint32_t layers = e.arch.block_count + 1;
  uint32_t on_gpu = 0;
  if (!hw.gpus.empty()) {
    on_gpu = r.n_gpu_layers < 0 ? layers
                                : std::min<uint32_t>(static_cast<uint32_t>(r.n_gpu_layers), layers);
  }
  const double gpu_share = static_cast<double>(on_gpu) / layers;
  const double kv_gpu_share =
      static_cast<double>(std::min(on_gpu, e.arch.block_count)) / e.arch.block_count;
  double kv = static_cast<double>(ApproxKvCacheBytes(e.arch, r.n_ctx));
  if (r.type_k.name == "q8_0") kv *= 34.0 / 64.0;
  const double file = static_cast<double>(e.file_size_bytes);

  MemoryBreakdown b;
  b.method = "formula";
  b.n_ctx = r.n_ctx;
  b.n_gpu_layers = static_cast<int32_t>(on_gpu);
  DeviceMemory host;
  host.device = "CPU";
  host.weights = static_cast<uint64_t>(file * (1 - gpu_share));
  host.kv_cache = static_cast<uint64_t>(kv * (1 - kv_gpu_share));
  host.compute = on_gpu < layers ? kCompute : kCompute / 4;
  b.devices.push_back(host);
  const double gpus = static_cast<double>(hw.gpus.size());
  for (size_t i = 0; i < hw.gpus.size(); ++i) {
    DeviceMemory d;
    d.device = "CUDA" + std::to_string(i);
    d.weights = static_cast<uint64_t>(file * gpu_share / gpus);
    d.kv_cache = static_cast<uint64_t>(kv * kv_gpu_share / gpus);
    d.compute = on_gpu > 0 ? kCompute : 0;
    b.devices.push_back(d);
  }
  return b;
}

constexpr double kHostBandwidth = 40e9;

RecommendInputs Inputs(const UsageStats* usage = nullptr) {
  return RecommendInputs{.memory = FormulaMemory, .host_bandwidth = kHostBandwidth, .usage = usage};
}

HardwareInfo Base() {
  HardwareInfo hw;
  hw.cpu.model = "Test CPU";
  hw.cpu.arch = "x86_64";
  hw.cpu.physical_cores = 8;
  hw.cpu.logical_cores = 16;
  hw.cpu.max_mhz = 3500;
  hw.cpu.features = {"avx", "avx2", "fma"};
  hw.memory.total = hw.memory.available = hw.memory.usable = 16 * kGB;
  return hw;
}

// A machine by its RAM, GPU memory (per GPU) and GPU count.
HardwareInfo Machine(uint64_t ram, uint64_t vram = 0, int gpus = 0, int cores = 8) {
  MachineDescription d;
  d.ram = ram;
  d.cores = cores;
  d.gpus = vram > 0 ? std::max(gpus, 1) : 0;
  if (vram > 0) d.vram = vram;
  Result<HardwareInfo> hw = DescribeMachine(d, Base());
  EXPECT_TRUE(hw.ok()) << hw.status().ToString();
  return hw.ok() ? *hw : Base();
}

const Catalog& Builtins() { return DefaultCatalog(); }

Recommendation MustRecommend(const HardwareInfo& hw, const RecommendOptions& options,
                             const UsageStats* usage = nullptr,
                             std::vector<std::string> installed = {},
                             const Limits& limits = Limits{}) {
  Result<Recommendation> r = Recommend(Builtins(), installed, hw, limits, options, Inputs(usage));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *std::move(r) : Recommendation{};
}

const Candidate* FindCandidate(const Recommendation& r, std::string_view id) {
  for (const Candidate& c : r.candidates) {
    if (c.entry->id == id) return &c;
  }
  return nullptr;
}

// --- Budgets and placement ----------------------------------------------------

TEST(RecommendTest, BudgetsFollowTheLimits) {
  const HardwareInfo hw = Machine(32 * kGB, 24 * kGB, 2);
  Recommendation r = MustRecommend(hw, {.limit = 1});
  const Limits defaults;
  EXPECT_EQ(r.ram_budget, defaults.max_ram_usage.Of(32 * kGB) - defaults.os_reserve.Of(32 * kGB));
  ASSERT_EQ(r.gpu_budgets.size(), 2u);
  EXPECT_EQ(r.gpu_budgets[0], defaults.gpu_memory_usage.Of(24 * kGB));

  Limits fixed;
  fixed.max_ram_usage = Amount{.is_fraction = false, .fraction = 0, .bytes = 10 * kGB};
  fixed.os_reserve = Amount{.is_fraction = false, .fraction = 0, .bytes = 1 * kGB};
  fixed.gpu_memory_usage = Amount{.is_fraction = true, .fraction = 0.5, .bytes = 0};
  Recommendation f = MustRecommend(hw, {.limit = 1}, nullptr, {}, fixed);
  EXPECT_EQ(f.ram_budget, 9 * kGB);
  EXPECT_EQ(f.gpu_budgets[0], 12 * kGB);

  // A reserve larger than the share leaves nothing rather than wrapping.
  Limits starved;
  starved.os_reserve = Amount{.is_fraction = false, .fraction = 0, .bytes = 64 * kGB};
  Recommendation s = MustRecommend(hw, {}, nullptr, {}, starved);
  EXPECT_EQ(s.ram_budget, 0u);
  EXPECT_TRUE(s.candidates.empty());
  EXPECT_FALSE(s.warnings.empty());
}

TEST(RecommendTest, EveryPlacementFitsItsBudgets) {
  const HardwareInfo machines[] = {Machine(8 * kGB), Machine(32 * kGB, 8 * kGB),
                                   Machine(64 * kGB, 24 * kGB, 2), Machine(16 * kGB, 4 * kGB)};
  for (const HardwareInfo& hw : machines) {
    Recommendation r = MustRecommend(hw, {});
    ASSERT_FALSE(r.candidates.empty());
    for (const Candidate& c : r.candidates) {
      const Placement& p = c.placement;
      EXPECT_LE(p.ram_needed, r.ram_budget) << c.entry->id;
      EXPECT_EQ(p.ram_needed, p.memory.HostTotal()) << c.entry->id;
      for (size_t i = 0; i < p.gpu_needed.size(); ++i) {
        if (p.n_gpu_layers != 0) {
          EXPECT_LE(p.gpu_needed[i], r.gpu_budgets[i]) << c.entry->id;
        }
      }
      if (hw.gpus.empty()) {
        EXPECT_EQ(p.n_gpu_layers, 0) << c.entry->id;
      }
      EXPECT_EQ(p.full_offload, p.n_gpu_layers == -1) << c.entry->id;
      EXPECT_EQ(c.settings.n_gpu_layers, p.n_gpu_layers) << c.entry->id;
    }
    for (const Rejection& j : r.rejections) {
      if (j.ram_needed > 0) {
        EXPECT_GT(j.ram_needed, r.ram_budget) << j.entry->id;
        EXPECT_THAT(j.reason, HasSubstr("needs")) << j.entry->id;
        EXPECT_THAT(j.reason, HasSubstr("budget")) << j.entry->id;
      }
    }
  }
}

// The GPU layer count is the largest that fits, found by a binary search.
TEST(RecommendTest, PartialOffloadIsTheMostLayersThatFit) {
  struct Case {
    std::string id;
    uint64_t vram;
  };
  const Case cases[] = {{"llama3.1-8b-q8", 8 * kGB},
                        {"qwen2.5-coder-14b-q5", 8 * kGB},
                        {"llama3.1-70b-q4", 24 * kGB},
                        {"gemma3-27b-q4", 12 * kGB}};
  for (const Case& c : cases) {
    const CatalogEntry* entry = FindById(c.id);
    ASSERT_NE(entry, nullptr) << c.id;
    const HardwareInfo hw = Machine(128 * kGB, c.vram);
    int calls = 0;
    RecommendInputs inputs = Inputs();
    inputs.memory = [&](const CatalogEntry& e, const MemoryRequest& r,
                        const HardwareInfo& h) -> Result<MemoryBreakdown> {
      ++calls;
      return FormulaMemory(e, r, h);
    };
    RecommendOptions options;
    options.families = {entry->family};
    Result<Recommendation> r = Recommend(Builtins(), {}, hw, Limits{}, options, inputs);
    ASSERT_OK(r);
    const Candidate* cand = FindCandidate(*r, c.id);
    ASSERT_NE(cand, nullptr) << c.id;
    const Placement& p = cand->placement;
    ASSERT_FALSE(p.full_offload) << c.id;
    ASSERT_GT(p.n_gpu_layers, 0) << c.id;
    const uint64_t budget = r->gpu_budgets[0];
    MemoryRequest request;
    request.n_ctx = p.memory.n_ctx;
    request.n_gpu_layers = p.n_gpu_layers;
    EXPECT_LE(FormulaMemory(*entry, request, hw)->devices[1].Total(), budget) << c.id;
    request.n_gpu_layers = p.n_gpu_layers + 1;
    EXPECT_GT(FormulaMemory(*entry, request, hw)->devices[1].Total(), budget) << c.id;
    // Full try, CPU-only try, then log2(layers) probes per family member.
    const int layers = static_cast<int>(entry->arch.block_count) + 1;
    const int per_entry = 2 + static_cast<int>(std::ceil(std::log2(layers)));
    int members = 0;
    for (const CatalogEntry& e : Builtins().entries()) members += e.family == entry->family;
    EXPECT_LE(calls, 2 * per_entry * members) << c.id;  // twice: f16, then q8_0
  }
}

TEST(RecommendTest, FullOffloadWhenEverythingFits) {
  Recommendation r = MustRecommend(Machine(32 * kGB, 24 * kGB), {.families = {"llama3.1"}});
  const Candidate* c = FindCandidate(r, "llama3.1-8b-q4");
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->placement.full_offload);
  EXPECT_EQ(c->settings.n_gpu_layers, -1);
  EXPECT_EQ(c->settings.flash_attn, FlashAttention::kOn);
  EXPECT_THAT(c->reasons.front(), HasSubstr("all 33 layers on the GPU"));
}

TEST(RecommendTest, TightMemoryFallsBackToQ8Cache) {
  const CatalogEntry* e = FindById("llama3.1-8b-q4");
  ASSERT_NE(e, nullptr);
  const uint32_t context = 32768;
  MemoryRequest request;
  request.n_ctx = context;
  const HardwareInfo probe = Machine(64 * kGB);
  const uint64_t f16 = FormulaMemory(*e, request, probe)->HostTotal();
  request.type_k.name = request.type_v.name = "q8_0";
  const uint64_t q8 = FormulaMemory(*e, request, probe)->HostTotal();
  ASSERT_LT(q8, f16);
  // RAM whose budget (80% minus 2 GB) lies halfway between the two needs.
  const uint64_t budget = (f16 + q8) / 2;
  const uint64_t ram = static_cast<uint64_t>((budget + 2 * kGB) / 0.8);
  RecommendOptions options;
  options.families = {"llama3.1"};
  options.context = context;
  Recommendation r = MustRecommend(Machine(ram), options);
  const Candidate* c = FindCandidate(r, "llama3.1-8b-q4");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->placement.kv_type.name, "q8_0");
  EXPECT_EQ(c->settings.type_k.name, "q8_0");
  EXPECT_EQ(c->settings.context, context);  // an asked-for context is used
  EXPECT_THAT(c->reasons, testing::Contains(HasSubstr("q8_0 KV cache")));
}

// --- specs/000: the Gemma CLI's recommendation by RAM -----------------------------
// < 4 GB: the smallest model or a warning; 4-8 GB: a 2B; 8-16 GB: a 4B;
// > 16 GB: 9B and larger (quality priority), on the gemma entries.
TEST(RecommendPolicyTest, GemmaByRam) {
  struct Case {
    uint64_t ram;
    std::string label;  // parameter_label of the pick; "" = nothing fits; "9B+"
  };
  const Case cases[] = {
      {3 * kGB, ""},     {6 * kGB, "2B"},   {8 * kGB, "4B"},   {12 * kGB, "4B"},
      {16 * kGB, "9B+"}, {24 * kGB, "9B+"}, {32 * kGB, "9B+"}, {64 * kGB, "9B+"},
  };
  RecommendOptions options;
  options.families = {"gemma2", "gemma3"};
  options.purpose = Purpose::kQuality;
  for (const Case& c : cases) {
    Recommendation r = MustRecommend(Machine(c.ram), options);
    const std::string ram = FormatBytesDecimal(c.ram);
    if (c.label.empty()) {
      EXPECT_TRUE(r.candidates.empty()) << ram;
      ASSERT_EQ(r.warnings.size(), 1u) << ram;
      // The warning names the smallest gemma model and what it needs.
      const CatalogEntry* smallest = nullptr;
      for (const CatalogEntry& e : Builtins().entries()) {
        if ((e.family == "gemma2" || e.family == "gemma3") &&
            (smallest == nullptr || e.file_size_bytes < smallest->file_size_bytes)) {
          smallest = &e;
        }
      }
      EXPECT_THAT(r.warnings[0], HasSubstr(smallest->id)) << ram;
      continue;
    }
    ASSERT_FALSE(r.candidates.empty()) << ram;
    const CatalogEntry& top = *r.candidates.front().entry;
    if (c.label == "9B+") {
      EXPECT_GE(top.parameter_count, 9e9) << ram << ": " << top.id;
    } else {
      EXPECT_EQ(top.parameter_label, c.label) << ram << ": " << top.id;
    }
    EXPECT_THAT(top.family, testing::StartsWith("gemma")) << ram;
  }
}

// Policy::kGemma is the rule itself, at every band edge and inside each band.
TEST(RecommendPolicyTest, GemmaPolicyByRam) {
  struct Case {
    uint64_t ram;
    std::string id;  // the pick; "" = nothing offered
    bool warning;
  };
  const Case cases[] = {
      {kGB / 2, "", true},
      {3 * kGB, "gemma3-1b-q4", true},
      {4 * kGB, "gemma2-2b-q4", false},
      {5 * kGB, "gemma2-2b-q4", false},
      {7 * kGB, "gemma2-2b-q4", false},
      {8 * kGB - 1, "gemma2-2b-q4", false},
      {8 * kGB, "gemma3-4b-q4", false},
      {12 * kGB, "gemma3-4b-q4", false},
      {16 * kGB - 1, "gemma3-4b-q4", false},
  };
  RecommendOptions options;
  options.policy = Policy::kGemma;
  for (const Case& c : cases) {
    Recommendation r = MustRecommend(Machine(c.ram), options);
    const std::string ram = FormatBytesDecimal(c.ram);
    EXPECT_EQ(r.policy, Policy::kGemma);
    EXPECT_EQ(!r.warnings.empty(), c.warning) << ram;
    if (c.id.empty()) {
      EXPECT_TRUE(r.candidates.empty()) << ram;
      ASSERT_FALSE(r.warnings.empty()) << ram;
      EXPECT_THAT(r.warnings[0], HasSubstr("gemma3-1b-q4")) << ram;
      continue;
    }
    ASSERT_FALSE(r.candidates.empty()) << ram;
    EXPECT_EQ(r.candidates.front().entry->id, c.id) << ram;
    EXPECT_THAT(r.candidates.front().reasons.front(), HasSubstr("Gemma rule")) << ram;
    for (const Candidate& cand : r.candidates) {
      EXPECT_THAT(cand.entry->family, testing::StartsWith("gemma")) << ram;
      EXPECT_LE(cand.entry->min_ram_bytes, c.ram) << ram << ": " << cand.entry->id;
    }
  }
  // 16 GB and more: 9B and larger, the highest quality that fits first.
  for (uint64_t ram : {16 * kGB, 24 * kGB, 32 * kGB, 64 * kGB}) {
    Recommendation r = MustRecommend(Machine(ram), options);
    ASSERT_FALSE(r.candidates.empty());
    const CatalogEntry& top = *r.candidates.front().entry;
    EXPECT_GE(top.parameter_count, 9e9) << FormatBytesDecimal(ram);
    for (const CatalogEntry& e : Builtins().entries()) {
      if (!e.family.starts_with("gemma") || e.parameter_count < 9e9 || e.min_ram_bytes > ram)
        continue;
      EXPECT_GE(top.quality_tier, e.quality_tier) << FormatBytesDecimal(ram) << ": " << e.id;
    }
  }
  // At 64 GB every Gemma model fits: the best is the 27B Gemma 3.
  EXPECT_EQ(MustRecommend(Machine(64 * kGB), options).candidates.front().entry->id,
            "gemma3-27b-q4");
}

// --- specs/002: vibrant's coding-model auto-selection ------------------------------
TEST(RecommendPolicyTest, CodingByRam) {
  struct Case {
    uint64_t ram;
    std::string id;  // "" = the insufficient-RAM error
  };
  const Case cases[] = {
      {4 * kGiB, ""},
      {5 * kGiB, ""},
      {6 * kGiB, "qwen2.5-coder-3b-q4"},
      {8 * kGiB, "qwen2.5-coder-3b-q4"},
      {10 * kGiB, "qwen2.5-coder-7b-q5"},
      {12 * kGiB, "qwen2.5-coder-7b-q5"},
      {15 * kGiB, "qwen2.5-coder-7b-q5"},
      {16 * kGiB, "qwen2.5-coder-14b-q5"},
      {20 * kGiB, "qwen2.5-coder-14b-q5"},
      {24 * kGiB, "qwen2.5-coder-14b-q5"},
      {64 * kGiB, "qwen2.5-coder-14b-q5"},
  };
  RecommendOptions options;
  options.policy = Policy::kCoding;
  for (const Case& c : cases) {
    Result<Recommendation> r =
        Recommend(Builtins(), {}, Machine(c.ram), Limits{}, options, Inputs());
    const std::string ram = FormatBytes(c.ram);
    if (c.id.empty()) {
      EXPECT_THAT(r, StatusIs(StatusCode::kResourceExhausted)) << ram;
      EXPECT_THAT(r, StatusHasMessage(HasSubstr("insufficient RAM"))) << ram;
      EXPECT_THAT(r, StatusHasMessage(HasSubstr("qwen2.5-coder-3b-q4"))) << ram;
      continue;
    }
    ASSERT_OK(r) << ram;
    ASSERT_FALSE(r->candidates.empty()) << ram;
    EXPECT_EQ(r->candidates.front().entry->id, c.id) << ram;
    EXPECT_EQ(r->policy, Policy::kCoding);
  }
}

// The thresholds are the catalog's min_ram_bytes plus the 2 GB OS reserve.
TEST(RecommendPolicyTest, CodingThresholdsComeFromTheCatalog) {
  RecommendOptions options;
  options.policy = Policy::kCoding;
  const uint64_t reserve = Limits{}.os_reserve.Of(0);
  std::vector<const CatalogEntry*> recommended;
  for (const CatalogEntry& e : Builtins().entries()) {
    if (e.family == kCodingFamily && e.recommended) recommended.push_back(&e);
  }
  ASSERT_GE(recommended.size(), 3u);
  std::sort(recommended.begin(), recommended.end(),
            [](auto* a, auto* b) { return a->min_ram_bytes < b->min_ram_bytes; });
  for (size_t i = 0; i < recommended.size(); ++i) {
    const CatalogEntry& e = *recommended[i];
    const uint64_t threshold = e.min_ram_bytes + reserve;
    Result<Recommendation> at =
        Recommend(Builtins(), {}, Machine(threshold), Limits{}, options, Inputs());
    ASSERT_OK(at) << e.id;
    EXPECT_EQ(at->candidates.front().entry->id, e.id);
    Result<Recommendation> below =
        Recommend(Builtins(), {}, Machine(threshold - 1), Limits{}, options, Inputs());
    if (i == 0) {
      EXPECT_THAT(below, StatusIs(StatusCode::kResourceExhausted)) << e.id;
    } else {
      ASSERT_OK(below) << e.id;
      EXPECT_EQ(below->candidates.front().entry->id, recommended[i - 1]->id);
      EXPECT_THAT(below->rejections,
                  testing::Contains(testing::Field(&Rejection::entry, testing::Eq(&e))));
    }
  }
}

TEST(RecommendPolicyTest, CodingPrefersRecommendedOverLarger) {
  RecommendOptions options;
  options.policy = Policy::kCoding;
  Result<Recommendation> r =
      Recommend(Builtins(), {}, Machine(8 * kGiB), Limits{}, options, Inputs());
  ASSERT_OK(r);
  const Candidate& top = r->candidates.front();
  EXPECT_TRUE(top.entry->recommended);
  // A larger entry that is not recommended also fits, and ranks below.
  bool larger_fits = false;
  for (size_t i = 1; i < r->candidates.size(); ++i) {
    const CatalogEntry& e = *r->candidates[i].entry;
    larger_fits = larger_fits || (!e.recommended && e.min_ram_bytes > top.entry->min_ram_bytes);
  }
  EXPECT_TRUE(larger_fits);
  EXPECT_THAT(top.reasons.front(), HasSubstr("largest recommended coding model"));
}

// --- specs/003: the photo tool's recommendation by VRAM and priority ----------------
TEST(RecommendPolicyTest, PhotoToolPriorityPicksDifferentModels) {
  const HardwareInfo hw = Machine(32 * kGB, 8 * kGB);  // available_vram_gb = 8.0
  RecommendOptions options;
  options.families = {"llama3.1", "llama3.2", "mixtral"};
  std::map<Purpose, const Candidate*> top;
  std::map<Purpose, Recommendation> answers;
  for (Purpose p : {Purpose::kSpeed, Purpose::kBalanced, Purpose::kQuality}) {
    options.purpose = p;
    answers[p] = MustRecommend(hw, options);
    ASSERT_FALSE(answers[p].candidates.empty()) << PurposeName(p);
    top[p] = &answers[p].candidates.front();
  }
  EXPECT_NE(top[Purpose::kSpeed]->entry->id, top[Purpose::kBalanced]->entry->id);
  EXPECT_NE(top[Purpose::kBalanced]->entry->id, top[Purpose::kQuality]->entry->id);
  EXPECT_NE(top[Purpose::kSpeed]->entry->id, top[Purpose::kQuality]->entry->id);

  const Recommendation& speed = answers[Purpose::kSpeed];
  for (const Candidate& c : speed.candidates) {
    // Fastest first, a recommended entry's bonus aside (2^0.25).
    EXPECT_GE(top[Purpose::kSpeed]->speed.gen_tokens_per_second * std::exp2(kRecommendedBonus),
              c.speed.gen_tokens_per_second)
        << c.entry->id;
  }
  const Recommendation& quality = answers[Purpose::kQuality];
  for (const Candidate& c : quality.candidates) {
    EXPECT_GE(top[Purpose::kQuality]->entry->quality_tier, c.entry->quality_tier) << c.entry->id;
  }
  // Candidates are in score order.
  for (const auto& [purpose, r] : answers) {
    EXPECT_TRUE(std::is_sorted(
        r.candidates.begin(), r.candidates.end(),
        [](const Candidate& a, const Candidate& b) { return a.score.total > b.score.total; }))
        << PurposeName(purpose);
  }
}

TEST(RecommendPolicyTest, PhotoToolMoreVramNeverLowersQuality) {
  RecommendOptions options;
  options.families = {"llama3.1", "llama3.2", "mixtral"};
  options.purpose = Purpose::kQuality;
  int previous_tier = 0;
  for (uint64_t vram : {2 * kGB, 4 * kGB, 8 * kGB, 24 * kGB, 48 * kGB, 80 * kGB}) {
    Recommendation r = MustRecommend(Machine(16 * kGB, vram), options);
    ASSERT_FALSE(r.candidates.empty()) << FormatBytesDecimal(vram);
    const Candidate& top = r.candidates.front();
    EXPECT_GE(top.entry->quality_tier, previous_tier) << FormatBytesDecimal(vram);
    previous_tier = top.entry->quality_tier;
  }
}

// Usage history: measured speed replaces the prediction; a poor success rate
// lowers the rank, with the reason said.
TEST(RecommendPolicyTest, PhotoToolPerformanceHistory) {
  const HardwareInfo hw = Machine(32 * kGB, 8 * kGB);
  RecommendOptions options;
  options.families = {"llama3.1", "llama3.2", "mixtral"};
  options.purpose = Purpose::kBalanced;
  Recommendation plain = MustRecommend(hw, options);
  ASSERT_GE(plain.candidates.size(), 2u);
  const std::string first = plain.candidates[0].entry->id;

  UsageStats unreliable;
  unreliable[first] = ModelUsage{.uses = 10, .successes = 3, .failures = 7};
  Recommendation demoted = MustRecommend(hw, options, &unreliable);
  EXPECT_NE(demoted.candidates[0].entry->id, first);
  const Candidate* c = FindCandidate(demoted, first);
  ASSERT_NE(c, nullptr);
  EXPECT_GT(c->score.penalty, 0);
  EXPECT_THAT(c->reasons, testing::Contains(HasSubstr("succeeded in 3 of 10")));

  // Too few uses to judge: no penalty.
  UsageStats young;
  young[first] = ModelUsage{.uses = 2, .successes = 0, .failures = 2};
  EXPECT_EQ(MustRecommend(hw, options, &young).candidates[0].entry->id, first);

  // Measured speed replaces the prediction; a much faster measurement of
  // the last candidate moves it up.
  const Candidate& last = plain.candidates.back();
  UsageStats fast;
  fast[last.entry->id] =
      ModelUsage{.measured_gen_tokens_per_second = last.speed.gen_tokens_per_second * 1000,
                 .uses = 20,
                 .successes = 20};
  Recommendation measured = MustRecommend(hw, options, &fast);
  const Candidate* m = FindCandidate(measured, last.entry->id);
  ASSERT_NE(m, nullptr);
  EXPECT_TRUE(m->measured_speed);
  EXPECT_DOUBLE_EQ(m->speed.gen_tokens_per_second, last.speed.gen_tokens_per_second * 1000);
  EXPECT_GT(m->score.total, last.score.total);
  EXPECT_THAT(m->reasons, testing::Contains(HasSubstr("measured")));
}

// --- specs/004: HomeWise tiers with CPU fallback -------------------------------------
TEST(RecommendPolicyTest, HomeAssistantTiers) {
  struct Case {
    std::string name;
    HardwareInfo hw;
    Tier tier;
    bool use_gpu;
  };
  HardwareInfo apple = Machine(64 * kGB);
  GpuInfo m2;
  m2.vendor = "apple";
  m2.name = "Apple M2 Max";
  m2.vram_total = 64 * kGB;
  m2.unified_memory = true;
  apple.gpus = {m2};
  const Case cases[] = {
      {"4 GB laptop", Machine(4 * kGB), Tier::kNone, false},
      {"8 GB laptop", Machine(8 * kGB), Tier::kMinimal, false},
      {"12 GB + 8 GB GPU", Machine(12 * kGB, 8 * kGB), Tier::kStandard, true},
      {"12 GB + 4 GB GPU", Machine(12 * kGB, 4 * kGB), Tier::kMinimal, true},
      {"16 GB, no GPU", Machine(16 * kGB), Tier::kStandard, false},
      {"128 GB, no GPU", Machine(128 * kGB), Tier::kStandard, false},
      {"32 GB + 24 GB GPU", Machine(32 * kGB, 24 * kGB), Tier::kStandard, true},
      {"16 GB + 48 GB GPU", Machine(16 * kGB, 48 * kGB), Tier::kStandard, true},
      {"64 GB + 2 x 24 GB", Machine(64 * kGB, 24 * kGB, 2), Tier::kAdvanced, true},
      {"64 GB + 80 GB GPU", Machine(64 * kGB, 80 * kGB), Tier::kAdvanced, true},
      {"Apple 64 GB unified", apple, Tier::kAdvanced, true},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ClassifyTier(c.hw), c.tier) << c.name;
    TierDecision d = DescribeTier(c.hw);
    EXPECT_EQ(d.tier, c.tier) << c.name;
    EXPECT_EQ(d.use_gpu, c.use_gpu) << c.name;
    EXPECT_FALSE(d.reason.empty()) << c.name;
  }
  EXPECT_THAT(DescribeTier(Machine(128 * kGB)).reason, HasSubstr("on the CPU"));
}

TEST(RecommendPolicyTest, HomeAssistantTierLimitsModelsAndFallsBackToCpu) {
  struct Case {
    std::string name;
    HardwareInfo hw;
  };
  const Case cases[] = {{"8 GB CPU", Machine(8 * kGB)},
                        {"32 GB CPU", Machine(32 * kGB)},
                        {"32 GB + 12 GB GPU", Machine(32 * kGB, 12 * kGB)},
                        {"96 GB + 2 x 48 GB", Machine(96 * kGB, 48 * kGB, 2)}};
  for (const Case& c : cases) {
    const Tier tier = ClassifyTier(c.hw);
    RecommendOptions options;
    options.max_parameter_count = TierMaxParameters(tier);
    options.purpose = Purpose::kQuality;
    Recommendation r = MustRecommend(c.hw, options);
    ASSERT_FALSE(r.candidates.empty()) << c.name;
    EXPECT_EQ(r.tier.tier, tier) << c.name;
    for (const Candidate& cand : r.candidates) {
      if (options.max_parameter_count > 0) {
        EXPECT_LE(cand.entry->parameter_count, options.max_parameter_count) << c.name;
      }
    }
    const Candidate& top = r.candidates.front();
    if (c.hw.gpus.empty()) {
      EXPECT_EQ(top.settings.n_gpu_layers, 0) << c.name;
      EXPECT_EQ(top.settings.flash_attn, FlashAttention::kAuto) << c.name;
    } else {
      EXPECT_NE(top.settings.n_gpu_layers, 0) << c.name;
    }
  }
  EXPECT_GT(TierMaxParameters(Tier::kStandard), TierMaxParameters(Tier::kMinimal));
  EXPECT_GT(TierMaxParameters(Tier::kMinimal), TierMaxParameters(Tier::kNone));
  EXPECT_EQ(TierMaxParameters(Tier::kAdvanced), 0);
}

// --- Filters, bonuses and errors ------------------------------------------------------

TEST(RecommendTest, Filters) {
  const HardwareInfo hw = Machine(64 * kGB, 24 * kGB);
  struct Case {
    std::string name;
    RecommendOptions options;
    std::function<bool(const CatalogEntry&)> holds;
  };
  std::vector<Case> cases;
  cases.push_back(
      {"tag", {.tag = "coding"}, [](const CatalogEntry& e) { return e.HasTag("coding"); }});
  cases.push_back({"families", {.families = {"QWEN3", "phi4"}}, [](const CatalogEntry& e) {
                     return e.family == "qwen3" || e.family == "phi4";
                   }});
  cases.push_back({"recommended", {.recommended_only = true}, [](const CatalogEntry& e) {
                     return e.recommended;
                   }});
  cases.push_back({"no embeddings by default", {}, [](const CatalogEntry& e) {
                     return !e.HasTag("embedding");
                   }});
  cases.push_back({"embeddings when asked", {.tag = "embedding"}, [](const CatalogEntry& e) {
                     return e.HasTag("embedding");
                   }});
  cases.push_back({"max parameters", {.max_parameter_count = 5e9}, [](const CatalogEntry& e) {
                     return e.parameter_count <= 5e9;
                   }});
  for (const Case& c : cases) {
    Recommendation r = MustRecommend(hw, c.options);
    EXPECT_FALSE(r.candidates.empty()) << c.name;
    for (const Candidate& cand : r.candidates) EXPECT_TRUE(c.holds(*cand.entry)) << c.name;
    for (const Rejection& rej : r.rejections) EXPECT_TRUE(c.holds(*rej.entry)) << c.name;
  }
}

TEST(RecommendTest, InstalledModelsGetABonusAndCanBeTheOnlyOnes) {
  const HardwareInfo hw = Machine(32 * kGB, 8 * kGB);
  const std::vector<std::string> installed = {"Qwen3-8B-Q4", "gemma3-1b-q4"};
  Recommendation all = MustRecommend(hw, {}, nullptr, installed);
  const Candidate* c = FindCandidate(all, "qwen3-8b-q4");
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->installed);
  EXPECT_GT(c->score.bonus, 0);
  EXPECT_THAT(c->reasons, testing::Contains(HasSubstr("installed")));
  Recommendation none = MustRecommend(hw, {});
  EXPECT_LT(FindCandidate(none, "qwen3-8b-q4")->score.total, c->score.total);

  Recommendation only = MustRecommend(hw, {.installed_only = true}, nullptr, installed);
  ASSERT_EQ(only.candidates.size(), 2u);
  for (const Candidate& cand : only.candidates) EXPECT_TRUE(cand.installed);
}

TEST(RecommendTest, NonGgufModelsAreRejectedWithTheReason) {
  Recommendation r = MustRecommend(Machine(32 * kGB), {.tag = "onnx"});
  EXPECT_TRUE(r.candidates.empty());
  ASSERT_FALSE(r.rejections.empty());
  EXPECT_THAT(r.rejections[0].reason, HasSubstr("GGUF"));
}

TEST(RecommendTest, EstimatorFailureIsARejection) {
  RecommendInputs inputs = Inputs();
  inputs.memory = [](const CatalogEntry& e, const MemoryRequest& r,
                     const HardwareInfo& hw) -> Result<MemoryBreakdown> {
    if (e.family == "gemma3") return UnavailableError("no header for " + e.id);
    return FormulaMemory(e, r, hw);
  };
  Result<Recommendation> r = Recommend(Builtins(), {}, Machine(32 * kGB), Limits{},
                                       {.families = {"gemma3", "gemma2"}}, inputs);
  ASSERT_OK(r);
  EXPECT_FALSE(r->candidates.empty());
  for (const Candidate& c : r->candidates) EXPECT_EQ(c.entry->family, "gemma2");
  for (const Rejection& j : r->rejections) {
    EXPECT_EQ(j.entry->family, "gemma3");
    EXPECT_THAT(j.reason, HasSubstr("cannot be estimated"));
  }
}

TEST(RecommendTest, InvalidRequests) {
  struct Case {
    std::string name;
    RecommendOptions options;
    RecommendInputs inputs;
  };
  std::vector<Case> cases;
  cases.push_back({"no estimator", {}, RecommendInputs{}});
  cases.push_back({"specialized purpose", {.purpose = Purpose::kSpecialized}, Inputs()});
  cases.push_back({"zero context", {.context = 0u}, Inputs()});
  RecommendOptions bad_override;
  bad_override.overrides.threads = 0;
  cases.push_back({"bad override", bad_override, Inputs()});
  for (const Case& c : cases) {
    EXPECT_THAT(Recommend(Builtins(), {}, Machine(16 * kGB), Limits{}, c.options, c.inputs),
                StatusIs(StatusCode::kInvalidArgument))
        << c.name;
  }
  // The coding policy with nothing to pick from.
  EXPECT_THAT(Recommend(Builtins(), {}, Machine(64 * kGB), Limits{},
                        {.installed_only = true, .policy = Policy::kCoding}, Inputs()),
              StatusIs(StatusCode::kNotFound));
}

TEST(RecommendTest, LimitKeepsTheBest) {
  const HardwareInfo hw = Machine(32 * kGB, 8 * kGB);
  Recommendation all = MustRecommend(hw, {});
  Recommendation three = MustRecommend(hw, {.limit = 3});
  ASSERT_EQ(three.candidates.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(three.candidates[i].entry->id, all.candidates[i].entry->id);
  }
}

TEST(RecommendTest, UnifiedMemoryCountsAgainstRam) {
  HardwareInfo mac = Machine(16 * kGB);
  GpuInfo gpu;
  gpu.vendor = "apple";
  gpu.name = "Apple M2 Pro";
  gpu.vram_total = 16 * kGB;
  gpu.unified_memory = true;
  mac.gpus = {gpu};
  Recommendation r = MustRecommend(mac, {});
  ASSERT_FALSE(r.candidates.empty());
  for (const Candidate& c : r.candidates) {
    uint64_t total = 0;
    for (const DeviceMemory& d : c.placement.memory.devices) total += d.Total();
    EXPECT_EQ(c.placement.ram_needed, total) << c.entry->id;
    EXPECT_LE(c.placement.ram_needed, r.ram_budget) << c.entry->id;
  }
}

// The whole catalog with ~200 presets: every entry is placed or rejected.
TEST(RecommendTest, LargeCatalogIsFullyAccountedFor) {
  Catalog catalog = Catalog::WithBuiltins();
  const size_t builtins = catalog.size();
  for (size_t i = 0; catalog.size() < 250; ++i) {
    CatalogEntry e = catalog.entries()[i % builtins];
    e.id = "preset-" + std::to_string(i);
    e.aliases.clear();
    e.builtin = false;
    ASSERT_OK(catalog.Upsert(std::move(e)));
  }
  Result<Recommendation> r =
      Recommend(catalog, {}, Machine(32 * kGB, 12 * kGB), Limits{}, {}, Inputs());
  ASSERT_OK(r);
  size_t embeddings = 0;
  for (const CatalogEntry& e : catalog.entries()) embeddings += e.HasTag("embedding");
  EXPECT_EQ(r->candidates.size() + r->rejections.size() + embeddings, catalog.size());
}

// --- Machine descriptions ----------------------------------------------------------------

TEST(RecommendTest, DescribeMachine) {
  HardwareInfo base = Base();
  GpuInfo gpu;
  gpu.name = "NVIDIA GeForce RTX 4090";
  gpu.vram_total = 24 * kGB;
  HardwareInfo with_gpu = base;
  with_gpu.gpus = {gpu};

  Result<HardwareInfo> hw = DescribeMachine({.ram = 8 * kGB, .cores = 4}, base);
  ASSERT_OK(hw);
  EXPECT_EQ(hw->memory.usable, 8 * kGB);
  EXPECT_EQ(hw->memory.available, 8 * kGB);
  EXPECT_FALSE(hw->memory.cgroup_limit.has_value());
  EXPECT_EQ(hw->cpu.physical_cores, 4);
  EXPECT_TRUE(hw->gpus.empty());

  hw = DescribeMachine({.vram = 12 * kGB, .gpus = 2}, base);
  ASSERT_OK(hw);
  ASSERT_EQ(hw->gpus.size(), 2u);
  EXPECT_EQ(hw->gpus[1].index, 1);
  EXPECT_EQ(hw->gpus[1].vram_total, 12 * kGB);
  EXPECT_EQ(hw->memory, base.memory);

  hw = DescribeMachine({.gpus = 3}, with_gpu);  // the base GPU's memory and name
  ASSERT_OK(hw);
  ASSERT_EQ(hw->gpus.size(), 3u);
  EXPECT_EQ(hw->gpus[2].vram_total, 24 * kGB);
  EXPECT_EQ(hw->gpus[2].name, gpu.name);

  hw = DescribeMachine({.vram = 8 * kGB}, base);  // one GPU
  ASSERT_OK(hw);
  EXPECT_EQ(hw->gpus.size(), 1u);

  hw = DescribeMachine({.gpus = 0}, with_gpu);
  ASSERT_OK(hw);
  EXPECT_TRUE(hw->gpus.empty());
  // No video memory is no GPU (the specification's available_vram_gb: 0).
  hw = DescribeMachine({.vram = 0}, with_gpu);
  ASSERT_OK(hw);
  EXPECT_TRUE(hw->gpus.empty());

  struct Bad {
    std::string name;
    MachineDescription d;
  };
  const Bad bad[] = {{"zero cores", {.cores = 0}},
                     {"zero ram", {.ram = 0}},
                     {"zero vram on GPUs", {.vram = 0, .gpus = 2}},
                     {"negative gpus", {.gpus = -1}},
                     {"vram without gpus", {.vram = 8 * kGB, .gpus = 0}},
                     {"gpus without vram", {.gpus = 2}}};
  for (const Bad& b : bad) {
    EXPECT_THAT(DescribeMachine(b.d, base), StatusIs(StatusCode::kInvalidArgument)) << b.name;
  }
}

// --- JSON ---------------------------------------------------------------------------

TEST(RecommendTest, JsonShape) {
  Recommendation r = MustRecommend(Machine(32 * kGB, 8 * kGB), {.limit = 2});
  nlohmann::json j = ToJson(r);
  for (const char* key : {"policy", "purpose", "context", "ram_budget", "gpu_budgets", "devices",
                          "tier", "profile", "candidates", "rejections", "warnings"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["policy"], "fit");
  EXPECT_EQ(j["purpose"], "balanced");
  EXPECT_EQ(j["context"], kDefaultRecommendContext);
  EXPECT_EQ(j["devices"].size(), 2u);
  ASSERT_EQ(j["candidates"].size(), 2u);
  const nlohmann::json& c = j["candidates"][0];
  EXPECT_EQ(c["rank"], 1);
  EXPECT_EQ(c["id"], r.candidates[0].entry->id);
  for (const char* key : {"fit", "speed", "score", "settings", "reasons", "installed"}) {
    EXPECT_TRUE(c.contains(key)) << key;
  }
  EXPECT_EQ(c["speed"]["source"], "predicted");
  EXPECT_EQ(c["fit"]["memory"]["method"], "formula");
  EXPECT_DOUBLE_EQ(c["score"]["total"].get<double>(), r.candidates[0].score.total);
  EXPECT_EQ(j["rejections"].size(), r.rejections.size());
}

}  // namespace
}  // namespace hangar::fit
