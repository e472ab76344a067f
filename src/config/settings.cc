#include "config/settings.h"

#include <fmt/format.h>

#include <algorithm>
#include <string>

namespace hangar {
namespace {

constexpr SettingKey kKeys[] = {
    {"limits.max_ram_usage", "amount", "80%", "Memory loaded models may take (a share or a size)"},
    {"limits.gpu_memory_usage", "amount", "90%", "Video memory loaded models may take"},
    {"limits.os_reserve", "amount", "2GB", "Memory always left to the system"},
    {"runtime.gpu", "choice", "auto", "auto: offload what fits to the GPU; off: CPU only"},
    {"runtime.idle_ttl", "duration", "5m", "Unload a model idle this long (0: never)"},
    {"downloads.connections", "integer", "8", "Parallel connections per file (1 to 64)"},
    {"downloads.max_speed", "rate", "0", "Cap for all connections together (0: none)"},
    {"updates.check", "duration", "off", "Check installed models for newer revisions this often"},
};

// Seconds as the shortest duration text ParseDuration reads back.
std::string DurationText(int64_t seconds) {
  if (seconds == 0) return "0";
  for (auto [unit, size] : {std::pair{'w', 604800}, {'d', 86400}, {'h', 3600}, {'m', 60}}) {
    if (seconds % size == 0) return fmt::format("{}{}", seconds / size, unit);
  }
  return fmt::format("{}s", seconds);
}

// Bytes (or bytes per second) as text ParseSize and ParseRate read back.
std::string SizeText(uint64_t bytes) {
  if (bytes == 0) return "0";
  for (auto [unit, size] : {std::pair{"GB", 1000000000ull}, {"MB", 1000000ull}, {"KB", 1000ull}}) {
    if (bytes % size == 0) return fmt::format("{}{}", bytes / size, unit);
  }
  return std::to_string(bytes);
}

std::string AmountText(const Amount& a) {
  if (a.is_fraction) return fmt::format("{:g}%", a.fraction * 100);
  return SizeText(a.bytes);
}

nlohmann::json Current(const Config& c, std::string_view key) {
  const Limits& l = c.limits();
  if (key == "limits.max_ram_usage") return AmountText(l.max_ram_usage);
  if (key == "limits.gpu_memory_usage") return AmountText(l.gpu_memory_usage);
  if (key == "limits.os_reserve") return AmountText(l.os_reserve);
  if (key == "runtime.gpu") return c.runtime().gpu;
  if (key == "runtime.idle_ttl") return DurationText(c.runtime().idle_ttl_seconds);
  if (key == "downloads.connections") return c.downloads().connections;
  if (key == "downloads.max_speed") return SizeText(c.downloads().max_speed);
  if (key == "updates.check") {
    const int64_t s = c.updates().check_interval_seconds;
    return s == 0 ? std::string("off") : DurationText(s);
  }
  return nullptr;
}

}  // namespace

std::span<const SettingKey> SettingKeys() { return kKeys; }

const SettingKey* FindSettingKey(std::string_view key) {
  auto it = std::find_if(std::begin(kKeys), std::end(kKeys),
                         [&](const SettingKey& k) { return k.key == key; });
  return it == std::end(kKeys) ? nullptr : &*it;
}

nlohmann::json SettingsJson(const Config& config) {
  nlohmann::json out = nlohmann::json::array();
  for (const SettingKey& k : kKeys) {
    out.push_back({{"key", k.key},
                               {"value", Current(config, k.key)},
                               {"default", k.kind == "integer" ? nlohmann::json(std::stoi(std::string(k.fallback)))
                                                               : nlohmann::json(k.fallback)},
                               {"kind", k.kind},
                               {"description", k.description}});
  }
  return out;
}

}  // namespace hangar
