// Changes to config.toml: creating, updating and deleting performance
// profiles, setting the default model, presets and single settings.
//
// Each function reads the file (a missing file counts as an empty one),
// refuses to change a file that does not load, applies its change to the
// TOML tree, validates the changed tree exactly as Config::Load validates a
// file, and only then replaces the file atomically (WriteFileAtomic: a
// sibling temporary file renamed over it). On any failure the file is left
// as it was. Every table and key the change does not touch is kept, unknown
// tables included; comments and the original key order are not (keys are
// written in sorted order).
//
// On success each returns the Config as now written.
// Thread-safety: calls on different files are independent; concurrent
// writers of the same file are not coordinated (the last rename wins), so
// callers serialise changes to one file.
#ifndef HANGAR_CONFIG_CONFIG_WRITER_H_
#define HANGAR_CONFIG_CONFIG_WRITER_H_

#include <filesystem>
#include <string_view>

#include "config/config.h"
#include "config/profile.h"
#include "core/status.h"

namespace hangar {

// Adds [performance_profiles.NAME] holding the keys set in `patch`
// (patch.unset must be empty). AlreadyExists when NAME is a user or built-in
// profile (update a built-in to override it); InvalidArgument for a bad name
// or value, or a file that does not load.
Result<Config> CreateProfile(const std::filesystem::path& config_file, std::string_view name,
                             const ProfilePatch& patch);

// Sets the keys set in `patch` and removes those in patch.unset. Updating a
// built-in that has no override creates the override. NotFound when no
// profile has that name; InvalidArgument for an empty patch, a bad value or
// key, or a resulting inheritance cycle.
Result<Config> UpdateProfile(const std::filesystem::path& config_file, std::string_view name,
                             const ProfilePatch& patch);

// Removes the user's profile NAME; for an override this restores the
// built-in. FailedPrecondition for a built-in without override, or when
// another profile inherits from NAME and nothing would be left to inherit;
// NotFound when no profile has that name.
Result<Config> DeleteProfile(const std::filesystem::path& config_file, std::string_view name);

// Sets the top-level `default_model`. Whether the id names a known model is
// for the caller to check. InvalidArgument for an empty id or one with
// control characters.
Result<Config> SetDefaultModel(const std::filesystem::path& config_file, std::string_view model_id);

// Removes `default_model`; the file is not written when it has none.
Result<Config> ClearDefaultModel(const std::filesystem::path& config_file);

// Adds [model_presets.NAME] with `weights` (a GGUF file) and `description`:
// another name for a model on disk, no copy; every other field set in
// `more` (a system prompt, sampling defaults, ...) is written too.
// AlreadyExists when a preset has that name; InvalidArgument for a bad name,
// a bad value (naming its key) or a file that does not load.
Result<Config> AddModelPreset(const std::filesystem::path& config_file, std::string_view name,
                              const std::filesystem::path& weights, std::string_view description,
                              const ModelPreset& more = {});
// Sets or removes settable keys (settings.h): each change is a key such as
// "limits.os_reserve" and a JSON value (a string, an integer for integer
// keys, null to remove the key and so restore its default). All or
// nothing: InvalidArgument naming the key for an unknown key, a wrong type
// or a value the file would refuse; nothing is written then.
Result<Config> ChangeSettings(const std::filesystem::path& config_file,
                              const nlohmann::json& changes);

// Removes [model_presets.NAME]. NotFound when there is none.
Result<Config> RemoveModelPreset(const std::filesystem::path& config_file, std::string_view name);

}  // namespace hangar

#endif  // HANGAR_CONFIG_CONFIG_WRITER_H_
