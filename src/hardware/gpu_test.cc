#include "hardware/gpu.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/status_matchers.h"
#include "hardware/fake_nvml.h"
#include "hardware/nvml.h"
#include "hardware/test_util.h"

namespace hangar {
namespace {

using hardware_test::FixtureRoot;
using hardware_test::kRtx4090Vram;
using hardware_test::TempTree;
using hardware_test::TwoRtx4090s;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

TEST(ProbeNvidiaGpusTest, TwoRtx4090) {
  FakeNvml nvml(TwoRtx4090s());
  std::vector<GpuInfo> gpus = ProbeNvidiaGpus(nvml);
  ASSERT_THAT(gpus, SizeIs(2));
  GpuInfo want;
  want.index = 0;
  want.vendor = "nvidia";
  want.name = "NVIDIA GeForce RTX 4090";
  want.vram_total = kRtx4090Vram;
  want.vram_free = 25238044672;
  want.driver_version = "550.54.14";
  want.cuda_version = "12.4";
  want.compute_capability = "8.9";
  want.temperature_c = 45;
  want.pci_bus_id = "00000000:01:00.0";
  EXPECT_EQ(gpus[0], want);
  EXPECT_EQ(gpus[1].index, 1);
  EXPECT_EQ(gpus[1].vram_free, 3221225472u);
  EXPECT_EQ(gpus[1].temperature_c, 52);
  EXPECT_EQ(gpus[1].pci_bus_id, "00000000:41:00.0");
  EXPECT_EQ(nvml.init_calls, 1);
  EXPECT_EQ(nvml.shutdown_calls, 1);
}

TEST(ProbeNvidiaGpusTest, NvmlThatCannotStartMeansNoGpu) {
  FakeNvml nvml(TwoRtx4090s());
  nvml.init_status = UnavailableError("cannot load libnvidia-ml.so.1");
  EXPECT_THAT(ProbeNvidiaGpus(nvml), IsEmpty());
  EXPECT_EQ(nvml.shutdown_calls, 0);
}

TEST(ProbeNvidiaGpusTest, NoDeviceIsAnEmptyList) {
  FakeNvml nvml;
  EXPECT_THAT(ProbeNvidiaGpus(nvml), IsEmpty());
  EXPECT_EQ(nvml.shutdown_calls, 1);
}

TEST(ProbeNvidiaGpusTest, FieldsNvmlCannotAnswerStayUnknown) {
  FakeNvml nvml({{"", std::nullopt, std::nullopt, std::nullopt, ""}});
  nvml.driver_version.reset();
  nvml.cuda_driver_version.reset();
  std::vector<GpuInfo> gpus = ProbeNvidiaGpus(nvml);
  ASSERT_THAT(gpus, SizeIs(1));
  EXPECT_EQ(gpus[0].name, "NVIDIA GPU");
  EXPECT_EQ(gpus[0].vram_total, 0u);
  EXPECT_EQ(gpus[0].vram_free, std::nullopt);
  EXPECT_EQ(gpus[0].temperature_c, std::nullopt);
  EXPECT_EQ(gpus[0].compute_capability, "");
  EXPECT_EQ(gpus[0].driver_version, "");
  EXPECT_EQ(gpus[0].cuda_version, "");
}

TEST(ProbeNvidiaGpusTest, CudaVersionFormatting) {
  FakeNvml nvml(TwoRtx4090s());
  nvml.cuda_driver_version = 11080;
  EXPECT_EQ(ProbeNvidiaGpus(nvml)[0].cuda_version, "11.8");
  nvml.cuda_driver_version = 12000;
  EXPECT_EQ(ProbeNvidiaGpus(nvml)[0].cuda_version, "12.0");
}

TEST(RealNvmlTest, MissingLibraryIsUnavailable) {
  RealNvml nvml("libnvidia-ml-hangar-test-absent.so.1");
  Status init = nvml.Init();
  EXPECT_THAT(init, StatusIs(StatusCode::kUnavailable));
  EXPECT_THAT(init, StatusHasMessage(HasSubstr("libnvidia-ml-hangar-test-absent.so.1")));
  EXPECT_THAT(nvml.DeviceCount(), StatusIs(StatusCode::kUnavailable));
  EXPECT_THAT(nvml.DeviceName(0), StatusIs(StatusCode::kUnavailable));
  nvml.Shutdown();  // harmless without Init
  EXPECT_THAT(ProbeNvidiaGpus(nvml), IsEmpty());
}

TEST(RealNvmlTest, TheRealLibraryAnswersOrIsAbsent) {
  // Either outcome is fine on a given machine; neither may crash.
  RealNvml nvml;
  std::vector<GpuInfo> gpus = ProbeNvidiaGpus(nvml);
  for (const GpuInfo& gpu : gpus) {
    EXPECT_EQ(gpu.vendor, "nvidia");
    EXPECT_FALSE(gpu.name.empty());
    EXPECT_GT(gpu.vram_total, 0u);
  }
}

TEST(ProbeAmdGpusTest, RadeonAndIntegratedFromSysfs) {
  std::vector<GpuInfo> gpus = ProbeAmdGpus(FixtureRoot("amd"));
  ASSERT_THAT(gpus, SizeIs(2));
  GpuInfo want;
  want.index = 0;
  want.vendor = "amd";
  want.name = "AMD Radeon RX 7900 XT/7900 XTX/7900 GRE/7900M";  // from pci.ids
  want.vram_total = 25753026560;
  want.vram_free = 25753026560 - 1073741824;
  want.temperature_c = 41;
  want.pci_bus_id = "0000:03:00.0";
  EXPECT_EQ(gpus[0], want);
  // 164e is not in the excerpt's AMD block (only under another vendor).
  EXPECT_EQ(gpus[1].name, "AMD GPU 0x164e");
  EXPECT_EQ(gpus[1].index, 1);
  EXPECT_EQ(gpus[1].vram_total, 536870912u);
  EXPECT_EQ(gpus[1].vram_free, 402653184u);
  EXPECT_EQ(gpus[1].pci_bus_id, "0000:12:00.0");
  EXPECT_EQ(gpus[1].temperature_c, std::nullopt);
}

TEST(ProbeAmdGpusTest, ProductNameWinsAndCardsSortNumerically) {
  TempTree tree;
  for (int card : {10, 2}) {
    std::string dir = "sys/class/drm/card" + std::to_string(card) + "/device/";
    tree.Write(dir + "vendor", "0x1002\n");
    tree.Write(dir + "device", "0x74A1\n");
    tree.Write(dir + "product_name", "AMD Instinct MI300X " + std::to_string(card) + "\n");
    tree.Write(dir + "mem_info_vram_total", "206141652992\n");
  }
  std::vector<GpuInfo> gpus = ProbeAmdGpus(tree.root());
  ASSERT_THAT(gpus, SizeIs(2));
  EXPECT_EQ(gpus[0].name, "AMD Instinct MI300X 2");
  EXPECT_EQ(gpus[1].name, "AMD Instinct MI300X 10");
  EXPECT_EQ(gpus[1].index, 1);
  EXPECT_EQ(gpus[0].vram_free, std::nullopt);  // no mem_info_vram_used
}

TEST(ProbeAmdGpusTest, OtherVendorsAndNoDrmAreNoGpu) {
  EXPECT_THAT(ProbeAmdGpus(FixtureRoot("laptop")), IsEmpty());       // Intel iGPU
  EXPECT_THAT(ProbeAmdGpus(FixtureRoot("workstation")), IsEmpty());  // NVIDIA cards
  EXPECT_THAT(ProbeAmdGpus(FixtureRoot("arm")), IsEmpty());          // no /sys/class/drm
}

#ifndef __APPLE__
TEST(ProbeAppleGpusTest, NoneOutsideMacOs) { EXPECT_THAT(ProbeAppleGpus(), IsEmpty()); }
#endif

}  // namespace
}  // namespace hangar
