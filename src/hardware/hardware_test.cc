#include "hardware/hardware.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "core/units.h"
#include "hardware/fake_nvml.h"
#include "hardware/test_util.h"

namespace hangar {
namespace {

using hardware_test::FixtureRoot;
using hardware_test::kRtx4090Vram;
using hardware_test::TempTree;
using hardware_test::TwoRtx4090s;
using nlohmann::json;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::IsEmpty;
using ::testing::SizeIs;

HardwareInfo ProbeFixture(std::string_view machine, NvmlApi* nvml = nullptr) {
  ProbeOptions options;
  options.root = FixtureRoot(machine);
  options.nvml = nvml;
  return ProbeHardware(options);
}

std::set<std::string> Keys(const json& object) {
  std::set<std::string> keys;
  for (auto it = object.begin(); it != object.end(); ++it) keys.insert(it.key());
  return keys;
}

TEST(ProbeHardwareTest, Laptop4GBNoGpu) {
  HardwareInfo hw = ProbeFixture("laptop");
  EXPECT_EQ(hw.cpu.physical_cores, 2);
  EXPECT_EQ(hw.cpu.logical_cores, 4);
  EXPECT_EQ(hw.cpu.arch, "x86_64");  // from the fixture's proc/sys/kernel/arch
  EXPECT_TRUE(hw.cpu.HasFeature("avx2"));
  EXPECT_FALSE(hw.cpu.HasFeature("avx512f"));
  EXPECT_EQ(hw.memory.total, 3915412 * kKiB);
  EXPECT_EQ(hw.memory.cgroup_limit, std::nullopt);
  EXPECT_EQ(hw.memory.usable, hw.memory.total);
  EXPECT_THAT(hw.gpus, IsEmpty());
  EXPECT_EQ(hw.disk, std::nullopt);
  EXPECT_EQ(hw.os.name, "Debian GNU/Linux 12 (bookworm)");
  EXPECT_EQ(hw.os.kernel, "6.1.0-18-amd64");
}

TEST(ProbeHardwareTest, WorkstationTwoNvidiaGpusAndAvx512) {
  FakeNvml nvml(TwoRtx4090s());
  HardwareInfo hw = ProbeFixture("workstation", &nvml);
  EXPECT_EQ(hw.cpu.physical_cores, 8);
  EXPECT_TRUE(hw.cpu.HasFeature("avx512_vnni"));
  EXPECT_TRUE(hw.cpu.HasFeature("avx512_bf16"));
  EXPECT_TRUE(hw.cpu.HasFeature("amx_int8"));
  EXPECT_EQ(hw.memory.total, 65638052 * kKiB);
  ASSERT_THAT(hw.gpus, SizeIs(2));  // the NVIDIA DRM cards are not counted again
  for (const GpuInfo& gpu : hw.gpus) {
    EXPECT_EQ(gpu.vendor, "nvidia");
    EXPECT_EQ(gpu.name, "NVIDIA GeForce RTX 4090");
    EXPECT_EQ(gpu.vram_total, kRtx4090Vram);
    EXPECT_EQ(gpu.compute_capability, "8.9");
    EXPECT_EQ(gpu.driver_version, "550.54.14");
    EXPECT_EQ(gpu.cuda_version, "12.4");
  }
  EXPECT_EQ(hw.gpus[0].temperature_c, 45);
  EXPECT_EQ(hw.gpus[1].temperature_c, 52);
  EXPECT_EQ(hw.os.version, "22.04");
}

TEST(ProbeHardwareTest, ContainerCgroupV2UsableIs8GiB) {
  HardwareInfo hw = ProbeFixture("container_v2");
  EXPECT_EQ(hw.memory.usable, 8 * kGiB);
  EXPECT_EQ(hw.memory.cgroup_limit, 8 * kGiB);
  EXPECT_GT(hw.memory.total, 60 * kGiB);
  EXPECT_LE(hw.memory.available, hw.memory.usable);
  EXPECT_EQ(hw.cpu.vendor, "AuthenticAMD");
  EXPECT_EQ(hw.cpu.physical_cores, 4);
  EXPECT_EQ(hw.cpu.logical_cores, 8);
  EXPECT_EQ(hw.cpu.max_mhz, std::nullopt);  // no cpufreq in the VM
}

TEST(ProbeHardwareTest, ContainerCgroupV1UsableIs4GiB) {
  HardwareInfo hw = ProbeFixture("container_v1");
  EXPECT_EQ(hw.memory.usable, 4 * kGiB);
  EXPECT_EQ(hw.memory.available, 3 * kGiB);
  EXPECT_EQ(hw.cpu.physical_cores, 2);
  EXPECT_EQ(hw.cpu.logical_cores, 2);
  EXPECT_TRUE(hw.cpu.HasFeature("avx512f"));
  EXPECT_FALSE(hw.cpu.HasFeature("avx512_vnni"));
}

TEST(ProbeHardwareTest, AmdGpuFromSysfsAfterNvidia) {
  FakeNvml nvml(TwoRtx4090s());
  nvml.devices.resize(1);
  HardwareInfo hw = ProbeFixture("amd", &nvml);
  ASSERT_THAT(hw.gpus, SizeIs(3));
  EXPECT_EQ(hw.gpus[0].vendor, "nvidia");
  EXPECT_EQ(hw.gpus[1].vendor, "amd");
  EXPECT_EQ(hw.gpus[1].index, 0);
  EXPECT_EQ(hw.gpus[1].vram_total, 25753026560u);
  EXPECT_EQ(hw.gpus[2].name, "AMD GPU 0x164e");
}

TEST(ProbeHardwareTest, ArmNeonSve) {
  HardwareInfo hw = ProbeFixture("arm");
  EXPECT_EQ(hw.cpu.arch, "aarch64");
  EXPECT_EQ(hw.cpu.model, "Neoverse-V1");
  EXPECT_TRUE(hw.cpu.HasFeature("neon"));
  EXPECT_TRUE(hw.cpu.HasFeature("sve"));
  EXPECT_EQ(hw.memory.cgroup_limit, std::nullopt);
  EXPECT_THAT(hw.gpus, IsEmpty());
  EXPECT_EQ(hw.os.name, "Amazon Linux 2023.5.20240624");
}

TEST(ProbeHardwareTest, DiskAtTheStorePath) {
  TempTree tree;
  ProbeOptions options;
  options.root = FixtureRoot("laptop");
  options.disk_path = tree.root() / "store/not/created";
  HardwareInfo hw = ProbeHardware(options);
  ASSERT_TRUE(hw.disk.has_value());
  EXPECT_EQ(hw.disk->path, options.disk_path);
  EXPECT_GT(hw.disk->total, 0u);
}

TEST(ToJsonTest, ShapeAndValues) {
  FakeNvml nvml(TwoRtx4090s());
  ProbeOptions options;
  options.root = FixtureRoot("workstation");
  options.nvml = &nvml;
  options.disk_path = FixtureRoot("workstation");
  json j = ToJson(ProbeHardware(options));

  EXPECT_EQ(Keys(j), (std::set<std::string>{"cpu", "memory", "gpus", "disk", "os"}));
  const json& cpu = j["cpu"];
  EXPECT_EQ(Keys(cpu),
            (std::set<std::string>{"vendor", "model", "arch", "physical_cores", "logical_cores",
                                   "frequency_mhz", "features", "cache"}));
  EXPECT_EQ(cpu["model"], "Intel(R) Xeon(R) w3-2435");
  EXPECT_EQ(cpu["physical_cores"], 8);
  EXPECT_EQ(cpu["logical_cores"], 16);
  EXPECT_EQ(Keys(cpu["frequency_mhz"]), (std::set<std::string>{"current", "max"}));
  EXPECT_TRUE(cpu["frequency_mhz"]["current"].is_number());
  EXPECT_EQ(cpu["frequency_mhz"]["max"], 4500.0);
  EXPECT_TRUE(cpu["features"].is_array());
  EXPECT_THAT(cpu["features"].get<std::vector<std::string>>(), Contains("avx512_vnni"));
  EXPECT_EQ(cpu["cache"], (json{{"l1d", 49152}, {"l2", 2097152}, {"l3", 23592960}}));

  EXPECT_EQ(j["memory"], (json{{"total", 65638052 * kKiB},
                               {"available", 60110332 * kKiB},
                               {"swap_total", 0},
                               {"swap_free", 0},
                               {"cgroup_limit", nullptr},
                               {"usable", 65638052 * kKiB}}));

  ASSERT_TRUE(j["gpus"].is_array());
  ASSERT_EQ(j["gpus"].size(), 2u);
  EXPECT_EQ(j["gpus"][0], (json{{"index", 0},
                                {"vendor", "nvidia"},
                                {"name", "NVIDIA GeForce RTX 4090"},
                                {"vram_total", kRtx4090Vram},
                                {"vram_free", 25238044672},
                                {"driver_version", "550.54.14"},
                                {"cuda_version", "12.4"},
                                {"compute_capability", "8.9"},
                                {"temperature_c", 45},
                                {"pci_bus_id", "00000000:01:00.0"},
                                {"unified_memory", false}}));

  EXPECT_EQ(Keys(j["disk"]), (std::set<std::string>{"path", "total", "free"}));
  EXPECT_EQ(j["disk"]["path"], FixtureRoot("workstation").string());
  EXPECT_TRUE(j["disk"]["total"].is_number_unsigned());

  EXPECT_EQ(
      j["os"],
      (json{{"name", "Ubuntu 22.04.4 LTS"}, {"version", "22.04"}, {"kernel", "6.5.0-35-generic"}}));
}

TEST(ToJsonTest, UnknownsAreNull) {
  TempTree empty;
  ProbeOptions options;
  options.root = empty.root();
  json j = ToJson(ProbeHardware(options));
  EXPECT_TRUE(j["cpu"]["frequency_mhz"]["current"].is_null());
  EXPECT_TRUE(j["cpu"]["frequency_mhz"]["max"].is_null());
  EXPECT_TRUE(j["cpu"]["cache"]["l3"].is_null());
  EXPECT_EQ(j["cpu"]["features"], json::array());
  EXPECT_TRUE(j["memory"]["cgroup_limit"].is_null());
  EXPECT_EQ(j["gpus"], json::array());
  EXPECT_TRUE(j["disk"].is_null());
  EXPECT_EQ(j["os"]["name"], "");
}

TEST(ToJsonTest, ContainerLimitAndAmdNulls) {
  json v2 = ToJson(ProbeFixture("container_v2"));
  EXPECT_EQ(v2["memory"]["cgroup_limit"], 8 * kGiB);
  EXPECT_EQ(v2["memory"]["usable"], 8 * kGiB);
  json amd = ToJson(ProbeFixture("amd"));
  EXPECT_TRUE(amd["gpus"][1]["temperature_c"].is_null());
  EXPECT_EQ(amd["gpus"][1]["compute_capability"], "");
  EXPECT_EQ(amd["gpus"][0]["vendor"], "amd");
}

TEST(HardwareRowsTest, LabelsInOrder) {
  FakeNvml nvml(TwoRtx4090s());
  ProbeOptions options;
  options.root = FixtureRoot("container_v2");
  options.nvml = &nvml;
  options.disk_path = FixtureRoot("container_v2");
  std::vector<HardwareRow> rows = HardwareRows(ProbeHardware(options));
  std::vector<std::string> labels;
  for (const HardwareRow& row : rows) labels.push_back(row.label);
  EXPECT_THAT(labels,
              ElementsAre("CPU", "Cores", "Frequency", "Features", "Cache", "Memory",
                          "Memory limit", "Swap", "GPU 0", "GPU 1", "Disk", "OS", "Kernel"));
  EXPECT_EQ(rows[0].value, "AMD EPYC 7B13 (AuthenticAMD, x86_64)");
  EXPECT_EQ(rows[1].value, "4 physical, 8 logical");
  EXPECT_EQ(rows[2].value, "2450 MHz");
  EXPECT_EQ(rows[6].value, "8.00 GiB (cgroup); 8.00 GiB usable");
  EXPECT_EQ(rows[7].value, "none");
  EXPECT_EQ(rows[8].value,
            "NVIDIA GeForce RTX 4090, 24.0 GiB VRAM (23.5 GiB free), compute 8.9, 45 °C, "
            "driver 550.54.14, CUDA 12.4");
  EXPECT_EQ(rows[11].value, "Ubuntu 24.04 LTS");
}

TEST(HardwareRowsTest, LaptopHasNoGpuRowAndMaxFrequency) {
  std::vector<HardwareRow> rows = HardwareRows(ProbeFixture("laptop"));
  EXPECT_THAT(rows, Contains(HardwareRow{"GPU", "none"}));
  EXPECT_THAT(rows, Contains(HardwareRow{"Frequency", "2701 MHz (max 3100 MHz)"}));
  EXPECT_THAT(rows, Contains(HardwareRow{"Features", "sse4_2 avx avx2 fma f16c"}));
  EXPECT_THAT(rows, Contains(HardwareRow{"Cache", "L1d 32.0 KiB, L2 256 KiB, L3 3.00 MiB"}));
  EXPECT_THAT(rows, Contains(Field(&HardwareRow::label, "Swap")));
  EXPECT_THAT(rows, ::testing::Not(Contains(Field(&HardwareRow::label, "Memory limit"))));
}

TEST(HardwareCacheTest, ProbesOnceAcrossThreads) {
  FakeNvml nvml(TwoRtx4090s());
  ProbeOptions options;
  options.root = FixtureRoot("workstation");
  options.nvml = &nvml;
  HardwareCache cache(options);
  std::vector<const HardwareInfo*> seen(8);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < seen.size(); ++i) {
    threads.emplace_back([&, i] { seen[i] = &cache.Get(); });
  }
  for (std::thread& t : threads) t.join();
  for (const HardwareInfo* info : seen) EXPECT_EQ(info, seen[0]);
  EXPECT_EQ(nvml.init_calls, 1);
  EXPECT_THAT(seen[0]->gpus, SizeIs(2));
}

// The real machine: whatever it is, the probe answers sensibly and does not crash,
// with or without an NVIDIA driver.
TEST(ProbeHardwareSmokeTest, RealMachine) {
  RealNvml nvml;
  ProbeOptions options;
  options.nvml = &nvml;
  options.disk_path = std::filesystem::temp_directory_path() / "hangar-hw-smoke-not-created";
  HardwareInfo hw = ProbeHardware(options);
  EXPECT_GE(hw.cpu.logical_cores, 1);
  EXPECT_GE(hw.cpu.physical_cores, 1);
  EXPECT_LE(hw.cpu.physical_cores, hw.cpu.logical_cores);
  EXPECT_FALSE(hw.cpu.arch.empty());
  EXPECT_GT(hw.memory.total, 0u);
  EXPECT_GT(hw.memory.usable, 0u);
  EXPECT_LE(hw.memory.usable, hw.memory.total);
  EXPECT_LE(hw.memory.available, hw.memory.usable);
  for (const GpuInfo& gpu : hw.gpus) EXPECT_FALSE(gpu.name.empty());
  ASSERT_TRUE(hw.disk.has_value());
  EXPECT_GT(hw.disk->total, 0u);
  EXPECT_FALSE(hw.os.kernel.empty());
  json j = ToJson(hw);
  EXPECT_NO_THROW(j.dump(2, ' ', false, json::error_handler_t::replace));
  EXPECT_FALSE(HardwareRows(hw).empty());
}

TEST(CachedProbeTest, OneAnswerPerProcess) {
  // Other tests of this binary may have probed first; only sameness is asserted.
  ProbeOptions options;
  const HardwareInfo& first = CachedProbe(options);
  options.root = FixtureRoot("laptop");
  EXPECT_EQ(&CachedProbe(options), &first);
  EXPECT_GE(first.cpu.logical_cores, 1);
}

}  // namespace
}  // namespace hangar
