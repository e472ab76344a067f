#include "config/limits.h"

#include <array>

namespace hangar {

namespace {
constexpr std::array<std::string_view, 3> kLimitKeys = {"max_ram_usage", "gpu_memory_usage",
                                                        "os_reserve"};
}  // namespace

std::span<const std::string_view> LimitKeys() { return kLimitKeys; }

std::string CheckLimit(std::string_view key, const Amount& amount) {
  if (key == "max_ram_usage" && amount.Of(1ULL << 40) == 0) {
    return "must be more than 0, or no model could ever be loaded";
  }
  return "";
}

Amount* LimitField(Limits& limits, std::string_view key) {
  if (key == "max_ram_usage") return &limits.max_ram_usage;
  if (key == "gpu_memory_usage") return &limits.gpu_memory_usage;
  if (key == "os_reserve") return &limits.os_reserve;
  return nullptr;
}

nlohmann::json ToJson(const Amount& amount) {
  nlohmann::json j = {{"text", amount.ToString()}};
  if (amount.is_fraction) {
    j["fraction"] = amount.fraction;
  } else {
    j["bytes"] = amount.bytes;
  }
  return j;
}

nlohmann::json ToJson(const Limits& limits) {
  return {{"max_ram_usage", ToJson(limits.max_ram_usage)},
          {"gpu_memory_usage", ToJson(limits.gpu_memory_usage)},
          {"os_reserve", ToJson(limits.os_reserve)}};
}

}  // namespace hangar
