#include "app/state.h"

#include <fmt/format.h>

#include "config/settings.h"

namespace hangar::app {

Result<nlohmann::json> ExportState(App& app) {
  ASSIGN_OR_RETURN(nlohmann::json doc, app.store().Export());
  ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> s, app.core().snapshot());
  doc["version"] = "1.1";
  nlohmann::json settings = nlohmann::json::object();
  for (const nlohmann::json& k : SettingsJson(s->config)) settings[k["key"].get<std::string>()] = k["value"];
  doc["settings"] = settings;
  nlohmann::json profiles = nlohmann::json::array();
  for (const Profile& p : s->config.profiles()) {
    if (p.origin != ProfileOrigin::kBuiltin) profiles.push_back(ToJson(p));
  }
  doc["profiles"] = profiles;
  doc["default_model"] =
      s->config.default_model() ? nlohmann::json(*s->config.default_model()) : nlohmann::json();
  return doc;
}

Result<nlohmann::json> RestoreState(App& app, const nlohmann::json& doc) {
  if (!doc.is_object() || !doc.contains("models") || !doc["models"].is_array()) {
    return InvalidArgumentError(
        "not a Hangar state: expected {\"version\", \"models\": [...]} as GET /api/export or "
        "`hangar export` write it");
  }
  const std::string version = doc.value("version", "");
  if (version != "1.0" && version != "1.1") {
    return InvalidArgumentError(fmt::format("state version \"{}\" is not one this Hangar reads (1.0, 1.1)", version));
  }
  nlohmann::json out = {{"present", nlohmann::json::array()},
                        {"downloading", nlohmann::json::array()},
                        {"skipped", nlohmann::json::array()},
                        {"settings_changed", 0},
                        {"profiles", nlohmann::json::array()},
                        {"default_model", nullptr}};
  // Settings first, all or nothing: a refused value changes nothing at all.
  if (doc.contains("settings") && doc["settings"].is_object() && !doc["settings"].empty()) {
    nlohmann::json known = nlohmann::json::object();
    for (const auto& [k, v] : doc["settings"].items()) {
      if (FindSettingKey(k) != nullptr) known[k] = v;
    }
    if (!known.empty()) {
      RETURN_IF_ERROR(app.settings().Change(known).status());
      out["settings_changed"] = known.size();
    }
  }
  for (const nlohmann::json& p : doc.value("profiles", nlohmann::json::array())) {
    if (!p.is_object() || !p.contains("name") || !p["name"].is_string()) continue;
    const std::string name = p["name"];
    Result<ProfilePatch> patch = ProfilePatchFromJson(p);
    Result<Profile> have = app.profiles().GetProfile(name);
    Result<Profile> done = !patch.ok() ? Result<Profile>(patch.status())
                           : have.ok() ? app.profiles().UpdateProfile(name, *patch)
                                       : app.profiles().CreateProfile(name, *patch);
    if (!done.ok()) {
      out["skipped"].push_back({{"profile", name}, {"reason", done.status().message()}});
      continue;
    }
    out["profiles"].push_back(name);
  }
  ASSIGN_OR_RETURN(std::vector<store::InstalledModel> installed, app.store().Installed());
  for (const nlohmann::json& m : doc["models"]) {
    const std::string id = m.value("id", "");
    const std::string ref = m.value("ref", "");
    const std::string checksum = m.contains("checksum") && m["checksum"].is_string() ? m["checksum"].get<std::string>() : "";
    bool present = false;
    for (const store::InstalledModel& have : installed) {
      present = present || have.id == id || (!checksum.empty() && "sha256:" + have.digest == checksum);
    }
    const std::string made_by = m.value("source", "");
    if (present) {
      out["present"].push_back(id);
    } else if (made_by == "quantize" || made_by == "convert") {
      // Made on the other machine from one of its models: made again here.
      out["skipped"].push_back({{"model", id},
                                {"reason", fmt::format("made there by `hangar {}`; run it here once its source "
                                                       "is installed", made_by)}});
    } else if (!m.value("managed", false) || ref.empty()) {
      out["skipped"].push_back(
          {{"model", id},
           {"reason", fmt::format("found in place at {} ({}); nothing to download it from",
                                  m.value("path", "?"), m.value("source", "?"))}});
    } else {
      Result<Download> d = app.downloads().Start(ref);
      if (!d.ok()) {
        out["skipped"].push_back({{"model", id}, {"reason", d.status().message()}});
      } else {
        out["downloading"].push_back({{"model", id}, {"download", d->id}, {"job", d->job}});
      }
    }
  }
  if (doc.contains("default_model") && doc["default_model"].is_string()) {
    Result<std::string> set = app.models().SetDefaultModel(doc["default_model"].get<std::string>());
    out["default_model"] = set.ok() ? "set" : "not installed here";
  }
  return out;
}

}  // namespace hangar::app
