#include "hardware/hardware.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "core/log.h"
#include "core/units.h"

namespace hangar {

HardwareInfo ProbeHardware(const ProbeOptions& options) {
  auto start = std::chrono::steady_clock::now();
  HardwareInfo info;
  KernelInfo kernel = ProbeKernel(options.root);
  info.cpu = ProbeCpu(options.root, kernel.machine);
  info.memory = ProbeMemory(options.root);
  if (options.nvml) info.gpus = ProbeNvidiaGpus(*options.nvml);
  for (GpuInfo& gpu : ProbeAmdGpus(options.root)) info.gpus.push_back(std::move(gpu));
  for (GpuInfo& gpu : ProbeAppleGpus()) {
    // macOS has no /proc/meminfo: the unified memory is the machine's memory.
    if (info.memory.total == 0) info.memory.total = info.memory.usable = gpu.vram_total;
    info.gpus.push_back(std::move(gpu));
  }
  if (!options.disk_path.empty()) {
    Result<DiskInfo> disk = ProbeDisk(options.disk_path);
    if (disk.ok()) {
      info.disk = std::move(disk).value();
    } else {
      Log(LogLevel::kDebug, "disk probe: {}", disk.status().message());
    }
  }
  info.os = ProbeOs(options.root, kernel);
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                    std::chrono::steady_clock::now() - start)
                    .count();
  Log(LogLevel::kDebug, "hardware probe of {} took {} us", options.root.string(), micros);
  return info;
}

const HardwareInfo& HardwareCache::Get() {
  std::call_once(once_, [this] { info_ = ProbeHardware(options_); });
  return info_;
}

const HardwareInfo& CachedProbe(const ProbeOptions& options) {
  static HardwareCache* cache = new HardwareCache(options);  // never destroyed
  return cache->Get();
}

namespace {

template <typename T>
nlohmann::json OrNull(const std::optional<T>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

}  // namespace

nlohmann::json ToJson(const HardwareInfo& info) {
  using nlohmann::json;
  const CpuInfo& cpu = info.cpu;
  const MemoryInfo& mem = info.memory;
  json gpus = json::array();
  for (const GpuInfo& g : info.gpus) {
    gpus.push_back({{"index", g.index},
                    {"vendor", g.vendor},
                    {"name", g.name},
                    {"vram_total", g.vram_total},
                    {"vram_free", OrNull(g.vram_free)},
                    {"driver_version", g.driver_version},
                    {"cuda_version", g.cuda_version},
                    {"compute_capability", g.compute_capability},
                    {"temperature_c", OrNull(g.temperature_c)},
                    {"pci_bus_id", g.pci_bus_id},
                    {"unified_memory", g.unified_memory}});
  }
  json disk = nullptr;
  if (info.disk) {
    disk = {
        {"path", info.disk->path.string()}, {"total", info.disk->total}, {"free", info.disk->free}};
  }
  return {
      {"cpu",
       {{"vendor", cpu.vendor},
        {"model", cpu.model},
        {"arch", cpu.arch},
        {"physical_cores", cpu.physical_cores},
        {"logical_cores", cpu.logical_cores},
        {"frequency_mhz", {{"current", OrNull(cpu.current_mhz)}, {"max", OrNull(cpu.max_mhz)}}},
        {"features", cpu.features},
        {"cache",
         {{"l1d", OrNull(cpu.l1d_cache)},
          {"l2", OrNull(cpu.l2_cache)},
          {"l3", OrNull(cpu.l3_cache)}}}}},
      {"memory",
       {{"total", mem.total},
        {"available", mem.available},
        {"swap_total", mem.swap_total},
        {"swap_free", mem.swap_free},
        {"cgroup_limit", OrNull(mem.cgroup_limit)},
        {"usable", mem.usable}}},
      {"gpus", std::move(gpus)},
      {"disk", std::move(disk)},
      {"os", {{"name", info.os.name}, {"version", info.os.version}, {"kernel", info.os.kernel}}},
  };
}

namespace {

std::string OrUnknown(const std::string& s) { return s.empty() ? "unknown" : s; }

std::string GpuRow(const GpuInfo& g) {
  std::string row = g.name;
  if (g.vram_total > 0) {
    row += fmt::format(", {} {}", FormatBytes(g.vram_total), g.unified_memory ? "unified" : "VRAM");
    if (g.vram_free) row += fmt::format(" ({} free)", FormatBytes(*g.vram_free));
  }
  if (!g.compute_capability.empty()) row += ", compute " + g.compute_capability;
  if (g.temperature_c) row += fmt::format(", {} °C", *g.temperature_c);
  if (!g.driver_version.empty()) row += ", driver " + g.driver_version;
  if (!g.cuda_version.empty()) row += ", CUDA " + g.cuda_version;
  return row;
}

}  // namespace

std::vector<HardwareRow> HardwareRows(const HardwareInfo& info) {
  const CpuInfo& cpu = info.cpu;
  const MemoryInfo& mem = info.memory;
  std::vector<HardwareRow> rows;
  std::string cpu_row = OrUnknown(cpu.model);
  if (!cpu.vendor.empty() || !cpu.arch.empty()) {
    cpu_row +=
        " (" + cpu.vendor + (cpu.vendor.empty() || cpu.arch.empty() ? "" : ", ") + cpu.arch + ")";
  }
  rows.push_back({"CPU", cpu_row});
  rows.push_back(
      {"Cores", fmt::format("{} physical, {} logical", cpu.physical_cores, cpu.logical_cores)});
  std::string freq;
  if (cpu.current_mhz) freq = fmt::format("{:.0f} MHz", *cpu.current_mhz);
  if (cpu.max_mhz) {
    freq += fmt::format("{}max {:.0f} MHz{}", freq.empty() ? "" : " (", *cpu.max_mhz,
                        freq.empty() ? "" : ")");
  }
  rows.push_back({"Frequency", OrUnknown(freq)});
  std::string features = fmt::format("{}", fmt::join(cpu.features, " "));
  rows.push_back({"Features", features.empty() ? "none detected" : features});
  std::vector<std::string> caches;
  if (cpu.l1d_cache) caches.push_back("L1d " + FormatBytes(*cpu.l1d_cache));
  if (cpu.l2_cache) caches.push_back("L2 " + FormatBytes(*cpu.l2_cache));
  if (cpu.l3_cache) caches.push_back("L3 " + FormatBytes(*cpu.l3_cache));
  rows.push_back({"Cache", OrUnknown(fmt::format("{}", fmt::join(caches, ", ")))});
  rows.push_back({"Memory", fmt::format("{} total, {} available", FormatBytes(mem.total),
                                        FormatBytes(mem.available))});
  if (mem.cgroup_limit) {
    rows.push_back(
        {"Memory limit", fmt::format("{} (cgroup); {} usable", FormatBytes(*mem.cgroup_limit),
                                     FormatBytes(mem.usable))});
  }
  rows.push_back({"Swap", mem.swap_total == 0
                              ? std::string("none")
                              : fmt::format("{} total, {} free", FormatBytes(mem.swap_total),
                                            FormatBytes(mem.swap_free))});
  if (info.gpus.empty()) rows.push_back({"GPU", "none"});
  for (size_t i = 0; i < info.gpus.size(); ++i) {
    rows.push_back({fmt::format("GPU {}", i), GpuRow(info.gpus[i])});
  }
  if (info.disk) {
    rows.push_back(
        {"Disk", fmt::format("{}: {} free of {}", info.disk->path.string(),
                             FormatBytes(info.disk->free), FormatBytes(info.disk->total))});
  }
  rows.push_back({"OS", OrUnknown(info.os.name)});
  rows.push_back({"Kernel", OrUnknown(info.os.kernel)});
  return rows;
}

}  // namespace hangar
