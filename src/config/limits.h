// Limits: how much of the machine Hangar may use, from the [limits] table of
// config.toml. Each value is a share ("80%") or a size ("6GB", "512MiB"), as
// parsed by ParseAmount in core/units.h:
//
//   [limits]
//   max_ram_usage = "80%"      # RAM models may take (default 80%, must be > 0)
//   gpu_memory_usage = "90%"   # GPU memory models may take (default 90%)
//   os_reserve = "2GB"         # RAM always left to the system (default 2GB)
//
// A bare TOML integer is a number of bytes. Plain values: thread-safe.
#ifndef HANGAR_CONFIG_LIMITS_H_
#define HANGAR_CONFIG_LIMITS_H_

#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>

#include "core/units.h"

namespace hangar {

struct Limits {
  Amount max_ram_usage{.is_fraction = true, .fraction = 0.8, .bytes = 0};
  Amount gpu_memory_usage{.is_fraction = true, .fraction = 0.9, .bytes = 0};
  Amount os_reserve{.is_fraction = false, .fraction = 0, .bytes = 2 * kGB};

  friend bool operator==(const Limits&, const Limits&) = default;
};

// The keys of [limits]: max_ram_usage, gpu_memory_usage, os_reserve.
std::span<const std::string_view> LimitKeys();

// Empty when `amount` is acceptable for the limits key `key` (max_ram_usage
// must not be zero), else what is wrong.
std::string CheckLimit(std::string_view key, const Amount& amount);

// The field of `limits` for `key`, or nullptr for an unknown key.
Amount* LimitField(Limits& limits, std::string_view key);

// {"max_ram_usage": AMOUNT, "gpu_memory_usage": AMOUNT, "os_reserve": AMOUNT}
// where AMOUNT is {"text": "80%", "fraction": 0.8} or
// {"text": "1.86 GiB", "bytes": 2000000000}.
nlohmann::json ToJson(const Amount& amount);
nlohmann::json ToJson(const Limits& limits);

}  // namespace hangar

#endif  // HANGAR_CONFIG_LIMITS_H_
