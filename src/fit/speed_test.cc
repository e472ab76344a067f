#include "fit/speed.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "catalog/catalog.h"
#include "core/file_util.h"
#include "core/status_matchers.h"
#include "core/units.h"

namespace hangar::fit {
namespace {

using ::testing::HasSubstr;

// A fresh folder removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            ("hangar-speed-" + std::to_string(::getpid()) + "-" + info->name());
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

CpuInfo Cpu(int cores, double mhz, std::vector<std::string> features) {
  CpuInfo cpu;
  cpu.model = "Test CPU";
  cpu.physical_cores = cores;
  cpu.logical_cores = cores * 2;
  cpu.max_mhz = mhz;
  cpu.features = std::move(features);
  return cpu;
}

HardwareInfo Machine(std::vector<GpuInfo> gpus = {}) {
  HardwareInfo hw;
  hw.cpu = Cpu(8, 4000, {"avx", "avx2", "fma"});
  hw.memory.total = hw.memory.available = hw.memory.usable = 32 * kGB;
  hw.gpus = std::move(gpus);
  return hw;
}

GpuInfo Gpu(std::string name, uint64_t vram, bool unified = false) {
  GpuInfo g;
  g.vendor = "nvidia";
  g.name = std::move(name);
  g.vram_total = vram;
  g.unified_memory = unified;
  return g;
}

const CatalogEntry& Entry(std::string_view id) {
  const CatalogEntry* e = FindById(id);
  EXPECT_NE(e, nullptr) << id;
  return *e;
}

// Weights and an f16 KV cache at `ctx`, split over the devices by `gpu_share`
// of the layers (the host first).
MemoryBreakdown Split(const CatalogEntry& e, double gpu_share, size_t gpus, uint32_t ctx = 4096) {
  MemoryBreakdown b;
  b.n_ctx = ctx;
  const uint64_t kv = ApproxKvCacheBytes(e.arch, ctx);
  DeviceMemory host;
  host.device = "CPU";
  host.weights = static_cast<uint64_t>(e.file_size_bytes * (1 - gpu_share));
  host.kv_cache = static_cast<uint64_t>(kv * (1 - gpu_share));
  b.devices.push_back(host);
  for (size_t i = 0; i < gpus; ++i) {
    DeviceMemory d;
    d.device = "CUDA" + std::to_string(i);
    d.weights = static_cast<uint64_t>(e.file_size_bytes * gpu_share / gpus);
    d.kv_cache = static_cast<uint64_t>(kv * gpu_share / gpus);
    b.devices.push_back(d);
  }
  b.n_gpu_layers = gpu_share > 0 ? static_cast<int32_t>(e.arch.block_count + 1) : 0;
  return b;
}

// --- GPU table ---------------------------------------------------------------

TEST(SpeedGpuTableTest, LongestWholeWordFragmentWins) {
  struct Case {
    std::string name;
    std::string fragment;  // empty: not in the table
  };
  const Case cases[] = {
      {"NVIDIA GeForce RTX 4090", "rtx 4090"},
      {"NVIDIA GeForce RTX 3090 Ti", "rtx 3090 ti"},
      {"NVIDIA GeForce RTX 3090", "rtx 3090"},
      {"NVIDIA H100 PCIe", "h100 pcie"},
      {"NVIDIA H100 80GB HBM3", "h100"},
      {"NVIDIA GH200 480GB", "gh200"},
      {"NVIDIA A100-SXM4-80GB", "a100 sxm4 80gb"},
      {"NVIDIA A100-PCIE-40GB", "a100"},
      {"NVIDIA L40S", "l40s"},
      {"NVIDIA L4", "l4"},
      {"Tesla T4", "t4"},
      {"Apple M2 Max", "m2 max"},
      {"Apple M1", "m1"},
      {"AMD Radeon RX 7900 XTX", "rx 7900 xtx"},
      {"AMD Instinct MI300X", "mi300x"},
      {"Intel Arc A770", ""},
      {"NVIDIA GeForce GTX 1080", ""},
      {"", ""},
  };
  for (const Case& c : cases) {
    std::optional<GpuSpec> spec = LookupGpu(c.name);
    if (c.fragment.empty()) {
      EXPECT_FALSE(spec.has_value()) << c.name << " matched " << spec->fragment;
    } else {
      ASSERT_TRUE(spec.has_value()) << c.name;
      EXPECT_EQ(spec->fragment, c.fragment) << c.name;
    }
  }
}

TEST(SpeedGpuTableTest, NewerGenerationsReadFaster) {
  const std::pair<std::string, std::string> pairs[] = {
      {"NVIDIA GeForce RTX 3090", "NVIDIA GeForce RTX 4090"},
      {"NVIDIA A100-PCIE-40GB", "NVIDIA H100 80GB HBM3"},
      {"NVIDIA H100 80GB HBM3", "NVIDIA H200"},
      {"Apple M1", "Apple M1 Max"},
  };
  for (const auto& [older, newer] : pairs) {
    EXPECT_LT(LookupGpu(older)->bandwidth, LookupGpu(newer)->bandwidth) << older << " " << newer;
  }
}

TEST(SpeedGpuTableTest, GpuSpeedUsesTableThenProxy) {
  DeviceSpeed known = GpuSpeed(Gpu("NVIDIA GeForce RTX 4090", 24 * kGB), 0);
  EXPECT_DOUBLE_EQ(known.bandwidth, LookupGpu("rtx 4090")->bandwidth * kGpuBandwidthEfficiency);
  EXPECT_THAT(known.source, HasSubstr("rtx 4090"));

  // Unknown discrete GPUs: more memory, more bandwidth, within the clamp.
  DeviceSpeed small = GpuSpeed(Gpu("Mystery GPU", 4 * kGB), 0);
  DeviceSpeed mid = GpuSpeed(Gpu("Mystery GPU", 12 * kGB), 0);
  DeviceSpeed huge = GpuSpeed(Gpu("Mystery GPU", 200 * kGB), 0);
  EXPECT_LT(small.bandwidth, mid.bandwidth);
  EXPECT_LT(mid.bandwidth, huge.bandwidth);
  EXPECT_DOUBLE_EQ(GpuSpeed(Gpu("Mystery GPU", 400 * kGB), 0).bandwidth, huge.bandwidth);
  EXPECT_THAT(mid.source, HasSubstr("proxy"));

  // Unknown unified-memory GPUs share the host's bandwidth.
  DeviceSpeed unified = GpuSpeed(Gpu("Future SoC GPU", 64 * kGB, true), 100e9);
  EXPECT_DOUBLE_EQ(unified.bandwidth, 100e9 * kHostBandwidthEfficiency);
}

// --- CPU ---------------------------------------------------------------------

TEST(SpeedCpuTest, PeakFlopsFollowVectorWidthCoresAndClock) {
  const double avx512 = CpuPeakFlops(Cpu(8, 3000, {"avx", "avx2", "fma", "avx512f"}));
  const double avx2 = CpuPeakFlops(Cpu(8, 3000, {"avx", "avx2", "fma"}));
  const double avx = CpuPeakFlops(Cpu(8, 3000, {"avx"}));
  const double neon = CpuPeakFlops(Cpu(8, 3000, {"neon"}));
  const double plain = CpuPeakFlops(Cpu(8, 3000, {}));
  EXPECT_DOUBLE_EQ(avx512, 2 * avx2);
  EXPECT_DOUBLE_EQ(avx2, 2 * avx);
  EXPECT_DOUBLE_EQ(neon, avx);
  EXPECT_DOUBLE_EQ(avx, 2 * plain);
  EXPECT_DOUBLE_EQ(CpuPeakFlops(Cpu(16, 3000, {"avx"})), 2 * avx);
  EXPECT_DOUBLE_EQ(CpuPeakFlops(Cpu(8, 6000, {"avx"})), 2 * avx);

  CpuInfo unknown_clock = Cpu(8, 3000, {"avx"});
  unknown_clock.max_mhz.reset();
  unknown_clock.current_mhz = 1500;
  EXPECT_DOUBLE_EQ(CpuPeakFlops(unknown_clock), avx / 2);  // current clock when no max
  unknown_clock.physical_cores = 0;                        // logical cores then
  EXPECT_DOUBLE_EQ(CpuPeakFlops(unknown_clock), avx);
}

// --- Model facts ---------------------------------------------------------------

TEST(SpeedModelFactsTest, ActiveWeightFraction) {
  EXPECT_DOUBLE_EQ(ActiveWeightFraction(Entry("llama3.1-8b-q4")), 1.0);

  const CatalogEntry& moe = Entry("qwen3-30b-a3b-q4");
  const double published = moe.active_parameter_count / moe.parameter_count;
  EXPECT_DOUBLE_EQ(ActiveWeightFraction(moe), published);

  // Without the published active count the expert counts give about the same.
  CatalogEntry derived = moe;
  derived.active_parameter_count = 0;
  EXPECT_NEAR(ActiveWeightFraction(derived), published, published * 0.2);
  derived.parameter_count = 0;
  EXPECT_NEAR(ActiveWeightFraction(derived), published, published * 0.2);

  EXPECT_DOUBLE_EQ(ActiveParameters(moe), moe.active_parameter_count);
  CatalogEntry unknown = Entry("llama3.1-8b-q4");
  unknown.parameter_count = 0;
  EXPECT_GT(TotalParameters(unknown), 0);
}

// --- Predictions -----------------------------------------------------------------

TEST(SpeedModelTest, CpuGenerationReadsWeightsAndKvAtHostBandwidth) {
  const CatalogEntry& e = Entry("llama3.1-8b-q4");
  const MemoryBreakdown cpu_only = Split(e, 0, 0);
  const SpeedModel slow(Machine(), 20e9);
  const SpeedModel fast(Machine(), 40e9);
  SpeedPrediction a = slow.Predict(e, cpu_only);
  SpeedPrediction b = fast.Predict(e, cpu_only);
  EXPECT_DOUBLE_EQ(a.bytes_per_token,
                   static_cast<double>(cpu_only.devices[0].weights + cpu_only.devices[0].kv_cache));
  // Memory-bound: twice the bandwidth, nearly twice the tokens (a fixed
  // per-token overhead keeps it under).
  EXPECT_GT(b.gen_tokens_per_second, 1.8 * a.gen_tokens_per_second);
  EXPECT_LT(b.gen_tokens_per_second, 2.0 * a.gen_tokens_per_second);
  EXPECT_LT(a.gen_tokens_per_second, 20e9 * kHostBandwidthEfficiency / a.bytes_per_token);
  EXPECT_DOUBLE_EQ(a.flops_per_token, 2 * e.parameter_count);
  EXPECT_GT(a.prompt_tokens_per_second, a.gen_tokens_per_second);
}

TEST(SpeedModelTest, MixtureOfExpertsReadsOnlyActiveWeights) {
  const CatalogEntry& moe = Entry("qwen3-30b-a3b-q4");
  const MemoryBreakdown b = Split(moe, 0, 0);
  SpeedPrediction p = SpeedModel(Machine(), 40e9).Predict(moe, b);
  EXPECT_DOUBLE_EQ(p.bytes_per_token, b.devices[0].weights * ActiveWeightFraction(moe) +
                                          static_cast<double>(b.devices[0].kv_cache));
  // Faster than a dense model of a third of its size.
  const CatalogEntry& dense = Entry("qwen3-8b-q4");
  SpeedPrediction d = SpeedModel(Machine(), 40e9).Predict(dense, Split(dense, 0, 0));
  EXPECT_GT(p.gen_tokens_per_second, d.gen_tokens_per_second);
}

TEST(SpeedModelTest, OffloadingToAFasterGpuSpeedsUp) {
  const CatalogEntry& e = Entry("llama3.1-8b-q4");
  const SpeedModel model(Machine({Gpu("NVIDIA GeForce RTX 4090", 24 * kGB)}), 40e9);
  ASSERT_EQ(model.gpus().size(), 1u);
  SpeedPrediction cpu = model.Predict(e, Split(e, 0, 1));
  SpeedPrediction half = model.Predict(e, Split(e, 0.5, 1));
  SpeedPrediction full = model.Predict(e, Split(e, 1, 1));
  EXPECT_LT(cpu.gen_tokens_per_second, half.gen_tokens_per_second);
  EXPECT_LT(half.gen_tokens_per_second, full.gen_tokens_per_second);
  EXPECT_LT(cpu.prompt_tokens_per_second, full.prompt_tokens_per_second);
  // The token embedding stays on the host and is not read whole per token.
  EXPECT_LT(half.bytes_per_token, cpu.bytes_per_token);
}

TEST(SpeedModelTest, TwoGpusSplitTheWork) {
  const CatalogEntry& e = Entry("llama3.1-70b-q4");
  const SpeedModel model(
      Machine({Gpu("NVIDIA A100-PCIE-40GB", 40 * kGB), Gpu("NVIDIA A100-PCIE-40GB", 40 * kGB)}),
      40e9);
  SpeedPrediction p = model.Predict(e, Split(e, 1, 2));
  SpeedPrediction cpu = model.Predict(e, Split(e, 0, 2));
  EXPECT_GT(p.gen_tokens_per_second, 5 * cpu.gen_tokens_per_second);
  EXPECT_GT(p.gen_tokens_per_second, 0);
}

TEST(SpeedModelTest, EmptyBreakdownPredictsNothing) {
  SpeedPrediction p = SpeedModel(Machine(), 0).Predict(Entry("llama3.1-8b-q4"), MemoryBreakdown{});
  EXPECT_EQ(p.gen_tokens_per_second, 0);
  EXPECT_EQ(p.prompt_tokens_per_second, 0);
}

TEST(SpeedModelTest, DefaultHostBandwidthWhenNoneMeasured) {
  SpeedModel model(Machine(), 0);
  EXPECT_DOUBLE_EQ(model.host().bandwidth, kDefaultHostBandwidth * kHostBandwidthEfficiency);
  EXPECT_EQ(model.host().source, "default");
  EXPECT_EQ(SpeedModel(Machine(), 30e9).host().source, "measured");
}

// --- Bandwidth probe and cache -----------------------------------------------------

TEST(SpeedBandwidthProbeTest, MeasuresAPositiveRate) {
  Result<double> bw = MeasureMemoryBandwidth({.buffer_bytes = 8 * kMiB, .threads = 2, .runs = 2});
  ASSERT_OK(bw);
  EXPECT_GT(*bw, 0);
}

TEST(SpeedBandwidthProbeTest, RejectsBadOptions) {
  EXPECT_THAT(MeasureMemoryBandwidth({.buffer_bytes = 1024, .threads = 1, .runs = 1}),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(MeasureMemoryBandwidth({.buffer_bytes = 4 * kMiB, .threads = 1, .runs = 0}),
              StatusIs(StatusCode::kInvalidArgument));
}

TEST(SpeedBandwidthCacheTest, MeasuresOncePerCpuModel) {
  TempDir dir;
  int calls = 0;
  double next = 30e9;
  BandwidthMeasureFn measure = [&]() -> Result<double> {
    ++calls;
    return next;
  };
  CpuInfo cpu = Cpu(8, 3000, {});
  ASSERT_THAT(LoadOrMeasureHostBandwidth(dir.path(), cpu, measure), StatusIs(StatusCode::kOk));
  next = 99e9;  // a second measurement would answer this
  Result<double> again = LoadOrMeasureHostBandwidth(dir.path(), cpu, measure);
  ASSERT_OK(again);
  EXPECT_DOUBLE_EQ(*again, 30e9);
  EXPECT_EQ(calls, 1);

  CpuInfo other = cpu;
  other.model = "Another CPU";
  Result<double> measured = LoadOrMeasureHostBandwidth(dir.path(), other, measure);
  ASSERT_OK(measured);
  EXPECT_DOUBLE_EQ(*measured, 99e9);
  EXPECT_EQ(calls, 2);

  Result<std::string> text = ReadFile(dir.path() / "bandwidth.json");
  ASSERT_OK(text);
  nlohmann::json doc = nlohmann::json::parse(*text);
  EXPECT_EQ(doc["version"], 1);
  EXPECT_DOUBLE_EQ(doc["cpus"]["Test CPU"]["bytes_per_second"].get<double>(), 30e9);
  EXPECT_DOUBLE_EQ(doc["cpus"]["Another CPU"]["bytes_per_second"].get<double>(), 99e9);
}

TEST(SpeedBandwidthCacheTest, DamagedFileIsMeasuredAgainAndReplaced) {
  const std::string damaged[] = {"{not json", "[1,2]", R"({"cpus": 7})",
                                 R"({"cpus": {"Test CPU": {"bytes_per_second": -1}}})",
                                 R"({"cpus": {"Test CPU": "fast"}})"};
  for (const std::string& content : damaged) {
    TempDir dir;
    ASSERT_OK(WriteFileAtomic(dir.path() / "bandwidth.json", content));
    int calls = 0;
    Result<double> bw =
        LoadOrMeasureHostBandwidth(dir.path(), Cpu(8, 3000, {}), [&]() -> Result<double> {
          ++calls;
          return 12e9;
        });
    ASSERT_OK(bw) << content;
    EXPECT_DOUBLE_EQ(*bw, 12e9);
    EXPECT_EQ(calls, 1) << content;
    Result<std::string> text = ReadFile(dir.path() / "bandwidth.json");
    ASSERT_OK(text);
    EXPECT_TRUE(nlohmann::json::accept(*text)) << content;
  }
}

TEST(SpeedBandwidthCacheTest, Errors) {
  TempDir dir;
  CpuInfo cpu = Cpu(8, 3000, {});
  EXPECT_THAT(LoadOrMeasureHostBandwidth(
                  dir.path(), cpu, []() -> Result<double> { return UnavailableError("busy"); }),
              StatusIs(StatusCode::kUnavailable));
  EXPECT_THAT(LoadOrMeasureHostBandwidth(dir.path(), cpu, []() -> Result<double> { return 0.0; }),
              StatusIs(StatusCode::kInternal));
  EXPECT_THAT(LoadOrMeasureHostBandwidth(dir.path(), cpu, nullptr),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "bandwidth.json"));
}

TEST(SpeedBandwidthCacheTest, UnwritableCacheStillAnswers) {
  TempDir dir;
  const std::filesystem::path not_a_dir = dir.path() / "file";
  ASSERT_OK(WriteFileAtomic(not_a_dir, "x"));
  Result<double> bw = LoadOrMeasureHostBandwidth(not_a_dir, Cpu(8, 3000, {}),
                                                 []() -> Result<double> { return 7e9; });
  ASSERT_OK(bw);
  EXPECT_DOUBLE_EQ(*bw, 7e9);
}

TEST(SpeedBandwidthCacheTest, KeyFallsBackToArchitecture) {
  CpuInfo cpu;
  EXPECT_EQ(BandwidthCacheKey(cpu), "cpu");
  cpu.arch = "aarch64";
  EXPECT_EQ(BandwidthCacheKey(cpu), "aarch64");
  cpu.model = "Neoverse-V1";
  EXPECT_EQ(BandwidthCacheKey(cpu), "Neoverse-V1");
}

}  // namespace
}  // namespace hangar::fit
