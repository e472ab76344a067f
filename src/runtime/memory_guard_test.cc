#include "runtime/memory_guard.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/status_matchers.h"
#include "core/units.h"

namespace hangar::runtime {
namespace {

using ::testing::HasSubstr;

fit::MemoryBreakdown Need(uint64_t host, uint64_t gpu = 0) {
  fit::MemoryBreakdown b;
  b.devices.push_back({.device = "CPU", .weights = host - host / 4, .kv_cache = host / 4});
  if (gpu) b.devices.push_back({.device = "CUDA0", .weights = gpu});
  return b;
}

HardwareInfo Machine(uint64_t available, std::optional<uint64_t> vram_free = std::nullopt) {
  HardwareInfo hw;
  hw.memory.total = 16 * kGB;
  hw.memory.available = available;
  if (vram_free) {
    GpuInfo g;
    g.name = "NVIDIA GeForce RTX 4090";
    g.vram_total = 24 * kGB;
    g.vram_free = *vram_free;
    hw.gpus.push_back(g);
  }
  return hw;
}

TEST(MemoryGuardTest, Table) {
  struct Case {
    const char* name;
    fit::MemoryBreakdown need;
    HardwareInfo hw;
    bool fits;
  };
  const Case cases[] = {
      {"fits in RAM", Need(4 * kGB), Machine(6 * kGB), true},
      {"too big for RAM", Need(8 * kGB), Machine(6 * kGB), false},
      {"unknown RAM passes", Need(8 * kGB), Machine(0), true},
      {"GPU part fits", Need(1 * kGB, 20 * kGB), Machine(6 * kGB, 22 * kGB), true},
      {"GPU part too big", Need(1 * kGB, 20 * kGB), Machine(6 * kGB, 10 * kGB), false},
  };
  for (const Case& c : cases) EXPECT_EQ(CheckMemory(c.need, c.hw).fits, c.fits) << c.name;
}

TEST(MemoryGuardTest, RefusalNamesTheNumbersUnlessForced) {
  const GuardVerdict v = CheckMemory(Need(8 * kGB), Machine(6 * kGB));
  Status s = GuardStatus(v, "big-model", false);
  EXPECT_THAT(s, StatusIs(StatusCode::kResourceExhausted));
  EXPECT_THAT(s.message(), HasSubstr("not loading big-model"));
  EXPECT_THAT(s.message(), HasSubstr("needs 8.00 GB of RAM (weights 6.00 GB, KV cache 2.00 GB)"));
  EXPECT_THAT(s.message(), HasSubstr("6.00 GB available"));
  EXPECT_THAT(s.message(), HasSubstr("--force"));
  EXPECT_OK(GuardStatus(v, "big-model", true));
}

TEST(MemoryGuardTest, GpuClauseNamesTheGpu) {
  const GuardVerdict v = CheckMemory(Need(1 * kGB, 20 * kGB), Machine(6 * kGB, 10 * kGB));
  EXPECT_THAT(v.detail, HasSubstr("on NVIDIA GeForce RTX 4090"));
  EXPECT_THAT(v.detail, HasSubstr("10.0 GB free"));
}

}  // namespace
}  // namespace hangar::runtime
