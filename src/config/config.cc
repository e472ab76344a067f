#include "config/config.h"

#include <fmt/format.h>

#include "config/config_parser.h"
#include "core/file_util.h"

namespace hangar {

Config::Config() : profiles_(BuiltinProfiles()) {}

Result<Config> Config::Load(const std::filesystem::path& path) {
  Result<std::string> text = ReadFile(path);
  if (!text.ok()) {
    if (text.status().code() != StatusCode::kNotFound) return text.status();
    return ConfigParser::Missing(path.string());
  }
  return Parse(*text, path.string());
}

Result<Config> Config::Parse(std::string_view text, std::string_view file_name) {
  ASSIGN_OR_RETURN(toml::table root, ConfigParser::ParseToml(text, file_name));
  return ConfigParser::FromTable(root, file_name);
}

const Profile* Config::FindProfile(std::string_view name) const {
  for (const Profile& p : profiles_) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

Result<Profile> Config::GetProfile(std::string_view name) const {
  if (const Profile* p = FindProfile(name)) return *p;
  std::string known;
  for (const Profile& p : profiles_) known += (known.empty() ? "" : ", ") + p.name;
  return NotFoundError(fmt::format("no profile named \"{}\"; known profiles: {}", name, known));
}

const ModelPreset* Config::FindPreset(std::string_view name) const {
  for (const ModelPreset& p : presets_) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

nlohmann::json ToJson(const Config& config) {
  nlohmann::json profiles = nlohmann::json::array();
  for (const Profile& p : config.profiles()) profiles.push_back(ToJson(p));
  nlohmann::json presets = nlohmann::json::array();
  for (const ModelPreset& p : config.presets()) presets.push_back(ToJson(p));
  nlohmann::json j = {
      {"file", config.file_name()},      {"exists", config.exists()},
      {"default_model", nullptr},        {"limits", ToJson(config.limits())},
      {"runtime", ToJson(config.runtime())},
      {"profiles", std::move(profiles)}, {"presets", std::move(presets)},
      {"warnings", config.warnings()},
  };
  if (config.default_model()) j["default_model"] = *config.default_model();
  return j;
}

}  // namespace hangar
