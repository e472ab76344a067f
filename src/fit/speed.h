// Speed model: how fast a model will generate and read prompts on this
// machine, predicted before it is ever run.
//
// Generation is memory-bound: each new token reads every weight it uses once
// (all weights of a dense model; the shared weights plus the active experts of
// a mixture of experts) and the KV cache at the context, so
//   gen tokens/s = 1 / sum over devices (bytes read there / effective bandwidth).
// Prompt processing is compute-bound: about 2 FLOPs per active parameter and
// token, so
//   prompt tokens/s = 1 / sum over devices (share of FLOPs / effective peak).
// Main-memory bandwidth is measured once (MeasureMemoryBandwidth: a short
// multi-threaded streaming read) and cached per CPU model in a small JSON file
// (LoadOrMeasureHostBandwidth); GPU bandwidth and compute come from a table of
// known GPUs, else from a proxy on the memory size. CPU peak compute is
// cores x clock x FLOPs per cycle of the widest vector unit (AVX-512, AVX2+FMA,
// NEON).
//
// Bandwidth cache file, `<cache_dir>/bandwidth.json`:
//   {"version": 1,
//    "cpus": {"<CPU model>": {"bytes_per_second": 2.1e10}}}
// Unknown keys are kept when the file is rewritten; an unreadable file is
// treated as empty and replaced.
//
// SpeedModel is an immutable value: safe to share between threads. The probe
// starts its own threads and must not run concurrently with another probe if
// the answer is to mean anything; the functions are otherwise thread-safe.
#ifndef HANGAR_FIT_SPEED_H_
#define HANGAR_FIT_SPEED_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/catalog_entry.h"
#include "core/status.h"
#include "fit/memory.h"
#include "hardware/hardware.h"

namespace hangar::fit {

// Main memory bandwidth assumed when none was measured: dual-channel DDR4.
inline constexpr double kDefaultHostBandwidth = 25e9;  // bytes/s
// Share of the measured streaming bandwidth llama.cpp's CPU kernels reach.
inline constexpr double kHostBandwidthEfficiency = 0.8;
// Share of a GPU's peak memory bandwidth reached when generating.
inline constexpr double kGpuBandwidthEfficiency = 0.75;
// Share of peak FLOPs reached when reading a prompt (quantized matmuls).
inline constexpr double kCpuComputeEfficiency = 0.4;
inline constexpr double kGpuComputeEfficiency = 0.35;

// A GPU model of the table: its name fragment (lowercase, words separated by
// single spaces), peak memory bandwidth and dense FP16 tensor throughput.
struct GpuSpec {
  std::string_view fragment;  // "rtx 4090", "h100 pcie"
  double bandwidth;           // bytes/s
  double flops;               // FLOP/s
};

// The table entry whose fragment is the longest one found in `gpu_name`
// (case-insensitive; '-' and '_' count as spaces), or nullopt.
std::optional<GpuSpec> LookupGpu(std::string_view gpu_name);

// How fast one device reads memory and computes, as used by the model.
struct DeviceSpeed {
  std::string device;    // "CPU", "GPU0", ...
  double bandwidth = 0;  // effective bytes/s
  double flops = 0;      // effective FLOP/s
  std::string source;    // "measured", "default", "table: rtx 4090", "proxy: 24 GB"
  friend bool operator==(const DeviceSpeed&, const DeviceSpeed&) = default;
};

// Peak FP32 FLOP/s of the CPU: physical cores x clock (max, else current,
// else 2.5 GHz) x FLOPs per cycle (AVX-512F 64, AVX2+FMA 32, AVX 16, NEON 16,
// otherwise 8).
double CpuPeakFlops(const CpuInfo& cpu);

// Effective speed of `gpu`: the table when its name is known; else a proxy
// from its memory size (about 40 GB/s per GB of VRAM, between 100 and
// 1000 GB/s, and 100 FLOPs per byte of bandwidth). Unified-memory GPUs that
// are not in the table get `host_bandwidth`.
DeviceSpeed GpuSpeed(const GpuInfo& gpu, double host_bandwidth);

// The share of the weights one token reads: active / total parameters of a
// mixture of experts (from active_parameter_count, else from the expert
// counts of the architecture); 1 for a dense model.
double ActiveWeightFraction(const CatalogEntry& entry);

// Parameters of the model: parameter_count, else the file size at ~4.8 bits
// per weight.
double TotalParameters(const CatalogEntry& entry);

// Parameters one token uses (parameter_count x ActiveWeightFraction; from the
// file size at ~4.8 bits per weight when the count is unknown).
double ActiveParameters(const CatalogEntry& entry);

struct SpeedPrediction {
  double gen_tokens_per_second = 0;
  double prompt_tokens_per_second = 0;
  double bytes_per_token = 0;  // weights and KV read per generated token
  double flops_per_token = 0;  // prompt processing
  friend bool operator==(const SpeedPrediction&, const SpeedPrediction&) = default;
};

class SpeedModel {
 public:
  // The devices of `hw`: the host at `host_bandwidth` bytes/s (<= 0 means
  // kDefaultHostBandwidth) times kHostBandwidthEfficiency, then each GPU
  // (GpuSpeed).
  SpeedModel(const HardwareInfo& hw, double host_bandwidth);

  const DeviceSpeed& host() const { return devices_.front(); }
  std::span<const DeviceSpeed> gpus() const {
    return std::span<const DeviceSpeed>(devices_).subspan(1);
  }

  // Speeds of `entry` placed as `memory` says (devices in the breakdown's
  // order: host first, then GPUs). Weights on a device are read at that
  // device's bandwidth, scaled by ActiveWeightFraction; the KV cache is read
  // whole. When layers are offloaded the token embedding stays on the host
  // and is not counted (one row is read per token). Never fails; a model with
  // no weights gets 0.
  SpeedPrediction Predict(const CatalogEntry& entry, const MemoryBreakdown& memory) const;

 private:
  std::vector<DeviceSpeed> devices_;
};

// --- Measuring main-memory bandwidth -----------------------------------------

struct BandwidthProbeOptions {
  uint64_t buffer_bytes = 256 * 1024 * 1024;
  int threads = 0;  // 0: every hardware thread
  int runs = 3;     // the best run counts
};

// Streams through a freshly populated buffer with several threads and returns
// the best read rate in bytes/s. The defaults take well under 200 ms on a
// physical machine; in a virtual machine whose hypervisor backs fresh memory
// on first use the first touch can cost several hundred ms more (once: the
// answer is cached). InvalidArgument for a buffer under 1 MiB or runs < 1;
// ResourceExhausted when the buffer cannot be mapped; Unavailable when
// threads cannot start.
Result<double> MeasureMemoryBandwidth(const BandwidthProbeOptions& options = {});

// The cache key of a CPU: its model name, else its architecture, else "cpu".
std::string BandwidthCacheKey(const CpuInfo& cpu);

using BandwidthMeasureFn = std::function<Result<double>()>;

// The host bandwidth of `cpu` from `<cache_dir>/bandwidth.json`, or, when the
// file has no positive entry for its key, the answer of `measure`, which is
// then written to the file (atomically; a write failure is logged, not
// returned). Fails when `measure` fails (its Status is returned), is empty
// (InvalidArgument) or answers a value that is not positive (Internal).
Result<double> LoadOrMeasureHostBandwidth(const std::filesystem::path& cache_dir,
                                          const CpuInfo& cpu, const BandwidthMeasureFn& measure);

}  // namespace hangar::fit

#endif  // HANGAR_FIT_SPEED_H_
