// Settings: the single values of config.toml that a person changes from the
// console (PATCH /api/settings) or `hangar config set`: memory limits, the
// GPU preference, download connections and speed cap, the idle unload time
// and the update check. Each is named by its TOML path ("limits.os_reserve").
//
// Values travel as JSON: a string ("80%", "50MB", "5m", "auto"), a number
// for the integer keys, or null to remove the key (its default again).
// ChangeSettings (config_writer.h) writes them; Config validates them as it
// validates the file, so the messages are the same.
//
// Plain functions over immutable data: thread-safe.
#ifndef HANGAR_CONFIG_SETTINGS_H_
#define HANGAR_CONFIG_SETTINGS_H_

#include <nlohmann/json.hpp>
#include <span>
#include <string_view>

#include "config/config.h"

namespace hangar {

struct SettingKey {
  std::string_view key;          // "limits.max_ram_usage"
  std::string_view kind;         // "amount", "integer", "rate", "duration", "choice"
  std::string_view fallback;     // the default, as text
  std::string_view description;  // for people
};

// Every settable key, in the order a form shows them.
std::span<const SettingKey> SettingKeys();
// The entry for `key`, or nullptr.
const SettingKey* FindSettingKey(std::string_view key);

// [{"key", "value": the current value as written back ("80%", 8, "off"),
//   "default", "kind", "description"}, ...]: every settable key, in order.
nlohmann::json SettingsJson(const Config& config);

}  // namespace hangar

#endif  // HANGAR_CONFIG_SETTINGS_H_
