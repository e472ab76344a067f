// SettingsOps: the single settings of config.toml (config/settings.h) read
// and changed, for `hangar config` and the console's Settings page.
//
// Thread-safe: reads the shared snapshot; writes go through the config
// writer (validated, atomic, all or nothing) and refresh it.
#ifndef HANGAR_APP_SETTINGS_OPS_H_
#define HANGAR_APP_SETTINGS_OPS_H_

#include <nlohmann/json.hpp>

#include "app/core.h"
#include "core/status.h"

namespace hangar::app {

class SettingsOps {
 public:
  explicit SettingsOps(Core* core) : core_(core) {}

  // {"file": config.toml's path, "settings": SettingsJson, "warnings": [...]}.
  Result<nlohmann::json> Settings();
  // Applies {"KEY": value or null, ...} (ChangeSettings) and returns
  // Settings() as now written. InvalidArgument naming the key otherwise.
  Result<nlohmann::json> Change(const nlohmann::json& changes);

 private:
  Core* core_;
};

}  // namespace hangar::app

#endif  // HANGAR_APP_SETTINGS_OPS_H_
