#include "runtime/memory_guard.h"

#include <fmt/format.h>

#include "core/units.h"

namespace hangar::runtime {
namespace {

std::string Parts(const fit::DeviceMemory& d) {
  std::string s = fmt::format("weights {}", FormatBytesDecimal(d.weights));
  if (d.kv_cache) s += fmt::format(", KV cache {}", FormatBytesDecimal(d.kv_cache));
  if (d.compute) s += fmt::format(", compute {}", FormatBytesDecimal(d.compute));
  const uint64_t other = d.output + d.other;
  if (other) s += fmt::format(", other {}", FormatBytesDecimal(other));
  return s;
}

}  // namespace

GuardVerdict CheckMemory(const fit::MemoryBreakdown& need, const HardwareInfo& hw) {
  GuardVerdict v;
  if (need.devices.empty()) return v;
  const fit::DeviceMemory& host = need.devices.front();
  const uint64_t available = hw.memory.available;
  v.detail = fmt::format("needs {} of RAM ({}), {} available", FormatBytesDecimal(host.Total()),
                         Parts(host), available ? FormatBytesDecimal(available) : "unknown");
  if (available > 0 && host.Total() > available) v.fits = false;
  for (size_t i = 1; i < need.devices.size(); ++i) {
    const fit::DeviceMemory& d = need.devices[i];
    if (d.Total() == 0) continue;
    const GpuInfo* gpu = i - 1 < hw.gpus.size() ? &hw.gpus[i - 1] : nullptr;
    const uint64_t free = gpu == nullptr ? 0 : gpu->vram_free.value_or(gpu->vram_total);
    v.detail += fmt::format("; {} on {} ({}), {} free", FormatBytesDecimal(d.Total()),
                            gpu != nullptr ? gpu->name : d.device, Parts(d),
                            free ? FormatBytesDecimal(free) : "unknown");
    if (free > 0 && d.Total() > free) v.fits = false;
  }
  return v;
}

Status GuardStatus(const GuardVerdict& verdict, std::string_view model, bool force) {
  if (verdict.fits || force) return Status::Ok();
  return ResourceExhaustedError(fmt::format(
      "not loading {}: it {}; free memory, lower --ctx or --ngl, or pass --force to load it anyway",
      model, verdict.detail));
}

}  // namespace hangar::runtime
