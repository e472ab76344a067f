#include "hardware/memory.h"

#include <gtest/gtest.h>

#include "core/units.h"
#include "hardware/test_util.h"

namespace hangar {
namespace {

using hardware_internal::ParseMeminfo;
using hardware_internal::ProbeCgroupMemory;
using hardware_test::FixtureRoot;
using hardware_test::TempTree;

constexpr uint64_t kHostMeminfoTotal = 64 * kGiB;
const std::string kHostMeminfo =
    "MemTotal:       67108864 kB\nMemFree:        1048576 kB\nMemAvailable:   33554432 kB\n";

TEST(ParseMeminfoTest, ReadsKilobytesAsBytes) {
  MemoryInfo m = ParseMeminfo(
      "MemTotal:        3915412 kB\nMemFree:          512340 kB\nMemAvailable:    2150124 kB\n"
      "Buffers:          120412 kB\nCached:          1650228 kB\nSwapTotal:       2097148 kB\n"
      "SwapFree:        1000000 kB\nHugePages_Total:       0\n");
  EXPECT_EQ(m.total, 3915412 * kKiB);
  EXPECT_EQ(m.available, 2150124 * kKiB);
  EXPECT_EQ(m.swap_total, 2097148 * kKiB);
  EXPECT_EQ(m.swap_free, 1000000 * kKiB);
  EXPECT_EQ(m.usable, m.total);
  EXPECT_EQ(m.cgroup_limit, std::nullopt);
}

TEST(ParseMeminfoTest, WithoutMemAvailableFreePlusBuffersPlusCached) {
  MemoryInfo m = ParseMeminfo(
      "MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 20 kB\nCached: 300 kB\nSwapCached: 7 kB\n");
  EXPECT_EQ(m.available, 420 * kKiB);
}

TEST(ParseMeminfoTest, EmptyIsZero) { EXPECT_EQ(ParseMeminfo(""), MemoryInfo{}); }

TEST(ProbeMemoryTest, LaptopUnlimitedCgroupV2) {
  MemoryInfo m = ProbeMemory(FixtureRoot("laptop"));
  EXPECT_EQ(m.total, 3915412 * kKiB);
  EXPECT_EQ(m.available, 2150124 * kKiB);
  EXPECT_EQ(m.swap_total, 2097148 * kKiB);
  EXPECT_EQ(m.swap_free, 2097148 * kKiB);
  EXPECT_EQ(m.cgroup_limit, std::nullopt);
  EXPECT_EQ(m.usable, m.total);
}

TEST(ProbeMemoryTest, Workstation64GB) {
  MemoryInfo m = ProbeMemory(FixtureRoot("workstation"));
  EXPECT_EQ(m.total, 65638052 * kKiB);
  EXPECT_EQ(m.available, 60110332 * kKiB);
  EXPECT_EQ(m.cgroup_limit, std::nullopt);
  EXPECT_EQ(m.usable, m.total);
}

TEST(ProbeMemoryTest, ContainerLimitedTo8GiBByCgroupV2) {
  MemoryInfo m = ProbeMemory(FixtureRoot("container_v2"));
  EXPECT_EQ(m.total, 65849180 * kKiB);  // the host's
  EXPECT_EQ(m.cgroup_limit, 8 * kGiB);
  EXPECT_EQ(m.usable, 8 * kGiB);
  // 8 GiB limit - (3 GiB memory.current - 1 GiB inactive_file); the host has 50 GiB available.
  EXPECT_EQ(m.available, 6 * kGiB);
}

TEST(ProbeMemoryTest, ContainerLimitedTo4GiBByCgroupV1) {
  MemoryInfo m = ProbeMemory(FixtureRoot("container_v1"));
  EXPECT_EQ(m.total, 16314040 * kKiB);
  EXPECT_EQ(m.cgroup_limit, 4 * kGiB);
  EXPECT_EQ(m.usable, 4 * kGiB);
  // 4 GiB - (1.5 GiB usage - 0.5 GiB total_inactive_file); the host has 12 GiB available.
  EXPECT_EQ(m.available, 3 * kGiB);
  EXPECT_EQ(m.swap_total, 1048572 * kKiB);
}

TEST(ProbeMemoryTest, CgroupNamespaceRootV2WithoutMemoryStat) {
  TempTree tree;
  tree.Write("proc/meminfo", kHostMeminfo);
  tree.Write("proc/self/cgroup", "0::/\n");
  tree.Write("sys/fs/cgroup/memory.max", "2147483648\n");
  tree.Write("sys/fs/cgroup/memory.current", "1073741824\n");
  MemoryInfo m = ProbeMemory(tree.root());
  EXPECT_EQ(m.total, kHostMeminfoTotal);
  EXPECT_EQ(m.cgroup_limit, 2 * kGiB);
  EXPECT_EQ(m.usable, 2 * kGiB);
  EXPECT_EQ(m.available, 1 * kGiB);
}

TEST(ProbeMemoryTest, TightestAncestorWins) {
  TempTree tree;
  tree.Write("proc/meminfo", kHostMeminfo);
  tree.Write("proc/self/cgroup", "0::/kubepods/pod1/ctr\n");
  tree.Write("sys/fs/cgroup/kubepods/memory.max", "max\n");
  tree.Write("sys/fs/cgroup/kubepods/pod1/memory.max", "1073741824\n");
  tree.Write("sys/fs/cgroup/kubepods/pod1/memory.current", "805306368\n");  // 768 MiB
  tree.Write("sys/fs/cgroup/kubepods/pod1/ctr/memory.max", "4294967296\n");
  tree.Write("sys/fs/cgroup/kubepods/pod1/ctr/memory.current", "104857600\n");
  MemoryInfo m = ProbeMemory(tree.root());
  EXPECT_EQ(m.cgroup_limit, 1 * kGiB);
  EXPECT_EQ(m.usable, 1 * kGiB);
  EXPECT_EQ(m.available, 256 * kMiB);  // the pod's headroom, not the container's
}

TEST(ProbeMemoryTest, CgroupV1HugeLimitMeansUnlimited) {
  TempTree tree;
  tree.Write("proc/meminfo", kHostMeminfo);
  tree.Write("proc/self/cgroup", "4:memory:/user.slice\n0::/\n");
  tree.Write("sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n");
  tree.Write("sys/fs/cgroup/memory/user.slice/memory.limit_in_bytes", "9223372036854771712\n");
  tree.Write("sys/fs/cgroup/memory/user.slice/memory.usage_in_bytes", "752996352\n");
  MemoryInfo m = ProbeMemory(tree.root());
  EXPECT_EQ(m.cgroup_limit, std::nullopt);
  EXPECT_EQ(m.usable, kHostMeminfoTotal);
  EXPECT_EQ(m.available, 32 * kGiB);
}

TEST(ProbeMemoryTest, HybridHostReadsTheV1MemoryController) {
  TempTree tree;
  tree.Write("proc/meminfo", kHostMeminfo);
  tree.Write("proc/self/cgroup", "0::/\n7:cpu,memory:/job\n");
  tree.Write("sys/fs/cgroup/memory.max", "1073741824\n");  // not the memory controller's
  tree.Write("sys/fs/cgroup/memory/job/memory.limit_in_bytes", "3221225472\n");
  MemoryInfo m = ProbeMemory(tree.root());
  EXPECT_EQ(m.cgroup_limit, 3 * kGiB);
  EXPECT_EQ(m.available, 3 * kGiB);  // no usage file: the whole limit
}

TEST(ProbeMemoryTest, CgroupOutsideTheNamespaceReadsTheMountPoint) {
  TempTree tree;
  tree.Write("proc/meminfo", kHostMeminfo);
  tree.Write("proc/self/cgroup", "0::/../../..\n");
  tree.Write("sys/fs/cgroup/memory.max", "1073741824\n");
  tree.Write("memory.max", "1\n");  // must not be reached through ".."
  EXPECT_EQ(ProbeMemory(tree.root()).cgroup_limit, 1 * kGiB);
}

TEST(ProbeMemoryTest, WithoutProcSelfCgroupTheMountPointsAreRead) {
  TempTree tree;
  tree.Write("proc/meminfo", kHostMeminfo);
  tree.Write("sys/fs/cgroup/memory/memory.limit_in_bytes", "536870912\n");
  EXPECT_EQ(ProbeCgroupMemory(tree.root()).limit, 512 * kMiB);
  EXPECT_EQ(ProbeMemory(tree.root()).usable, 512 * kMiB);
}

TEST(ProbeMemoryTest, LimitAboveTheMachineKeepsTotalUsable) {
  TempTree tree;
  tree.Write("proc/meminfo", kHostMeminfo);
  tree.Write("proc/self/cgroup", "0::/\n");
  tree.Write("sys/fs/cgroup/memory.max", std::to_string(128 * kGiB) + "\n");
  MemoryInfo m = ProbeMemory(tree.root());
  EXPECT_EQ(m.cgroup_limit, 128 * kGiB);
  EXPECT_EQ(m.usable, kHostMeminfoTotal);
  EXPECT_EQ(m.available, 32 * kGiB);
}

TEST(ProbeMemoryTest, UsageAboveLimitLeavesNothingAvailable) {
  TempTree tree;
  tree.Write("proc/meminfo", kHostMeminfo);
  tree.Write("proc/self/cgroup", "0::/\n");
  tree.Write("sys/fs/cgroup/memory.max", "1073741824\n");
  tree.Write("sys/fs/cgroup/memory.current", "2147483648\n");
  EXPECT_EQ(ProbeMemory(tree.root()).available, 0u);
}

}  // namespace
}  // namespace hangar
