#include "fit/settings.h"

#include <fmt/format.h>

#include <algorithm>

#include "config/profile.h"
#include "core/units.h"

namespace hangar::fit {
namespace {

constexpr uint64_t kLowRam = 8 * kGB;
constexpr uint64_t kMidRam = 16 * kGB;
constexpr int kParallelCores = 8;
constexpr int kLeaveOneFreeAbove = 4;
constexpr char kOverridden[] = "set by you";

uint64_t RamOf(const HardwareInfo& hw) {
  return hw.memory.usable > 0 ? hw.memory.usable : hw.memory.total;
}

std::string Gb(uint64_t bytes) {
  return fmt::format("{:.1f} GB", static_cast<double>(bytes) / 1e9);
}

bool UsesGpu(const HardwareInfo& hw, const Placement* placement) {
  if (hw.gpus.empty()) return false;
  return placement == nullptr || placement->n_gpu_layers != 0;
}

// True when a context of `ctx` tokens still fits `placement`'s budgets, the KV
// cache of each device growing in proportion.
bool ContextFits(const Placement& p, uint32_t ctx) {
  const uint32_t fitted = p.memory.n_ctx;
  if (fitted == 0 || ctx <= fitted) return true;
  const double growth = static_cast<double>(ctx - fitted) / fitted;
  for (size_t d = 0; d < p.memory.devices.size(); ++d) {
    double extra = static_cast<double>(p.memory.devices[d].kv_cache) * growth;
    uint64_t need = 0;
    uint64_t budget = 0;
    if (d == 0) {
      need = p.ram_needed;
      budget = p.ram_budget;
    } else if (d - 1 < p.gpu_needed.size() && d - 1 < p.gpu_budgets.size()) {
      need = p.gpu_needed[d - 1];
      budget = p.gpu_budgets[d - 1];
    } else {
      continue;
    }
    double headroom = budget > need ? static_cast<double>(budget - need) : 0.0;
    if (extra > headroom) return false;
  }
  return true;
}

Status CheckAtLeastOne(std::string_view setting, int64_t value) {
  if (value >= 1) return Status::Ok();
  return InvalidArgumentError(
      fmt::format("{} must be at least 1, got {}; leave it unset to use the recommended value",
                  setting, value));
}

}  // namespace

uint32_t ContextForRam(uint64_t ram_bytes) {
  if (ram_bytes < kLowRam) return 2048;
  if (ram_bytes < kMidRam) return 4096;
  return 8192;
}

int MaxTokensForRam(uint64_t ram_bytes) {
  if (ram_bytes < kLowRam) return 512;
  if (ram_bytes < kMidRam) return 1024;
  return 2048;
}

int ThreadsForCpu(const CpuInfo& cpu) {
  int cores =
      cpu.physical_cores > 0 ? cpu.physical_cores : (cpu.logical_cores > 0 ? cpu.logical_cores : 4);
  return cores > kLeaveOneFreeAbove ? cores - 1 : cores;
}

MemoryRequest RunSettings::ToMemoryRequest() const {
  MemoryRequest r;
  r.n_ctx = context;
  r.n_batch = n_batch;
  r.n_ubatch = n_ubatch;
  r.n_seq = static_cast<uint32_t>(std::max(1, batch_size));
  r.type_k = type_k;
  r.type_v = type_v;
  r.flash_attn = flash_attn;
  r.n_gpu_layers = n_gpu_layers;
  r.mmap = mmap;
  return r;
}

Result<RunSettings> RecommendSettings(const HardwareInfo& hw, const CatalogEntry* model,
                                      const Placement* placement,
                                      const SettingsOverrides& overrides) {
  const SettingsOverrides& o = overrides;
  if (o.threads) RETURN_IF_ERROR(CheckAtLeastOne("threads", *o.threads));
  if (o.context) RETURN_IF_ERROR(CheckAtLeastOne("context", *o.context));
  if (o.n_batch) RETURN_IF_ERROR(CheckAtLeastOne("n_batch", *o.n_batch));
  if (o.n_ubatch) RETURN_IF_ERROR(CheckAtLeastOne("n_ubatch", *o.n_ubatch));
  if (o.batch_size) RETURN_IF_ERROR(CheckAtLeastOne("batch_size", *o.batch_size));
  if (o.max_tokens) RETURN_IF_ERROR(CheckAtLeastOne("max_tokens", *o.max_tokens));
  if (o.n_gpu_layers && *o.n_gpu_layers < -1) {
    return InvalidArgumentError(fmt::format(
        "n_gpu_layers must be -1 (all), 0 (none) or a number of layers, got {}", *o.n_gpu_layers));
  }
  if (o.type_k) RETURN_IF_ERROR(CacheTypeId(*o.type_k).status().WithContext("type_k"));
  if (o.type_v) RETURN_IF_ERROR(CacheTypeId(*o.type_v).status().WithContext("type_v"));
  if (o.profile) {
    if (std::string problem = CheckProfileName(*o.profile); !problem.empty()) {
      return InvalidArgumentError("profile: " + problem);
    }
  }

  RunSettings s;
  const uint64_t ram = RamOf(hw);
  const int cores = hw.cpu.physical_cores > 0 ? hw.cpu.physical_cores : hw.cpu.logical_cores;
  const bool gpu = UsesGpu(hw, placement);
  auto reason = [&s](std::string_view setting, bool overridden, std::string text) {
    s.reasons.push_back({std::string(setting), overridden ? std::string(kOverridden) : text});
  };

  // Threads.
  s.threads = o.threads.value_or(ThreadsForCpu(hw.cpu));
  reason("threads", o.threads.has_value(),
         cores <= 0 ? "CPU core count unknown: 4 threads"
         : cores > kLeaveOneFreeAbove
             ? fmt::format("{} physical cores, one left free for the system", cores)
             : fmt::format("{} physical cores", cores));

  // Context.
  {
    uint32_t ctx = ContextForRam(ram);
    std::string why = fmt::format("{} tokens for {} of RAM", ctx, Gb(ram));
    if (model != nullptr && model->context_length > 0 && model->context_length < ctx) {
      ctx = model->context_length;
      why += fmt::format(", capped by the model's {}-token context", ctx);
    }
    if (placement != nullptr && !ContextFits(*placement, ctx)) {
      uint32_t floor = placement->memory.n_ctx;
      while (ctx > floor && !ContextFits(*placement, ctx)) ctx = std::max(ctx / 2, floor);
      why += fmt::format(", lowered to {} so the KV cache fits the memory budget", ctx);
    }
    s.context = o.context.value_or(ctx);
    reason("context", o.context.has_value(), why);
  }

  // Batches.
  const bool small_batches = !gpu && ram < kLowRam;
  s.n_batch = o.n_batch.value_or(small_batches ? 512 : 2048);
  reason("n_batch", o.n_batch.has_value(),
         small_batches ? "512: smaller prompt batches on a CPU-only machine under 8 GB"
                       : "2048: llama.cpp's default logical batch");
  s.n_ubatch = o.n_ubatch.value_or(std::min<uint32_t>(512, s.n_batch));
  reason("n_ubatch", o.n_ubatch.has_value(), "512: llama.cpp's default physical batch");
  if (s.n_ubatch > s.n_batch) {
    return InvalidArgumentError(fmt::format(
        "n_ubatch ({}) must not be larger than n_batch ({}); lower n_ubatch or raise n_batch",
        s.n_ubatch, s.n_batch));
  }
  s.batch_size = o.batch_size.value_or(cores >= kParallelCores ? 2 : 1);
  reason("batch_size", o.batch_size.has_value(),
         cores >= kParallelCores ? fmt::format("{} physical cores: two requests at a time", cores)
                                 : "fewer than 8 physical cores: one request at a time");

  // GPU layers.
  {
    std::string why;
    int32_t ngl = 0;
    if (hw.gpus.empty()) {
      why = "no GPU: everything runs on the CPU";
    } else if (placement == nullptr) {
      ngl = -1;
      why = "a GPU is present: llama.cpp places the layers that fit";
    } else if (placement->full_offload) {
      ngl = -1;
      why = fmt::format("all {} layers fit on the GPU", placement->layer_count);
    } else if (placement->n_gpu_layers == 0) {
      why = "no layer fits in the GPU budget: everything runs on the CPU";
    } else {
      ngl = placement->n_gpu_layers;
      why = fmt::format("{} of {} layers fit on the GPU, the rest run on the CPU", ngl,
                        placement->layer_count);
    }
    s.n_gpu_layers = o.n_gpu_layers.value_or(ngl);
    reason("n_gpu_layers", o.n_gpu_layers.has_value(), why);
  }

  // KV cache.
  {
    CacheType kv = placement != nullptr ? placement->kv_type : CacheType{};
    std::string why = kv.name == "f16" ? "f16: full-precision KV cache"
                                       : fmt::format("{}: an f16 KV cache does not fit", kv.name);
    s.type_k = o.type_k.value_or(kv);
    reason("type_k", o.type_k.has_value(), why);
    s.type_v = o.type_v.value_or(kv);
    reason("type_v", o.type_v.has_value(), why);
  }

  s.flash_attn = o.flash_attn.value_or(gpu ? FlashAttention::kOn : FlashAttention::kAuto);
  reason("flash_attn", o.flash_attn.has_value(),
         gpu ? "on: layers run on the GPU, where it saves memory and time"
             : "auto: llama.cpp decides for the CPU");
  s.mmap = o.mmap.value_or(true);
  reason("mmap", o.mmap.has_value(), "weights are mapped from the file and loaded lazily");
  s.mlock = o.mlock.value_or(false);
  reason("mlock", o.mlock.has_value(), "pages are not locked (that needs privileges)");

  s.max_tokens = o.max_tokens.value_or(MaxTokensForRam(ram));
  reason("max_tokens", o.max_tokens.has_value(),
         fmt::format("{} tokens for {} of RAM", MaxTokensForRam(ram), Gb(ram)));

  ProfileRecommendation profile = RecommendProfile(ram, cores);
  s.profile = o.profile.value_or(profile.profile);
  reason("profile", o.profile.has_value(), profile.reason);
  return s;
}

nlohmann::json ToJson(const RunSettings& s) {
  nlohmann::json reasons = nlohmann::json::object();
  for (const SettingReason& r : s.reasons) reasons[r.setting] = r.reason;
  return nlohmann::json{
      {"threads", s.threads},
      {"context", s.context},
      {"n_batch", s.n_batch},
      {"n_ubatch", s.n_ubatch},
      {"batch_size", s.batch_size},
      {"n_gpu_layers", s.n_gpu_layers},
      {"type_k", s.type_k.name},
      {"type_v", s.type_v.name},
      {"flash_attn", FlashAttentionName(s.flash_attn)},
      {"mmap", s.mmap},
      {"mlock", s.mlock},
      {"max_tokens", s.max_tokens},
      {"profile", s.profile},
      {"reasons", std::move(reasons)},
  };
}

}  // namespace hangar::fit
