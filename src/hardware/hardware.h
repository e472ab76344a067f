// The hardware probe: one HardwareInfo describing this machine's CPU, memory,
// GPUs, disk space at the store and operating system, for fitting models to it
// (`hangar hw`, `hangar recommend`, the fit checks of `hangar pull`).
//
// Everything is read from text files below ProbeOptions::root ("/" on a real
// machine, a fixture tree in tests), from NVML through the NvmlApi seam and
// from statvfs(); no subprocess is started. A probe takes a few milliseconds
// plus NVML's initialisation when an NVIDIA driver is present.
//
// ProbeHardware() never fails: a part that cannot be read stays unknown (0,
// empty, nullopt; reasons are logged at debug level), and "no GPU" is an empty
// list. It is thread-safe as far as the NvmlApi given is (one probe per NvmlApi
// at a time). HardwareCache and CachedProbe() probe once and are thread-safe.
//
// JSON (ToJson; `hangar hw --json`). Sizes are bytes, unknown numbers null,
// unknown strings "", keys as below (nlohmann::json writes them sorted):
//   {"cpu": {"vendor": "GenuineIntel", "model": "Intel(R) Xeon(R) w3-2435",
//            "arch": "x86_64", "physical_cores": 8, "logical_cores": 16,
//            "frequency_mhz": {"current": 3100.0 | null, "max": 4500.0 | null},
//            "features": ["sse4_2", "avx", "avx2", ...],   (see kCpuFeatureNames)
//            "cache": {"l1d": 49152 | null, "l2": 2097152 | null, "l3": ... | null}},
//    "memory": {"total": 67108864000, "available": 60000000000,
//               "swap_total": 0, "swap_free": 0,
//               "cgroup_limit": 8589934592 | null, "usable": 8589934592},
//    "gpus": [{"index": 0, "vendor": "nvidia" | "amd" | "apple",
//              "name": "NVIDIA GeForce RTX 4090", "vram_total": 25757220864,
//              "vram_free": 25000000000 | null, "driver_version": "550.54.14",
//              "cuda_version": "12.4", "compute_capability": "8.9",
//              "temperature_c": 45 | null, "pci_bus_id": "00000000:01:00.0",
//              "unified_memory": false}],
//    "disk": {"path": "/home/me/.cache/huggingface/hub", "total": ..., "free": ...} | null,
//    "os": {"name": "Debian GNU/Linux 12 (bookworm)", "version": "12",
//           "kernel": "6.1.0-18-amd64"}}
// Strings are copied as the system wrote them; dump() with
// nlohmann::json::error_handler_t::replace to be safe from invalid UTF-8.
#ifndef HANGAR_HARDWARE_HARDWARE_H_
#define HANGAR_HARDWARE_HARDWARE_H_

#include <filesystem>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "hardware/cpu.h"
#include "hardware/disk.h"
#include "hardware/gpu.h"
#include "hardware/memory.h"
#include "hardware/nvml.h"
#include "hardware/os.h"

namespace hangar {

struct HardwareInfo {
  CpuInfo cpu;
  MemoryInfo memory;
  std::vector<GpuInfo> gpus;     // NVIDIA first, then AMD, then Apple
  std::optional<DiskInfo> disk;  // nullopt when no disk_path was given or statvfs failed
  OsInfo os;

  friend bool operator==(const HardwareInfo&, const HardwareInfo&) = default;
};

struct ProbeOptions {
  // Where /proc, /sys and /etc are read ("proc/cpuinfo" is root/proc/cpuinfo).
  std::filesystem::path root = "/";
  // NVIDIA GPUs come from here; nullptr probes none. main() passes a RealNvml.
  // Borrowed: must outlive the probe.
  NvmlApi* nvml = nullptr;
  // The store location whose free space is reported; empty for none. A real
  // path (not below root); the folder need not exist yet.
  std::filesystem::path disk_path;
};

HardwareInfo ProbeHardware(const ProbeOptions& options);

// Probes on the first Get() and keeps the answer for the object's lifetime.
// Get() is thread-safe: concurrent first callers wait for the one probe.
// options.nvml must outlive the first Get().
class HardwareCache {
 public:
  explicit HardwareCache(ProbeOptions options) : options_(std::move(options)) {}
  const HardwareInfo& Get();

 private:
  ProbeOptions options_;
  std::once_flag once_;
  HardwareInfo info_;
};

// A process-wide HardwareCache: the first call probes with `options`; later
// calls return that same answer and ignore theirs. Thread-safe.
const HardwareInfo& CachedProbe(const ProbeOptions& options);

// The JSON shape documented above (include <nlohmann/json.hpp> to use it).
nlohmann::json ToJson(const HardwareInfo& info);

// Rows for a two-column table (the CLI renders them), in display order:
// CPU, Cores, Frequency, Features, Cache, Memory, Memory limit (when limited),
// Swap, GPU N (one per GPU, or "GPU": "none"), Disk (when probed), OS, Kernel.
struct HardwareRow {
  std::string label;
  std::string value;
  friend bool operator==(const HardwareRow&, const HardwareRow&) = default;
};
std::vector<HardwareRow> HardwareRows(const HardwareInfo& info);

}  // namespace hangar

#endif  // HANGAR_HARDWARE_HARDWARE_H_
