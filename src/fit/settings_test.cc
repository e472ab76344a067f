#include "fit/settings.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "config/profile.h"
#include "core/status_matchers.h"
#include "core/units.h"

namespace hangar::fit {
namespace {

using ::testing::HasSubstr;

HardwareInfo Machine(uint64_t ram, int cores, uint64_t vram = 0) {
  HardwareInfo hw;
  hw.cpu.model = "Test CPU";
  hw.cpu.physical_cores = cores;
  hw.cpu.logical_cores = cores * 2;
  hw.memory.total = hw.memory.available = hw.memory.usable = ram;
  if (vram > 0) {
    GpuInfo g;
    g.name = "Test GPU";
    g.vram_total = vram;
    hw.gpus.push_back(g);
  }
  return hw;
}

const std::string* ReasonFor(const RunSettings& s, std::string_view setting) {
  for (const SettingReason& r : s.reasons) {
    if (r.setting == setting) return &r.reason;
  }
  return nullptr;
}

// specs/000's rules for a machine alone (no model, no placement).
TEST(SettingsTest, MachineTable) {
  struct Case {
    uint64_t ram;
    int cores;
    uint64_t vram;
    int threads;
    uint32_t context;
    int max_tokens;
    int batch_size;
    uint32_t n_batch;
    FlashAttention flash_attn;
    int32_t n_gpu_layers;
  };
  const Case cases[] = {
      {4 * kGB, 2, 0, 2, 2048, 512, 1, 512, FlashAttention::kAuto, 0},
      {8 * kGB, 4, 0, 4, 4096, 1024, 1, 2048, FlashAttention::kAuto, 0},
      {15'900'000'000, 4, 0, 4, 4096, 1024, 1, 2048, FlashAttention::kAuto, 0},
      {16 * kGB, 6, 0, 5, 8192, 2048, 1, 2048, FlashAttention::kAuto, 0},
      {32 * kGB, 8, 0, 7, 8192, 2048, 2, 2048, FlashAttention::kAuto, 0},
      {64 * kGB, 16, 24 * kGB, 15, 8192, 2048, 2, 2048, FlashAttention::kOn, -1},
      {6 * kGB, 4, 8 * kGB, 4, 2048, 512, 1, 2048, FlashAttention::kOn, -1},
      {2 * kGB, 1, 0, 1, 2048, 512, 1, 512, FlashAttention::kAuto, 0},
  };
  for (const Case& c : cases) {
    const HardwareInfo hw = Machine(c.ram, c.cores, c.vram);
    Result<RunSettings> s = RecommendSettings(hw, nullptr, nullptr);
    ASSERT_OK(s);
    const std::string label = FormatBytesDecimal(c.ram) + ", " + std::to_string(c.cores) + " cores";
    EXPECT_EQ(s->threads, c.threads) << label;
    EXPECT_EQ(s->context, c.context) << label;
    EXPECT_EQ(s->max_tokens, c.max_tokens) << label;
    EXPECT_EQ(s->batch_size, c.batch_size) << label;
    EXPECT_EQ(s->n_batch, c.n_batch) << label;
    EXPECT_EQ(s->n_ubatch, 512u) << label;
    EXPECT_EQ(s->flash_attn, c.flash_attn) << label;
    EXPECT_EQ(s->n_gpu_layers, c.n_gpu_layers) << label;
    EXPECT_TRUE(s->mmap) << label;
    EXPECT_FALSE(s->mlock) << label;
    EXPECT_EQ(s->type_k.name, "f16") << label;
    EXPECT_EQ(s->profile, RecommendProfile(c.ram, c.cores).profile) << label;
    EXPECT_EQ(s->reasons.size(), 13u) << label;
  }
}

TEST(SettingsTest, ThreadsLeaveOneCoreFreeAboveFour) {
  for (int cores = 1; cores <= 32; ++cores) {
    CpuInfo cpu;
    cpu.physical_cores = cores;
    EXPECT_EQ(ThreadsForCpu(cpu), cores > 4 ? cores - 1 : cores) << cores;
  }
  CpuInfo unknown;
  unknown.logical_cores = 6;  // no physical count: logical cores
  EXPECT_EQ(ThreadsForCpu(unknown), 5);
  EXPECT_EQ(ThreadsForCpu(CpuInfo{}), 4);
}

TEST(SettingsTest, ModelContextCapsTheContext) {
  const CatalogEntry* tiny = FindById("tinyllama-1.1b-q4");
  ASSERT_NE(tiny, nullptr);
  ASSERT_LT(tiny->context_length, 8192u);
  Result<RunSettings> s = RecommendSettings(Machine(64 * kGB, 8), tiny, nullptr);
  ASSERT_OK(s);
  EXPECT_EQ(s->context, tiny->context_length);
  EXPECT_THAT(*ReasonFor(*s, "context"), HasSubstr("capped by the model"));
}

Placement MakePlacement(int32_t ngl, bool full, uint64_t host_kv, uint64_t ram_needed,
                        uint64_t ram_budget, std::string kv = "f16") {
  Placement p;
  p.n_gpu_layers = ngl;
  p.layer_count = 33;
  p.full_offload = full;
  p.kv_type.name = kv;
  p.memory.n_ctx = 4096;
  DeviceMemory host;
  host.device = "CPU";
  host.kv_cache = host_kv;
  p.memory.devices.push_back(host);
  p.ram_needed = ram_needed;
  p.ram_budget = ram_budget;
  return p;
}

TEST(SettingsTest, ContextShrinksToTheHeadroom) {
  const HardwareInfo hw = Machine(32 * kGB, 8);  // 8192 by RAM
  struct Case {
    uint64_t headroom;
    uint32_t context;
  };
  // Going from 4096 to 8192 tokens doubles the 1 GB KV cache.
  const Case cases[] = {{2 * kGB, 8192}, {kGB, 8192}, {kGB - 1, 4096}, {0, 4096}};
  for (const Case& c : cases) {
    Placement p = MakePlacement(0, false, kGB, 20 * kGB, 20 * kGB + c.headroom);
    Result<RunSettings> s = RecommendSettings(hw, nullptr, &p);
    ASSERT_OK(s);
    EXPECT_EQ(s->context, c.context) << c.headroom;
  }
}

TEST(SettingsTest, PlacementDecidesGpuLayersAndKvType) {
  const HardwareInfo hw = Machine(32 * kGB, 8, 8 * kGB);
  struct Case {
    Placement placement;
    int32_t n_gpu_layers;
    FlashAttention flash_attn;
    std::string reason;
  };
  const Case cases[] = {
      {MakePlacement(-1, true, 0, kGB, 20 * kGB), -1, FlashAttention::kOn, "all 33 layers"},
      {MakePlacement(20, false, 0, kGB, 20 * kGB), 20, FlashAttention::kOn, "20 of 33"},
      {MakePlacement(0, false, 0, kGB, 20 * kGB), 0, FlashAttention::kAuto, "no layer fits"},
  };
  for (const Case& c : cases) {
    Result<RunSettings> s = RecommendSettings(hw, nullptr, &c.placement);
    ASSERT_OK(s);
    EXPECT_EQ(s->n_gpu_layers, c.n_gpu_layers) << c.reason;
    EXPECT_EQ(s->flash_attn, c.flash_attn) << c.reason;
    EXPECT_THAT(*ReasonFor(*s, "n_gpu_layers"), HasSubstr(c.reason));
  }
  Placement tight = MakePlacement(-1, true, 0, kGB, 20 * kGB, "q8_0");
  Result<RunSettings> s = RecommendSettings(hw, nullptr, &tight);
  ASSERT_OK(s);
  EXPECT_EQ(s->type_k.name, "q8_0");
  EXPECT_EQ(s->type_v.name, "q8_0");
  EXPECT_THAT(*ReasonFor(*s, "type_k"), HasSubstr("does not fit"));
}

TEST(SettingsTest, OverridesWin) {
  SettingsOverrides o;
  o.threads = 3;
  o.context = 16384;
  o.n_batch = 1024;
  o.n_ubatch = 256;
  o.batch_size = 4;
  o.n_gpu_layers = 12;
  o.type_k = CacheType{"q8_0"};
  o.type_v = CacheType{"q4_0"};
  o.flash_attn = FlashAttention::kOff;
  o.mmap = false;
  o.mlock = true;
  o.max_tokens = 4000;
  o.profile = "precise";
  Result<RunSettings> s = RecommendSettings(Machine(8 * kGB, 4, 8 * kGB), nullptr, nullptr, o);
  ASSERT_OK(s);
  EXPECT_EQ(s->threads, 3);
  EXPECT_EQ(s->context, 16384u);
  EXPECT_EQ(s->n_batch, 1024u);
  EXPECT_EQ(s->n_ubatch, 256u);
  EXPECT_EQ(s->batch_size, 4);
  EXPECT_EQ(s->n_gpu_layers, 12);
  EXPECT_EQ(s->type_k.name, "q8_0");
  EXPECT_EQ(s->type_v.name, "q4_0");
  EXPECT_EQ(s->flash_attn, FlashAttention::kOff);
  EXPECT_FALSE(s->mmap);
  EXPECT_TRUE(s->mlock);
  EXPECT_EQ(s->max_tokens, 4000);
  EXPECT_EQ(s->profile, "precise");
  for (const SettingReason& r : s->reasons) EXPECT_EQ(r.reason, "set by you") << r.setting;

  // One override leaves the rest computed.
  SettingsOverrides one;
  one.threads = 2;
  Result<RunSettings> partial = RecommendSettings(Machine(32 * kGB, 8), nullptr, nullptr, one);
  ASSERT_OK(partial);
  EXPECT_EQ(partial->threads, 2);
  EXPECT_EQ(partial->context, ContextForRam(32 * kGB));
  EXPECT_NE(*ReasonFor(*partial, "context"), "set by you");
}

TEST(SettingsTest, InvalidOverrides) {
  struct Case {
    std::string name;
    SettingsOverrides o;
    std::string message;
  };
  std::vector<Case> cases(11);
  cases[0] = {"threads", {}, "threads"};
  cases[0].o.threads = 0;
  cases[1] = {"context", {}, "context"};
  cases[1].o.context = 0;
  cases[2] = {"n_batch", {}, "n_batch"};
  cases[2].o.n_batch = 0;
  cases[3] = {"n_ubatch", {}, "n_ubatch"};
  cases[3].o.n_ubatch = 0;
  cases[4] = {"batch_size", {}, "batch_size"};
  cases[4].o.batch_size = -1;
  cases[5] = {"max_tokens", {}, "max_tokens"};
  cases[5].o.max_tokens = 0;
  cases[6] = {"n_gpu_layers", {}, "n_gpu_layers"};
  cases[6].o.n_gpu_layers = -2;
  cases[7] = {"type_k", {}, "type_k"};
  cases[7].o.type_k = CacheType{"q3_x"};
  cases[8] = {"type_v", {}, "type_v"};
  cases[8].o.type_v = CacheType{"nope"};
  cases[9] = {"profile", {}, "profile"};
  cases[9].o.profile = "bad name!";
  cases[10] = {"ubatch above batch", {}, "n_ubatch (4096) must not be larger than n_batch"};
  cases[10].o.n_ubatch = 4096;
  for (const Case& c : cases) {
    Result<RunSettings> s = RecommendSettings(Machine(16 * kGB, 8), nullptr, nullptr, c.o);
    EXPECT_THAT(s, StatusIs(StatusCode::kInvalidArgument)) << c.name;
    EXPECT_THAT(s, StatusHasMessage(HasSubstr(c.message))) << c.name;
  }
}

TEST(SettingsTest, MemoryRequestAndJson) {
  SettingsOverrides o;
  o.type_k = CacheType{"q8_0"};
  Result<RunSettings> s = RecommendSettings(Machine(32 * kGB, 8, 24 * kGB), nullptr, nullptr, o);
  ASSERT_OK(s);
  MemoryRequest r = s->ToMemoryRequest();
  EXPECT_EQ(r.n_ctx, s->context);
  EXPECT_EQ(r.n_batch, s->n_batch);
  EXPECT_EQ(r.n_ubatch, s->n_ubatch);
  EXPECT_EQ(r.n_seq, static_cast<uint32_t>(s->batch_size));
  EXPECT_EQ(r.type_k.name, "q8_0");
  EXPECT_EQ(r.n_gpu_layers, s->n_gpu_layers);
  EXPECT_EQ(r.flash_attn, s->flash_attn);

  nlohmann::json j = ToJson(*s);
  for (const char* key :
       {"threads", "context", "n_batch", "n_ubatch", "batch_size", "n_gpu_layers", "type_k",
        "type_v", "flash_attn", "mmap", "mlock", "max_tokens", "profile", "reasons"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["flash_attn"], "on");
  EXPECT_EQ(j["type_k"], "q8_0");
  EXPECT_EQ(j["reasons"]["type_k"], "set by you");
  EXPECT_EQ(j["reasons"].size(), 13u);
}

}  // namespace
}  // namespace hangar::fit
