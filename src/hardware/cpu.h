// The processor: what it is, how many cores it has, and which vector
// instructions it offers (the ones llama.cpp kernels are built for).
//
// Probed from text files below a root folder ("/" on a real machine, a fixture
// tree in tests): /proc/cpuinfo, /sys/devices/system/cpu/{online,
// cpu*/topology, cpu0/cpufreq, cpu0/cache}. Probing never fails: what cannot be
// read stays unknown (0, empty or nullopt). Functions are thread-safe.
#ifndef HANGAR_HARDWARE_CPU_H_
#define HANGAR_HARDWARE_CPU_H_

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hangar {

// Canonical feature names, in the order CpuInfo::features lists them:
//   x86:  sse4_2 avx avx2 fma f16c avx_vnni avx512f avx512bw avx512vl
//         avx512_vnni avx512_bf16 amx_tile amx_int8 amx_bf16
//   Arm:  neon (cpuinfo "asimd" or "neon") dotprod ("asimddp") i8mm
//         fp16 ("asimdhp") bf16 sve sve2
inline constexpr std::string_view kCpuFeatureNames[] = {
    "sse4_2",   "avx",      "avx2",        "fma",         "f16c",     "avx_vnni", "avx512f",
    "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16",
    "neon",     "dotprod",  "i8mm",        "fp16",        "bf16",     "sve",      "sve2"};

struct CpuInfo {
  std::string vendor;      // "GenuineIntel", "AuthenticAMD", "ARM", "Ampere"...; empty if unknown
  std::string model;       // "Intel(R) Core(TM) i5-7200U CPU @ 2.50GHz", "Neoverse-V1"
  std::string arch;        // the kernel's machine name: "x86_64", "aarch64"
  int physical_cores = 0;  // distinct cores (SMT siblings counted once); >= 1 when known
  int logical_cores = 0;   // online hardware threads
  std::optional<double> current_mhz;  // average "cpu MHz", else cpu0's scaling_cur_freq
  std::optional<double> max_mhz;      // cpu0's cpuinfo_max_freq
  std::vector<std::string> features;  // a subset of kCpuFeatureNames, in that order
  std::optional<uint64_t> l1d_cache;  // bytes, as seen by cpu0 (per core)
  std::optional<uint64_t> l2_cache;   // bytes, as seen by cpu0
  std::optional<uint64_t> l3_cache;   // bytes, shared

  bool HasFeature(std::string_view name) const;
  friend bool operator==(const CpuInfo&, const CpuInfo&) = default;
};

// Everything the probe can learn about the CPU below `root`; `arch` is the
// kernel's machine name (see KernelInfo in os.h), copied into the result.
CpuInfo ProbeCpu(const std::filesystem::path& root, std::string arch);

// The machine's CPU time so far (the "cpu" line of root/proc/stat), in clock
// ticks: how busy it was between two readings is BusyFraction(a, b).
struct CpuTimes {
  uint64_t busy = 0;  // user + nice + system + irq + softirq + steal
  uint64_t idle = 0;  // idle + iowait
};
std::optional<CpuTimes> ReadCpuTimes(const std::filesystem::path& root);
// 0 to 1; 0 when no time passed between the readings.
double BusyFraction(const CpuTimes& before, const CpuTimes& after);

namespace hardware_internal {

// What /proc/cpuinfo alone says: vendor, model, logical cores (processor
// entries), physical cores (distinct "physical id"/"core id" pairs; 0 when the
// file has none, as on Arm), average "cpu MHz" and features. On Arm the vendor
// and model come from "CPU implementer"/"CPU part" (distinct parts joined with
// " + " on big.LITTLE machines).
CpuInfo ParseCpuinfo(std::string_view text);

// The "cpu" line of /proc/stat; nullopt when it has none.
std::optional<CpuTimes> ParseProcStat(std::string_view text);

// The CPU numbers of a kernel CPU list such as "0-3,8,10-11".
std::vector<int> ParseCpuList(std::string_view text);

}  // namespace hardware_internal
}  // namespace hangar

#endif  // HANGAR_HARDWARE_CPU_H_
