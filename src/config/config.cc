#include "config/config.h"

#include <fmt/format.h>

#include "config/config_parser.h"
#include "core/file_util.h"

namespace hangar {

Config::Config() : profiles_(BuiltinProfiles()) {}

Status ValidateWorkerEndpoint(std::string_view endpoint) {
  const size_t colon = endpoint.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return InvalidArgumentError(
        fmt::format("worker \"{}\" is not host:port (e.g. \"192.168.1.20:50052\")", endpoint));
  }
  const std::string_view host = endpoint.substr(0, colon);
  const std::string_view port = endpoint.substr(colon + 1);
  if (host.find(':') != std::string_view::npos || host.front() == '[') {
    return InvalidArgumentError(fmt::format(
        "worker \"{}\": llama.cpp's RPC takes an IPv4 address or a host name, not IPv6", endpoint));
  }
  for (char c : host) {
    if (c <= ' ' || c == '/' || c == '@' || c == ',' || c == '\x7f') {
      return InvalidArgumentError(fmt::format("worker \"{}\": bad host", endpoint));
    }
  }
  int value = 0;
  for (char c : port) {
    if (c < '0' || c > '9' || value > 65535) {
      value = -1;
      break;
    }
    value = value * 10 + (c - '0');
  }
  if (port.empty() || value < 1 || value > 65534) {
    return InvalidArgumentError(fmt::format(
        "worker \"{}\": the port must be 1 to 65534 (the status port is the next one)", endpoint));
  }
  return Status::Ok();
}

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
      {"file", config.file_name()},
      {"exists", config.exists()},
      {"default_model", nullptr},
      {"limits", ToJson(config.limits())},
      {"runtime", ToJson(config.runtime())},
      {"profiles", std::move(profiles)},
      {"presets", std::move(presets)},
      {"warnings", config.warnings()},
  };
  if (config.default_model()) j["default_model"] = *config.default_model();
  return j;
}

}  // namespace hangar
