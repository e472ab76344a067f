#include "fit/speed.h"

#include <fmt/format.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <latch>
#include <memory>
#include <nlohmann/json.hpp>
#include <system_error>
#include <thread>

#include "core/file_util.h"
#include "core/log.h"
#include "core/units.h"

namespace hangar::fit {
namespace {

constexpr double kGBps = 1e9;
constexpr double kTflops = 1e12;

// Peak memory bandwidth and dense FP16 tensor throughput (FP32 accumulate)
// from the vendors' data sheets. Fragments match whole words of the
// normalised device name; the longest match wins ("h100 pcie" over "h100").
constexpr GpuSpec kGpuTable[] = {
    // NVIDIA GeForce / workstation.
    {"rtx 5090", 1792 * kGBps, 210 * kTflops},
    {"rtx 5080", 960 * kGBps, 113 * kTflops},
    {"rtx 4090", 1008 * kGBps, 165 * kTflops},
    {"rtx 4080 super", 736 * kGBps, 104 * kTflops},
    {"rtx 4080", 717 * kGBps, 97 * kTflops},
    {"rtx 4070 ti super", 672 * kGBps, 88 * kTflops},
    {"rtx 4070 ti", 504 * kGBps, 80 * kTflops},
    {"rtx 4070", 504 * kGBps, 58 * kTflops},
    {"rtx 4060 ti", 288 * kGBps, 44 * kTflops},
    {"rtx 4060", 272 * kGBps, 30 * kTflops},
    {"rtx 3090 ti", 1008 * kGBps, 80 * kTflops},
    {"rtx 3090", 936 * kGBps, 71 * kTflops},
    {"rtx 3080 ti", 912 * kGBps, 68 * kTflops},
    {"rtx 3080", 760 * kGBps, 60 * kTflops},
    {"rtx 3070", 448 * kGBps, 40 * kTflops},
    {"rtx 3060", 360 * kGBps, 25 * kTflops},
    {"rtx 2080 ti", 616 * kGBps, 54 * kTflops},
    {"titan rtx", 672 * kGBps, 130 * kTflops},
    {"rtx a6000", 768 * kGBps, 155 * kTflops},
    {"rtx 6000 ada", 960 * kGBps, 364 * kTflops},
    // NVIDIA data centre.
    {"t4", 320 * kGBps, 65 * kTflops},
    {"v100", 900 * kGBps, 125 * kTflops},
    {"a10", 600 * kGBps, 125 * kTflops},
    {"a40", 696 * kGBps, 150 * kTflops},
    {"a100", 1555 * kGBps, 312 * kTflops},
    {"a100 sxm4 80gb", 2039 * kGBps, 312 * kTflops},
    {"a100 80gb pcie", 1935 * kGBps, 312 * kTflops},
    {"l4", 300 * kGBps, 121 * kTflops},
    {"l40", 864 * kGBps, 181 * kTflops},
    {"l40s", 864 * kGBps, 362 * kTflops},
    {"h100", 3350 * kGBps, 989 * kTflops},
    {"h100 pcie", 2000 * kGBps, 756 * kTflops},
    {"h100 nvl", 3900 * kGBps, 835 * kTflops},
    {"h200", 4800 * kGBps, 989 * kTflops},
    {"gh200", 4000 * kGBps, 989 * kTflops},
    {"b200", 8000 * kGBps, 2250 * kTflops},
    // AMD.
    {"mi210", 1638 * kGBps, 181 * kTflops},
    {"mi250", 3277 * kGBps, 362 * kTflops},
    {"mi250x", 3277 * kGBps, 383 * kTflops},
    {"mi300x", 5300 * kGBps, 1307 * kTflops},
    {"rx 6800 xt", 512 * kGBps, 41 * kTflops},
    {"rx 6900 xt", 512 * kGBps, 46 * kTflops},
    {"rx 7900 xt", 800 * kGBps, 103 * kTflops},
    {"rx 7900 xtx", 960 * kGBps, 123 * kTflops},
    // Apple silicon (unified memory; FP32 GPU throughput).
    {"m1", 68 * kGBps, 2.6 * kTflops},
    {"m1 pro", 200 * kGBps, 5.2 * kTflops},
    {"m1 max", 400 * kGBps, 10.4 * kTflops},
    {"m1 ultra", 800 * kGBps, 21 * kTflops},
    {"m2", 100 * kGBps, 3.6 * kTflops},
    {"m2 pro", 200 * kGBps, 6.8 * kTflops},
    {"m2 max", 400 * kGBps, 13.6 * kTflops},
    {"m2 ultra", 800 * kGBps, 27.2 * kTflops},
    {"m3", 100 * kGBps, 4.1 * kTflops},
    {"m3 pro", 150 * kGBps, 7.4 * kTflops},
    {"m3 max", 400 * kGBps, 16.4 * kTflops},
    {"m3 ultra", 819 * kGBps, 28 * kTflops},
    {"m4", 120 * kGBps, 4.3 * kTflops},
    {"m4 pro", 273 * kGBps, 9.2 * kTflops},
    {"m4 max", 546 * kGBps, 18.4 * kTflops},
};

// Per generated token: synchronisation and kernel launches.
constexpr double kCpuTokenOverheadSeconds = 0.1e-3;
constexpr double kGpuTokenOverheadSeconds = 0.8e-3;
// Bits per weight assumed when a model's parameter count is unknown (Q4_K_M).
constexpr double kDefaultBitsPerWeight = 4.8;
// Proxy for unknown discrete GPUs.
constexpr double kProxyBandwidthPerGB = 40 * kGBps;
constexpr double kProxyMinBandwidth = 100 * kGBps;
constexpr double kProxyMaxBandwidth = 1000 * kGBps;
constexpr double kProxyFlopsPerByte = 100;

// Lowercase, '-' and '_' as spaces, runs of spaces collapsed, trimmed.
std::string NormaliseName(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (char c : name) {
    char ch = (c == '-' || c == '_' || c == '\t') ? ' ' : c;
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
    if (ch == ' ' && (out.empty() || out.back() == ' ')) continue;
    out.push_back(ch);
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// True when `fragment` occurs in `text` bounded by spaces or the ends.
bool ContainsWords(std::string_view text, std::string_view fragment) {
  for (size_t pos = text.find(fragment); pos != std::string_view::npos;
       pos = text.find(fragment, pos + 1)) {
    bool start_ok = pos == 0 || text[pos - 1] == ' ';
    size_t end = pos + fragment.size();
    bool end_ok = end == text.size() || text[end] == ' ';
    if (start_ok && end_ok) return true;
  }
  return false;
}

double FlopsPerCycle(const CpuInfo& cpu) {
  if (cpu.HasFeature("avx512f")) return 64;  // 2 FMA units x 16 floats x 2
  if (cpu.HasFeature("avx2") && cpu.HasFeature("fma")) return 32;
  if (cpu.HasFeature("avx")) return 16;
  if (cpu.HasFeature("neon")) return 16;  // 2 FMA pipes x 4 floats x 2
  return 8;
}

// Bytes of the token-embedding matrix at the file's average bits per weight.
double EmbeddingBytes(const CatalogEntry& entry) {
  double params = TotalParameters(entry);
  if (params <= 0) return 0;
  double bytes_per_weight = static_cast<double>(entry.file_size_bytes) / params;
  return static_cast<double>(entry.arch.vocab_size) * entry.arch.embedding_length *
         bytes_per_weight;
}

}  // namespace

std::optional<GpuSpec> LookupGpu(std::string_view gpu_name) {
  std::string name = NormaliseName(gpu_name);
  const GpuSpec* best = nullptr;
  for (const GpuSpec& spec : kGpuTable) {
    if (best != nullptr && spec.fragment.size() <= best->fragment.size()) continue;
    if (ContainsWords(name, spec.fragment)) best = &spec;
  }
  if (best == nullptr) return std::nullopt;
  return *best;
}

double CpuPeakFlops(const CpuInfo& cpu) {
  int cores =
      cpu.physical_cores > 0 ? cpu.physical_cores : (cpu.logical_cores > 0 ? cpu.logical_cores : 1);
  double mhz = cpu.max_mhz.value_or(cpu.current_mhz.value_or(2500.0));
  if (!(mhz > 0)) mhz = 2500.0;
  return cores * mhz * 1e6 * FlopsPerCycle(cpu);
}

DeviceSpeed GpuSpeed(const GpuInfo& gpu, double host_bandwidth) {
  DeviceSpeed speed;
  speed.device = fmt::format("GPU{}", gpu.index);
  if (std::optional<GpuSpec> spec = LookupGpu(gpu.name)) {
    speed.bandwidth = spec->bandwidth * kGpuBandwidthEfficiency;
    speed.flops = spec->flops * kGpuComputeEfficiency;
    speed.source = fmt::format("table: {}", spec->fragment);
    return speed;
  }
  if (gpu.unified_memory) {
    double bw = host_bandwidth > 0 ? host_bandwidth : kDefaultHostBandwidth;
    speed.bandwidth = bw * kHostBandwidthEfficiency;
    speed.flops = bw * kProxyFlopsPerByte * kGpuComputeEfficiency;
    speed.source = "unified memory";
    return speed;
  }
  double gb = static_cast<double>(gpu.vram_total) / 1e9;
  double peak = std::clamp(gb * kProxyBandwidthPerGB, kProxyMinBandwidth, kProxyMaxBandwidth);
  speed.bandwidth = peak * kGpuBandwidthEfficiency;
  speed.flops = peak * kProxyFlopsPerByte * kGpuComputeEfficiency;
  speed.source = fmt::format("proxy: {} of VRAM", FormatBytesDecimal(gpu.vram_total));
  return speed;
}

double ActiveWeightFraction(const CatalogEntry& entry) {
  if (entry.active_parameter_count > 0 && entry.parameter_count > 0) {
    return std::clamp(entry.active_parameter_count / entry.parameter_count, 0.0, 1.0);
  }
  const ModelArchitecture& a = entry.arch;
  if (!a.IsMoe() || a.expert_used_count == 0 || a.expert_feed_forward_length == 0 ||
      a.embedding_length == 0 || a.block_count == 0) {
    return 1.0;
  }
  double n_embd = a.embedding_length;
  double moe_layers = a.block_count - std::min(a.leading_dense_block_count, a.block_count);
  double per_expert = 3.0 * n_embd * a.expert_feed_forward_length;
  double experts_total = moe_layers * per_expert * a.expert_count;
  double experts_active = moe_layers * per_expert * a.expert_used_count;
  double total = entry.parameter_count;
  if (total <= 0) {
    double head_k = a.key_length > 0 ? a.key_length : (a.head_count ? n_embd / a.head_count : 0);
    double attention = n_embd * head_k * (2.0 * a.head_count + 2.0 * a.head_count_kv);
    double dense_ffn = 3.0 * n_embd * a.feed_forward_length * (a.block_count - moe_layers);
    total = experts_total + a.block_count * attention + dense_ffn + 2.0 * a.vocab_size * n_embd;
  }
  if (total <= experts_total - experts_active) return 1.0;
  return std::clamp((total - experts_total + experts_active) / total, 0.0, 1.0);
}

double TotalParameters(const CatalogEntry& entry) {
  if (entry.parameter_count > 0) return entry.parameter_count;
  return static_cast<double>(entry.file_size_bytes) * 8.0 / kDefaultBitsPerWeight;
}

double ActiveParameters(const CatalogEntry& entry) {
  return TotalParameters(entry) * ActiveWeightFraction(entry);
}

SpeedModel::SpeedModel(const HardwareInfo& hw, double host_bandwidth) {
  DeviceSpeed host;
  host.device = "CPU";
  double bw = host_bandwidth > 0 ? host_bandwidth : kDefaultHostBandwidth;
  host.bandwidth = bw * kHostBandwidthEfficiency;
  host.flops = CpuPeakFlops(hw.cpu) * kCpuComputeEfficiency;
  host.source = host_bandwidth > 0 ? "measured" : "default";
  devices_.reserve(1 + hw.gpus.size());
  devices_.push_back(std::move(host));
  for (const GpuInfo& gpu : hw.gpus) devices_.push_back(GpuSpeed(gpu, bw));
}

SpeedPrediction SpeedModel::Predict(const CatalogEntry& entry,
                                    const MemoryBreakdown& memory) const {
  SpeedPrediction out;
  const double fraction = ActiveWeightFraction(entry);
  out.flops_per_token = 2.0 * ActiveParameters(entry);

  double total_weights = 0;
  double gpu_weights = 0;
  for (size_t i = 0; i < memory.devices.size(); ++i) {
    total_weights += static_cast<double>(memory.devices[i].weights);
    if (i > 0) gpu_weights += static_cast<double>(memory.devices[i].weights);
  }
  const bool offloaded = gpu_weights > 0;
  const double embedding = offloaded ? EmbeddingBytes(entry) : 0;

  double gen_seconds = 0;
  double prompt_seconds = 0;
  for (size_t i = 0; i < memory.devices.size(); ++i) {
    const DeviceMemory& dev = memory.devices[i];
    // A breakdown with more GPUs than the machine: the last known device.
    const DeviceSpeed& speed = devices_[std::min(i, devices_.size() - 1)];
    double weights = static_cast<double>(dev.weights);
    if (i == 0) weights = std::max(0.0, weights - embedding);
    double read = weights * fraction + static_cast<double>(dev.kv_cache);
    out.bytes_per_token += read;
    if (speed.bandwidth > 0) gen_seconds += read / speed.bandwidth;
    double share =
        total_weights > 0 ? static_cast<double>(dev.weights) / total_weights : (i == 0 ? 1.0 : 0.0);
    if (speed.flops > 0) prompt_seconds += share * out.flops_per_token / speed.flops;
  }
  if (out.bytes_per_token > 0 && gen_seconds > 0) {
    gen_seconds += offloaded ? kGpuTokenOverheadSeconds : kCpuTokenOverheadSeconds;
    out.gen_tokens_per_second = 1.0 / gen_seconds;
  }
  if (out.flops_per_token > 0 && prompt_seconds > 0) {
    out.prompt_tokens_per_second = 1.0 / prompt_seconds;
  }
  return out;
}

Result<double> MeasureMemoryBandwidth(const BandwidthProbeOptions& options) {
  if (options.buffer_bytes < kMiB) {
    return InvalidArgumentError(fmt::format(
        "bandwidth probe buffer of {} bytes is too small to measure; use at least 1 MiB",
        options.buffer_bytes));
  }
  if (options.runs < 1) {
    return InvalidArgumentError(
        fmt::format("bandwidth probe needs at least one run, got {}", options.runs));
  }
  const size_t words = options.buffer_bytes / sizeof(uint64_t);
  const size_t bytes = words * sizeof(uint64_t);
  // Fresh anonymous pages, populated by the kernel in one call where it can
  // (far cheaper than a fault per page, above all in virtual machines).
  void* mapping = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapping == MAP_FAILED) {
    return ResourceExhaustedError(fmt::format(
        "cannot map {} for the memory bandwidth probe ({}); free memory or use a smaller buffer",
        FormatBytes(bytes), ErrnoText(errno)));
  }
  auto unmap = [bytes](void* m) { munmap(m, bytes); };
  std::unique_ptr<void, decltype(unmap)> buffer(mapping, unmap);
  bool populated = false;
#ifdef MADV_POPULATE_WRITE
  populated = madvise(mapping, bytes, MADV_POPULATE_WRITE) == 0;
#endif
  int threads =
      options.threads > 0 ? options.threads : static_cast<int>(std::thread::hardware_concurrency());
  threads = std::clamp(threads, 1, static_cast<int>(std::max<size_t>(1, words / 4096)));

  using Clock = std::chrono::steady_clock;
  std::vector<double> seconds(options.runs, 0.0);
  std::atomic<uint64_t> sink{0};
  std::atomic<bool> abort{false};
  std::latch go(1);
  std::barrier sync(threads);
  uint64_t* data = static_cast<uint64_t*>(mapping);
  constexpr size_t kWordsPerPage = 4096 / sizeof(uint64_t);

  auto work = [&](int t) {
    go.wait();
    if (abort.load()) return;
    const size_t begin = words * t / threads;
    const size_t end = words * (t + 1) / threads;
    if (!populated) {  // one write per page, on the thread that reads it
      for (size_t i = begin; i < end; i += kWordsPerPage) data[i] = i;
    }
    Clock::time_point start;
    for (int r = 0; r < options.runs; ++r) {
      sync.arrive_and_wait();
      if (t == 0) start = Clock::now();
      uint64_t a = 0, b = 0, c = 0, d = 0;
      size_t i = begin;
      for (; i + 4 <= end; i += 4) {
        a += data[i];
        b += data[i + 1];
        c += data[i + 2];
        d += data[i + 3];
      }
      for (; i < end; ++i) a += data[i];
      sink.fetch_add(a ^ b ^ c ^ d, std::memory_order_relaxed);
      sync.arrive_and_wait();
      if (t == 0) seconds[r] = std::chrono::duration<double>(Clock::now() - start).count();
    }
  };

  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  try {
    for (int t = 1; t < threads; ++t) pool.emplace_back(work, t);
  } catch (const std::system_error& e) {
    abort.store(true);
    go.count_down();
    for (std::thread& th : pool) th.join();
    return UnavailableError(fmt::format(
        "cannot start {} threads for the memory bandwidth probe: {}", threads, e.what()));
  }
  go.count_down();
  work(0);
  for (std::thread& th : pool) th.join();

  double best = *std::min_element(seconds.begin(), seconds.end());
  if (!(best > 0)) best = 1e-9;
  Log(LogLevel::kDebug, "memory bandwidth probe: {} threads, best of {} runs over {}: {:.1f} GB/s",
      threads, options.runs, FormatBytes(options.buffer_bytes),
      static_cast<double>(bytes) / best / 1e9);
  return static_cast<double>(bytes) / best;
}

std::string BandwidthCacheKey(const CpuInfo& cpu) {
  if (!cpu.model.empty()) return cpu.model;
  if (!cpu.arch.empty()) return cpu.arch;
  return "cpu";
}

Result<double> LoadOrMeasureHostBandwidth(const std::filesystem::path& cache_dir,
                                          const CpuInfo& cpu, const BandwidthMeasureFn& measure) {
  const std::filesystem::path path = cache_dir / "bandwidth.json";
  const std::string key = BandwidthCacheKey(cpu);
  nlohmann::json doc = nlohmann::json::object();
  if (Result<std::string> text = ReadFile(path); text.ok()) {
    nlohmann::json parsed = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_object()) {
      doc = std::move(parsed);
    } else {
      Log(LogLevel::kDebug, "{} is not a JSON object; measuring again and replacing it",
          path.string());
    }
  }
  if (!doc.contains("cpus") || !doc["cpus"].is_object()) doc["cpus"] = nlohmann::json::object();
  nlohmann::json& cpus = doc["cpus"];
  if (auto it = cpus.find(key); it != cpus.end() && it->is_object()) {
    auto bw = it->find("bytes_per_second");
    if (bw != it->end() && bw->is_number() && bw->get<double>() > 0) return bw->get<double>();
  }
  if (!measure) {
    return InvalidArgumentError("no bandwidth measurement function was given for " + key);
  }
  ASSIGN_OR_RETURN(double measured, measure());
  if (!(measured > 0) || !std::isfinite(measured)) {
    return InternalError(fmt::format(
        "the memory bandwidth probe for {} returned {}; nothing was cached", key, measured));
  }
  doc["version"] = 1;
  cpus[key] = nlohmann::json{{"bytes_per_second", measured}};
  Status written = WriteFileAtomic(
      path, doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  if (!written.ok()) {
    Log(LogLevel::kWarning, "cannot cache the memory bandwidth: {}", written.message());
  }
  return measured;
}

}  // namespace hangar::fit
