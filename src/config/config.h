// Config: Hangar's configuration file, config.toml in the XDG config folder
// (Paths::config_file), read and validated.
//
//   default_model = "qwen2.5-coder-7b-q5"   # top level; the model used when none is named
//
//   [limits]                                 # see limits.h
//   max_ram_usage = "80%"
//
//   [store]                                  # folders `hangar discover` searches
//   folders = ["/models"]
//
//   [downloads]                              # `hangar pull` defaults
//   connections = 8
//   max_speed = "50MB"                       # per second, all connections together
//
//   [runtime]                                # see runtime_config.h
//   idle_ttl = "5m"
//
//   [updates]                                # the server checks installed models
//   check = "1d"                             # for newer revisions this often ("off")
//
//   [model_presets.NAME]                     # see model_preset.h
//   hf_repo = "Qwen/Qwen2.5-Coder-7B-Instruct-GGUF"
//
//   [performance_profiles.NAME]              # see profile.h
//   inherits = "balanced"
//   temperature = 0.2
//
// A missing file is not an error: it means the defaults (built-in profiles,
// no presets, default limits, no default model). Tables Hangar does not know
// are ignored (and kept by the writers in config_writer.h); unknown keys
// inside the known tables, and unknown top-level keys, are reported in
// warnings() and otherwise ignored. Anything else that is wrong (TOML syntax,
// a wrong type, a value out of range, an unknown or cyclic `inherits`) makes
// loading fail with InvalidArgument and a message naming the file, the line
// and the key:
//   config.toml:12: performance_profiles.fast.temperature: must be between 0 and 2, got 3.5
//
// A Config is an immutable value once built: copyable, safe to read from any
// number of threads.
#ifndef HANGAR_CONFIG_CONFIG_H_
#define HANGAR_CONFIG_CONFIG_H_

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/limits.h"
#include "config/model_preset.h"
#include "config/profile.h"
#include "config/runtime_config.h"
#include "core/status.h"

namespace hangar {

class ConfigParser;

// [store]
struct StoreSettings {
  std::vector<std::string> folders;  // searched by `hangar discover`, recursively
};

// [downloads]
inline constexpr int kMaxDownloadConnections = 64;
inline constexpr int kDefaultDownloadConnections = 8;
struct DownloadSettings {
  int connections = kDefaultDownloadConnections;
  uint64_t max_speed = 0;  // bytes per second over all connections; 0: no cap
};

// [updates]
struct UpdateSettings {
  int64_t check_interval_seconds = 0;  // 0: never
};

// [cluster]: the `hangar worker`s this machine may spread a model over.
struct ClusterSettings {
  std::vector<std::string> workers;  // "host:port" of each worker's RPC server
};

// "host:port" with a port of 1 to 65534 (the worker's status port is the next
// one) and a host name or IPv4 address (llama.cpp's RPC client splits at the
// first ':'); InvalidArgument naming the problem otherwise.
Status ValidateWorkerEndpoint(std::string_view endpoint);

class Config {
 public:
  // The defaults, as if the file were missing.
  Config();

  // Reads and validates `path`. The defaults when the file does not exist;
  // InvalidArgument for a broken file (see above); Unavailable when it
  // cannot be read.
  static Result<Config> Load(const std::filesystem::path& path);

  // Validates TOML text; `file_name` names it in messages and file_name().
  // InvalidArgument for broken text.
  static Result<Config> Parse(std::string_view text, std::string_view file_name);

  // The file as named to Load/Parse; empty for Config().
  const std::string& file_name() const { return file_name_; }
  // False when the defaults stand in for a missing file.
  bool exists() const { return exists_; }

  // Built-in and user profiles, inheritance resolved, sorted by name.
  const std::vector<Profile>& profiles() const { return profiles_; }
  // The profile `name`, or nullptr.
  const Profile* FindProfile(std::string_view name) const;
  // The profile `name`; NotFound listing the known profiles otherwise.
  Result<Profile> GetProfile(std::string_view name) const;

  // The user's presets, sorted by name.
  const std::vector<ModelPreset>& presets() const { return presets_; }
  // The preset `name`, or nullptr.
  const ModelPreset* FindPreset(std::string_view name) const;

  const Limits& limits() const { return limits_; }
  const StoreSettings& store() const { return store_; }
  const DownloadSettings& downloads() const { return downloads_; }
  const RuntimeConfig& runtime() const { return runtime_; }
  const UpdateSettings& updates() const { return updates_; }
  const ClusterSettings& cluster() const { return cluster_; }

  // `default_model` at the top level of the file, if set.
  const std::optional<std::string>& default_model() const { return default_model_; }

  // Messages about ignored keys, "config.toml:7: limits.max_ram: unknown key, ignored ...".
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  friend class ConfigParser;

  std::string file_name_;
  bool exists_ = false;
  std::vector<Profile> profiles_;
  std::vector<ModelPreset> presets_;
  Limits limits_;
  ClusterSettings cluster_;
  StoreSettings store_;
  DownloadSettings downloads_;
  RuntimeConfig runtime_;
  UpdateSettings updates_;
  std::optional<std::string> default_model_;
  std::vector<std::string> warnings_;
};

// {"file": string, "exists": bool, "default_model": string or null,
//  "limits": ToJson(Limits), "runtime": ToJson(RuntimeConfig), "profiles": [ToJson(Profile)...],
//  "presets": [ToJson(ModelPreset)...], "warnings": [string...]}
nlohmann::json ToJson(const Config& config);

}  // namespace hangar

#endif  // HANGAR_CONFIG_CONFIG_H_
