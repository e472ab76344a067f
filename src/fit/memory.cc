#include "fit/memory.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <array>
#include <string>

#include "core/strings.h"
#include "gguf/ggml_types.h"

namespace hangar::fit {
namespace {

// The cache types llama.cpp accepts for -ctk/-ctv, by ggml name.
constexpr std::array<std::string_view, 9> kCacheTypeNames = {
    "f16", "f32", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "iq4_nl"};

}  // namespace

std::string_view FlashAttentionName(FlashAttention fa) {
  switch (fa) {
    case FlashAttention::kAuto:
      return "auto";
    case FlashAttention::kOn:
      return "on";
    case FlashAttention::kOff:
      return "off";
  }
  return "auto";
}

Result<FlashAttention> ParseFlashAttention(std::string_view text) {
  const std::string t = AsciiLower(text);
  if (t == "auto") return FlashAttention::kAuto;
  if (t == "on" || t == "true" || t == "1" || t == "enabled") return FlashAttention::kOn;
  if (t == "off" || t == "false" || t == "0" || t == "disabled") return FlashAttention::kOff;
  return InvalidArgumentError(
      fmt::format("flash attention setting '{}' is not known; use on, off or auto", text));
}

std::optional<bool> FlashAttentionForced(FlashAttention fa) {
  switch (fa) {
    case FlashAttention::kOn:
      return true;
    case FlashAttention::kOff:
      return false;
    case FlashAttention::kAuto:
      break;
  }
  return std::nullopt;
}

Result<uint32_t> CacheTypeId(const CacheType& type) {
  const std::string name = AsciiLower(type.name);
  bool allowed = false;
  for (std::string_view n : kCacheTypeNames) allowed = allowed || n == name;
  if (allowed) {
    for (const gguf::GgmlType& t : gguf::AllGgmlTypes()) {
      if (t.name == name) return t.id;
    }
  }
  return InvalidArgumentError(fmt::format("KV cache type '{}' is not supported; use one of {}",
                                          type.name, CacheTypeNames()));
}

std::string CacheTypeNames() { return fmt::format("{}", fmt::join(kCacheTypeNames, ", ")); }

uint64_t MemoryBreakdown::GpuTotal() const {
  uint64_t total = 0;
  for (size_t i = 1; i < devices.size(); ++i) total += devices[i].Total();
  return total;
}

nlohmann::json ToJson(const DeviceMemory& d) {
  return nlohmann::json{{"device", d.device},   {"weights", d.weights}, {"kv_cache", d.kv_cache},
                        {"compute", d.compute}, {"output", d.output},   {"other", d.other},
                        {"total", d.Total()}};
}

nlohmann::json ToJson(const MemoryBreakdown& b) {
  nlohmann::json devices = nlohmann::json::array();
  for (const DeviceMemory& d : b.devices) devices.push_back(ToJson(d));
  return nlohmann::json{{"method", b.method},
                        {"n_ctx", b.n_ctx},
                        {"n_gpu_layers", b.n_gpu_layers},
                        {"flash_attn", b.flash_attn},
                        {"host_total", b.HostTotal()},
                        {"gpu_total", b.GpuTotal()},
                        {"devices", std::move(devices)}};
}

}  // namespace hangar::fit
