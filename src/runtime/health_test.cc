#include "runtime/health.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/units.h"

namespace hangar::runtime {
namespace {

using ::testing::HasSubstr;

HardwareInfo Healthy() {
  HardwareInfo hw;
  hw.memory.total = 32 * kGB;
  hw.memory.usable = 32 * kGB;
  hw.memory.available = 20 * kGB;
  hw.disk = DiskInfo{"/data", 1000 * kGB, 500 * kGB};
  GpuInfo g;
  g.name = "NVIDIA GeForce RTX 4090";
  g.vram_total = 24 * kGB;
  g.vram_free = 20 * kGB;
  g.temperature_c = 55;
  hw.gpus.push_back(g);
  return hw;
}

const HealthCheck* Find(const std::vector<HealthCheck>& checks, std::string_view name) {
  for (const HealthCheck& c : checks) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

TEST(HealthTest, HealthyMachine) {
  HealthInputs in;
  in.hardware = Healthy();
  const std::vector<HealthCheck> checks = Diagnose(in);
  EXPECT_EQ(Overall(checks), Health::kOk);
  ASSERT_NE(Find(checks, "memory"), nullptr);
  EXPECT_THAT(Find(checks, "memory")->detail, HasSubstr("20.0 GB available of 32.0 GB (62%)"));
  EXPECT_THAT(Find(checks, "gpu0")->detail, HasSubstr("20.0 GB free of 24.0 GB, 55 °C"));
  EXPECT_EQ(Find(checks, "loaded models")->detail, "none");
}

TEST(HealthTest, ProblemsTable) {
  struct Case {
    const char* name;
    void (*change)(HealthInputs&);
    const char* check;
    Health health;
    const char* detail;
  };
  const Case cases[] = {
      {"low memory", [](HealthInputs& in) { in.hardware.memory.available = 2 * kGB; }, "memory",
       Health::kWarn, "under 10% free"},
      {"disk nearly full", [](HealthInputs& in) { in.hardware.disk->free = 20 * kGB; }, "disk",
       Health::kFail, "under 5% free"},
      {"disk small",
       [](HealthInputs& in) {
         in.hardware.disk = DiskInfo{"/d", 100 * kGB, 8 * kGB};
       },
       "disk", Health::kWarn, "under 10.0 GB free"},
      {"no disk info", [](HealthInputs& in) { in.hardware.disk.reset(); }, "disk", Health::kWarn,
       "cannot read"},
      {"hot gpu", [](HealthInputs& in) { in.hardware.gpus[0].temperature_c = 90; }, "gpu0",
       Health::kWarn, "may throttle"},
      {"full gpu", [](HealthInputs& in) { in.hardware.gpus[0].vram_free = kGB / 2; }, "gpu0",
       Health::kWarn, "almost full"},
      {"degraded",
       [](HealthInputs& in) {
         in.trends.push_back({"m", "llama", 40, {15, 18, 30, 16, 17, 40}});
       },
       "speed m (llama)", Health::kWarn, "below half of the baseline"},
      {"not degraded",
       [](HealthInputs& in) {
         in.trends.push_back({"m", "llama", 40, {35, 38, 15}});
       },
       "speed m (llama)", Health::kOk, "35.0 tokens/s recently (median of 3), 40.0 measured"},
      {"unreliable",
       [](HealthInputs& in) {
         ModelStats s;
         s.model = "flaky";
         s.backend = "ollama";
         s.uses = 10;
         s.successes = 5;
         s.last_error = "Unavailable: connection refused";
         in.stats.push_back(s);
       },
       "failures flaky (ollama)", Health::kWarn, "5 of 10 requests succeeded (50%)"},
      {"loaded",
       [](HealthInputs& in) {
         ProcessEntry p;
         p.host_bytes = 3 * kGB;
         p.gpu_bytes = 5 * kGB;
         in.processes = {p, p};
       },
       "loaded models", Health::kOk, "2 (6.00 GB of RAM, 10.0 GB of GPU memory)"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    HealthInputs in;
    in.hardware = Healthy();
    c.change(in);
    const std::vector<HealthCheck> checks = Diagnose(in);
    const HealthCheck* check = Find(checks, c.check);
    ASSERT_NE(check, nullptr);
    EXPECT_EQ(check->health, c.health);
    EXPECT_THAT(check->detail, HasSubstr(c.detail));
    EXPECT_EQ(Overall(checks), c.health);
  }
}

TEST(HealthTest, FewUsesOrNoBaselineGiveNoVerdict) {
  HealthInputs in;
  in.hardware = Healthy();
  ModelStats s;
  s.model = "new";
  s.uses = 2;
  s.successes = 0;
  in.stats.push_back(s);
  in.trends.push_back({"m", "llama", 0, {1, 1, 1}});
  in.trends.push_back({"n", "llama", 40, {}});
  const std::vector<HealthCheck> checks = Diagnose(in);
  EXPECT_EQ(Overall(checks), Health::kOk);
  EXPECT_EQ(Find(checks, "failures new (llama)"), nullptr);
  EXPECT_EQ(Find(checks, "speed m (llama)"), nullptr);
  EXPECT_EQ(ToJson(checks)["overall"], "ok");
}

}  // namespace
}  // namespace hangar::runtime
