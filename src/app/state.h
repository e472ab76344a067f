// The state as one document, for a backup or another machine: the installed
// models and where they came from (store::ExportJson), the settings
// (config/settings.h), the user's performance profiles and the default
// model.
//
//   {"version": "1.1", "models": [...], "settings": {"KEY": value, ...},
//    "profiles": [ToJson(Profile), ...], "default_model": "id" or null}
//
// Restoring one applies its settings and profiles, starts a download
// (downloads.h) for each model with a source this machine lacks, and sets
// the default model once it is installed here. A version 1.0 document
// (models only) restores its models.
#ifndef HANGAR_APP_STATE_H_
#define HANGAR_APP_STATE_H_

#include <nlohmann/json.hpp>

#include "app/app.h"
#include "core/status.h"

namespace hangar::app {

Result<nlohmann::json> ExportState(App& app);

// {"present": [id...], "downloading": [{"model", "download", "job"}...],
//  "skipped": [{"model", "reason"}...], "settings_changed": n,
//  "profiles": [name...], "default_model": "set" | "not installed here" | null}.
// InvalidArgument for a document that is not a state (nothing is changed)
// or settings this machine refuses (naming the key; nothing is changed).
Result<nlohmann::json> RestoreState(App& app, const nlohmann::json& doc);

}  // namespace hangar::app

#endif  // HANGAR_APP_STATE_H_
