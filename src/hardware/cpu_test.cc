#include "hardware/cpu.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "hardware/test_util.h"

namespace hangar {
namespace {

using hardware_internal::ParseCpuinfo;
using hardware_internal::ParseCpuList;
using hardware_test::FixtureRoot;
using hardware_test::TempTree;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr uint64_t kK = 1024;

TEST(ParseCpuinfoTest, Table) {
  struct Case {
    const char* what;
    const char* text;
    std::string vendor;
    std::string model;
    int logical;
    int physical;
    std::optional<double> mhz;
    std::vector<std::string> features;
  };
  const Case cases[] = {
      {"empty", "", "", "", 0, 0, std::nullopt, {}},
      {"x86 with SMT",
       "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Xeon\ncpu MHz\t\t: 1000.0\n"
       "physical id\t: 0\ncore id\t\t: 0\nflags\t\t: fpu sse4_2 avx avx2 fma f16c\n\n"
       "processor\t: 1\nvendor_id\t: GenuineIntel\nmodel name\t: Xeon\ncpu MHz\t\t: 3000.0\n"
       "physical id\t: 0\ncore id\t\t: 0\nflags\t\t: fpu sse4_2 avx avx2 fma f16c\n\n",
       "GenuineIntel",
       "Xeon",
       2,
       1,
       2000.0,
       {"sse4_2", "avx", "avx2", "fma", "f16c"}},
      {"two sockets with the same core ids",
       "processor: 0\nphysical id: 0\ncore id: 0\n\nprocessor: 1\nphysical id: 1\ncore id: 0\n",
       "",
       "",
       2,
       2,
       std::nullopt,
       {}},
      {"features in canonical order, duplicates once",
       "processor: 0\nflags: amx_tile avx512_vnni avx512f avx amx_int8 avx512_bf16 amx_bf16\n",
       "",
       "",
       1,
       0,
       std::nullopt,
       {"avx", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16"}},
      {"arm big.LITTLE: parts joined, no core ids",
       "processor\t: 0\nFeatures\t: fp asimd asimddp i8mm\nCPU implementer\t: 0x41\nCPU part\t: "
       "0xd05\n\n"
       "processor\t: 1\nFeatures\t: fp asimd asimddp i8mm\nCPU implementer\t: 0x41\nCPU part\t: "
       "0xd0b\n\n"
       "processor\t: 2\nFeatures\t: fp asimd asimddp i8mm\nCPU implementer\t: 0x41\nCPU part\t: "
       "0xd0b\n",
       "ARM",
       "Cortex-A55 + Cortex-A76",
       3,
       0,
       std::nullopt,
       {"neon", "dotprod", "i8mm"}},
      {"arm unknown implementer and part",
       "processor\t: 0\nFeatures\t: fp asimd sve sve2\nCPU implementer\t: 0x99\nCPU part\t: "
       "0x123\n",
       "implementer 0x99",
       "part 0x123",
       1,
       0,
       std::nullopt,
       {"neon", "sve", "sve2"}},
      {"ampere",
       "processor\t: 0\nFeatures\t: fp asimd\nCPU implementer\t: 0xc0\nCPU part\t: 0xac3\n",
       "Ampere",
       "part 0xac3",
       1,
       0,
       std::nullopt,
       {"neon"}},
      {"32-bit arm: Processor is the model, neon flag",
       "Processor\t: ARMv7 Processor rev 4 (v7l)\nprocessor\t: 0\nFeatures\t: half thumb vfp neon\n"
       "CPU implementer\t: 0x41\nCPU part\t: 0xd03\n",
       "ARM",
       "ARMv7 Processor rev 4 (v7l)",
       1,
       0,
       std::nullopt,
       {"neon"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    CpuInfo info = ParseCpuinfo(c.text);
    EXPECT_EQ(info.vendor, c.vendor);
    EXPECT_EQ(info.model, c.model);
    EXPECT_EQ(info.logical_cores, c.logical);
    EXPECT_EQ(info.physical_cores, c.physical);
    EXPECT_EQ(info.current_mhz, c.mhz);
    EXPECT_EQ(info.features, c.features);
  }
}

TEST(CpuTimesTest, ProcStatAndBusyFraction) {
  using hardware_internal::ParseProcStat;
  auto t = ParseProcStat("cpu  100 5 50 800 40 3 2 0 0 0\ncpu0 50 2 25 400 20 1 1 0 0 0\n");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->busy, 100u + 5 + 50 + 3 + 2 + 0);
  EXPECT_EQ(t->idle, 800u + 40);
  EXPECT_FALSE(ParseProcStat("intr 1 2 3\n"));
  EXPECT_FALSE(ParseProcStat("cpu  1 x 3 4\n"));
  EXPECT_FALSE(ParseProcStat("cpu  1 2\n"));
  EXPECT_DOUBLE_EQ(BusyFraction({100, 300}, {150, 350}), 0.5);
  EXPECT_DOUBLE_EQ(BusyFraction({100, 300}, {100, 300}), 0.0);
  EXPECT_DOUBLE_EQ(BusyFraction({100, 300}, {90, 400}), 0.0);  // counters went back: no answer
  TempTree tree;
  tree.Write("proc/stat", "cpu  10 0 10 80 0 0 0 0\n");
  auto read = ReadCpuTimes(tree.root());
  ASSERT_TRUE(read);
  EXPECT_EQ(read->busy, 20u);
  EXPECT_FALSE(ReadCpuTimes(tree.root() / "nowhere"));
}

TEST(ParseCpuListTest, Table) {
  EXPECT_THAT(ParseCpuList("0-3\n"), ElementsAre(0, 1, 2, 3));
  EXPECT_THAT(ParseCpuList("0,2-3,8"), ElementsAre(0, 2, 3, 8));
  EXPECT_THAT(ParseCpuList("5"), ElementsAre(5));
  EXPECT_THAT(ParseCpuList(""), IsEmpty());
  EXPECT_THAT(ParseCpuList("3-1"), IsEmpty());
  EXPECT_THAT(ParseCpuList("x"), IsEmpty());
}

TEST(ProbeCpuTest, Laptop) {
  CpuInfo cpu = ProbeCpu(FixtureRoot("laptop"), "x86_64");
  EXPECT_EQ(cpu.vendor, "GenuineIntel");
  EXPECT_EQ(cpu.model, "Intel(R) Core(TM) i5-7200U CPU @ 2.50GHz");
  EXPECT_EQ(cpu.arch, "x86_64");
  EXPECT_EQ(cpu.physical_cores, 2);
  EXPECT_EQ(cpu.logical_cores, 4);
  ASSERT_TRUE(cpu.current_mhz.has_value());
  EXPECT_NEAR(*cpu.current_mhz, (2700.000 + 2693.508 + 2712.117 + 2699.921) / 4, 1e-6);
  EXPECT_EQ(cpu.max_mhz, 3100.0);
  EXPECT_THAT(cpu.features, ElementsAre("sse4_2", "avx", "avx2", "fma", "f16c"));
  EXPECT_TRUE(cpu.HasFeature("avx2"));
  EXPECT_FALSE(cpu.HasFeature("avx512f"));
  EXPECT_EQ(cpu.l1d_cache, 32 * kK);
  EXPECT_EQ(cpu.l2_cache, 256 * kK);
  EXPECT_EQ(cpu.l3_cache, 3072 * kK);
}

TEST(ProbeCpuTest, WorkstationHasAvx512VnniBf16AndAmx) {
  CpuInfo cpu = ProbeCpu(FixtureRoot("workstation"), "x86_64");
  EXPECT_EQ(cpu.model, "Intel(R) Xeon(R) w3-2435");
  EXPECT_EQ(cpu.physical_cores, 8);
  EXPECT_EQ(cpu.logical_cores, 16);
  EXPECT_EQ(cpu.max_mhz, 4500.0);
  EXPECT_THAT(cpu.features, ElementsAre("sse4_2", "avx", "avx2", "fma", "f16c", "avx_vnni",
                                        "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
                                        "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16"));
  EXPECT_EQ(cpu.l1d_cache, 48 * kK);
  EXPECT_EQ(cpu.l2_cache, 2048 * kK);
  EXPECT_EQ(cpu.l3_cache, 23040 * kK);
}

TEST(ProbeCpuTest, ArmNeonSveFromTopologyAndCpufreq) {
  CpuInfo cpu = ProbeCpu(FixtureRoot("arm"), "aarch64");
  EXPECT_EQ(cpu.vendor, "ARM");
  EXPECT_EQ(cpu.model, "Neoverse-V1");
  EXPECT_EQ(cpu.arch, "aarch64");
  EXPECT_EQ(cpu.logical_cores, 4);
  EXPECT_EQ(cpu.physical_cores, 4);    // from topology/core_cpus_list
  EXPECT_EQ(cpu.current_mhz, 2600.0);  // no "cpu MHz": scaling_cur_freq
  EXPECT_EQ(cpu.max_mhz, 2600.0);
  EXPECT_THAT(cpu.features, ElementsAre("neon", "dotprod", "i8mm", "fp16", "bf16", "sve"));
  EXPECT_FALSE(cpu.HasFeature("sve2"));
  EXPECT_FALSE(cpu.HasFeature("avx2"));
  EXPECT_EQ(cpu.l1d_cache, 64 * kK);
  EXPECT_EQ(cpu.l2_cache, 1024 * kK);
  EXPECT_EQ(cpu.l3_cache, 32768 * kK);
}

TEST(ProbeCpuTest, AmdZen4) {
  CpuInfo cpu = ProbeCpu(FixtureRoot("amd"), "x86_64");
  EXPECT_EQ(cpu.vendor, "AuthenticAMD");
  EXPECT_EQ(cpu.physical_cores, 8);
  EXPECT_EQ(cpu.logical_cores, 16);
  EXPECT_TRUE(cpu.HasFeature("avx512_vnni"));
  EXPECT_TRUE(cpu.HasFeature("avx512_bf16"));
  EXPECT_FALSE(cpu.HasFeature("amx_tile"));
}

TEST(ProbeCpuTest, SmtSiblingsCountedOnceFromTopology) {
  TempTree tree;
  tree.Write("proc/cpuinfo", "processor: 0\n\nprocessor: 1\n\nprocessor: 2\n\nprocessor: 3\n");
  tree.Write("sys/devices/system/cpu/online", "0-3\n");
  for (int cpu = 0; cpu < 4; ++cpu) {
    // Older kernels: thread_siblings_list only.
    tree.Write(
        "sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/thread_siblings_list",
        cpu % 2 == 0 ? "0-1\n" : "2-3\n");
  }
  CpuInfo cpu = ProbeCpu(tree.root(), "riscv64");
  EXPECT_EQ(cpu.logical_cores, 4);
  EXPECT_EQ(cpu.physical_cores, 2);
  EXPECT_EQ(cpu.current_mhz, std::nullopt);
  EXPECT_EQ(cpu.max_mhz, std::nullopt);
  EXPECT_EQ(cpu.l3_cache, std::nullopt);
}

TEST(ProbeCpuTest, NothingReadableLeavesEverythingUnknown) {
  TempTree tree;
  CpuInfo cpu = ProbeCpu(tree.root(), "");
  EXPECT_EQ(cpu.logical_cores, 0);
  EXPECT_EQ(cpu.physical_cores, 0);
  EXPECT_THAT(cpu.features, IsEmpty());
}

TEST(ProbeCpuTest, LogicalFromOnlineListWhenCpuinfoIsMissing) {
  TempTree tree;
  tree.Write("sys/devices/system/cpu/online", "0-5\n");
  CpuInfo cpu = ProbeCpu(tree.root(), "x86_64");
  EXPECT_EQ(cpu.logical_cores, 6);
  EXPECT_EQ(cpu.physical_cores, 6);  // no topology: one thread per core assumed
}

}  // namespace
}  // namespace hangar
