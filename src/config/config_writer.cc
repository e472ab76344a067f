#include "config/config_writer.h"

#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "config/config_parser.h"
#include "config/settings.h"
#include "config/toml_text.h"
#include "core/file_util.h"

namespace hangar {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kProfiles = "performance_profiles";
constexpr std::string_view kPresets = "model_presets";

// The file being changed: its tree and what it loaded as.
struct Document {
  fs::path path;
  std::string file;  // path as named in messages
  toml::table root;
  Config config;
};

Result<Document> Open(const fs::path& path) {
  Document doc;
  doc.path = path;
  doc.file = path.string();
  Result<std::string> text = ReadFile(path);
  if (text.ok()) {
    Result<toml::table> root = ConfigParser::ParseToml(*text, doc.file);
    if (!root.ok()) {
      return Status(root.status().code(), root.status().message() + " (nothing was changed)");
    }
    doc.root = std::move(*root);
  } else if (text.status().code() != StatusCode::kNotFound) {
    return text.status();
  }
  if (!text.ok()) {
    doc.config = ConfigParser::Missing(doc.file);
    return doc;
  }
  Result<Config> config = ConfigParser::FromTable(doc.root, doc.file);
  if (!config.ok()) {
    return Status(config.status().code(),
                  config.status().message() + "; fix the file before changing it");
  }
  doc.config = std::move(*config);
  return doc;
}

// Validates the changed tree and writes it.
Result<Config> Save(const Document& doc) {
  Result<Config> checked = ConfigParser::FromTable(doc.root, doc.file);
  if (!checked.ok()) {
    return Status(checked.status().code(), checked.status().message() + "; nothing was written");
  }
  const std::string text = SerializeToml(doc.root);
  // Parse what will be written, so that the Config returned (and its warning
  // lines) match the new file exactly.
  Result<Config> written = Config::Parse(text, doc.file);
  if (!written.ok()) {
    return InternalError(
        fmt::format("rewriting {} would produce a file that does not load ({}); "
                    "nothing was written, please report this",
                    doc.file, written.status().message()));
  }
  RETURN_IF_ERROR(WriteFileAtomic(doc.path, text));
  return written;
}

toml::table* ProfilesTable(toml::table& root, bool create) {
  if (!root.contains(kProfiles)) {
    if (!create) return nullptr;
    root.insert(kProfiles, toml::table{});
  }
  return root.get(kProfiles)->as_table();  // a table: Open validated the file
}

toml::table* UserProfile(toml::table& root, std::string_view name) {
  toml::table* profiles = ProfilesTable(root, false);
  if (profiles == nullptr || !profiles->contains(name)) return nullptr;
  return profiles->get(name)->as_table();
}

Status CheckUnsetKeys(const ProfilePatch& patch) {
  for (const std::string& key : patch.unset) {
    auto keys = ProfileKeys();
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
      std::string known;
      for (std::string_view k : keys) known += (known.empty() ? "" : ", ") + std::string(k);
      return InvalidArgumentError(
          fmt::format("cannot unset \"{}\": not a profile key (keys: {})", key, known));
    }
  }
  return Status::Ok();
}

void ApplyPatch(const ProfilePatch& patch, toml::table& t) {
  for (const std::string& key : patch.unset) t.erase(key);
  if (patch.max_tokens) t.insert_or_assign("max_tokens", *patch.max_tokens);
  if (patch.temperature) t.insert_or_assign("temperature", *patch.temperature);
  if (patch.top_p) t.insert_or_assign("top_p", *patch.top_p);
  if (patch.top_k) t.insert_or_assign("top_k", *patch.top_k);
  if (patch.min_p) t.insert_or_assign("min_p", *patch.min_p);
  if (patch.repeat_penalty) t.insert_or_assign("repeat_penalty", *patch.repeat_penalty);
  if (patch.description) t.insert_or_assign("description", *patch.description);
  if (patch.use_case) t.insert_or_assign("use_case", *patch.use_case);
  if (patch.inherits) t.insert_or_assign("inherits", *patch.inherits);
}

std::string KnownProfiles(const Config& config) {
  std::string known;
  for (const Profile& p : config.profiles()) known += (known.empty() ? "" : ", ") + p.name;
  return known;
}

}  // namespace

Result<Config> CreateProfile(const fs::path& config_file, std::string_view name,
                             const ProfilePatch& patch) {
  std::string problem = CheckProfileName(name);
  if (!problem.empty()) return InvalidArgumentError("cannot create profile: " + problem);
  if (!patch.unset.empty()) {
    return InvalidArgumentError("cannot create profile " + std::string(name) +
                                ": unset applies only to updates");
  }
  ASSIGN_OR_RETURN(Document doc, Open(config_file));
  if (const Profile* existing = doc.config.FindProfile(name)) {
    if (existing->origin == ProfileOrigin::kBuiltin) {
      return AlreadyExistsError(fmt::format(
          "profile \"{}\" already exists as a built-in profile; update it to override its values",
          name));
    }
    return AlreadyExistsError(fmt::format(
        "profile \"{}\" already exists in {}; update or delete it instead", name, doc.file));
  }
  toml::table* profiles = ProfilesTable(doc.root, true);
  profiles->insert(name, toml::table{});
  ApplyPatch(patch, *profiles->get(name)->as_table());
  return Save(doc);
}

Result<Config> UpdateProfile(const fs::path& config_file, std::string_view name,
                             const ProfilePatch& patch) {
  if (patch.empty()) {
    return InvalidArgumentError(fmt::format(
        "nothing to change in profile \"{}\": set at least one key or name keys to unset", name));
  }
  RETURN_IF_ERROR(CheckUnsetKeys(patch));
  ASSIGN_OR_RETURN(Document doc, Open(config_file));
  if (doc.config.FindProfile(name) == nullptr) {
    return NotFoundError(fmt::format("no profile named \"{}\" to update; known profiles: {}", name,
                                     KnownProfiles(doc.config)));
  }
  toml::table* table = UserProfile(doc.root, name);
  if (table == nullptr) {  // a built-in: start its override
    toml::table* profiles = ProfilesTable(doc.root, true);
    profiles->insert(name, toml::table{});
    table = profiles->get(name)->as_table();
  }
  ApplyPatch(patch, *table);
  return Save(doc);
}

Result<Config> DeleteProfile(const fs::path& config_file, std::string_view name) {
  ASSIGN_OR_RETURN(Document doc, Open(config_file));
  const Profile* profile = doc.config.FindProfile(name);
  if (profile == nullptr) {
    return NotFoundError(fmt::format("no profile named \"{}\" to delete; known profiles: {}", name,
                                     KnownProfiles(doc.config)));
  }
  if (profile->origin == ProfileOrigin::kBuiltin) {
    return FailedPreconditionError(fmt::format(
        "profile \"{}\" is built in and cannot be deleted; only user profiles and overrides can",
        name));
  }
  if (profile->origin == ProfileOrigin::kUser) {  // nothing would be left to inherit from
    for (const Profile& p : doc.config.profiles()) {
      if (p.inherits == name && p.name != name) {
        return FailedPreconditionError(fmt::format(
            "cannot delete profile \"{}\": profile \"{}\" inherits from it; change its inherits "
            "or delete it first",
            name, p.name));
      }
    }
  }
  toml::table* profiles = ProfilesTable(doc.root, false);
  profiles->erase(name);
  if (profiles->empty()) doc.root.erase(kProfiles);
  return Save(doc);
}

Result<Config> SetDefaultModel(const fs::path& config_file, std::string_view model_id) {
  if (model_id.empty()) {
    return InvalidArgumentError("cannot set the default model to an empty id; name a model");
  }
  ASSIGN_OR_RETURN(Document doc, Open(config_file));
  doc.root.insert_or_assign("default_model", std::string(model_id));
  return Save(doc);
}

Result<Config> ClearDefaultModel(const fs::path& config_file) {
  ASSIGN_OR_RETURN(Document doc, Open(config_file));
  if (!doc.root.contains("default_model")) return doc.config;
  doc.root.erase("default_model");
  return Save(doc);
}

Result<Config> AddModelPreset(const fs::path& config_file, std::string_view name,
                              const fs::path& weights, std::string_view description,
                              const ModelPreset& more) {
  std::string problem = CheckPresetName(name);
  if (!problem.empty()) return InvalidArgumentError("cannot name a model so: " + problem);
  ASSIGN_OR_RETURN(Document doc, Open(config_file));
  if (doc.config.FindPreset(name) != nullptr) {
    return AlreadyExistsError(
        fmt::format("a model preset \"{}\" exists already in {}", name, doc.file));
  }
  if (!doc.root.contains(kPresets)) doc.root.insert(kPresets, toml::table{});
  toml::table* presets = doc.root.get(kPresets)->as_table();
  toml::table entry;
  entry.insert("weights", weights.string());
  if (!description.empty()) entry.insert("description", std::string(description));
  for (const ModelPresetField& f : ModelPresetFields()) {
    if (f.key == "weights" || f.key == "description") continue;
    std::string problem;
    std::visit(
        [&](auto member) {
          const auto& value = more.*member;
          if (!value) return;
          using T = std::decay_t<decltype(*value)>;
          if constexpr (std::is_same_v<T, std::string>) {
            problem = CheckPresetString(f.key, *value);
            entry.insert(f.key, *value);
          } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
            toml::array items;
            for (const std::string& item : *value) items.push_back(item);
            entry.insert(f.key, std::move(items));
          } else if constexpr (std::is_same_v<T, double>) {
            problem = CheckPresetNumber(f.key, *value);
            entry.insert(f.key, *value);
          } else {
            problem = CheckPresetNumber(f.key, static_cast<double>(*value));
            entry.insert(f.key, static_cast<int64_t>(*value));
          }
        },
        f.member);
    if (!problem.empty()) return InvalidArgumentError(fmt::format("{}: {}", f.key, problem));
  }
  presets->insert(name, std::move(entry));
  return Save(doc);
}

Result<Config> RemoveModelPreset(const fs::path& config_file, std::string_view name) {
  ASSIGN_OR_RETURN(Document doc, Open(config_file));
  toml::table* presets = doc.root.contains(kPresets) ? doc.root.get(kPresets)->as_table() : nullptr;
  if (presets == nullptr || !presets->contains(name)) {
    return NotFoundError(fmt::format("no model preset \"{}\" in {}", name, doc.file));
  }
  presets->erase(name);
  if (presets->empty()) doc.root.erase(kPresets);
  return Save(doc);
}

Result<Config> ChangeSettings(const fs::path& config_file, const nlohmann::json& changes) {
  if (!changes.is_object() || changes.empty()) {
    return InvalidArgumentError("give the settings to change as an object of KEY: value");
  }
  ASSIGN_OR_RETURN(Document doc, Open(config_file));
  for (const auto& [key, value] : changes.items()) {
    const SettingKey* k = FindSettingKey(key);
    if (k == nullptr) {
      std::string known;
      for (const SettingKey& s : SettingKeys()) known += (known.empty() ? "" : ", ") + std::string(s.key);
      return InvalidArgumentError(fmt::format("{}: not a setting (settings: {})", key, known));
    }
    const size_t dot = key.find('.');
    const std::string table = key.substr(0, dot), name = key.substr(dot + 1);
    if (!doc.root.contains(table)) doc.root.insert(table, toml::table{});
    toml::table* t = doc.root.get(table)->as_table();  // a table: Open validated the file
    if (value.is_null()) {
      t->erase(name);
      if (t->empty()) doc.root.erase(table);
    } else if (value.is_string()) {
      t->insert_or_assign(name, value.get<std::string>());
    } else if (value.is_number_integer() && k->kind == "integer") {
      t->insert_or_assign(name, value.get<int64_t>());
    } else {
      return InvalidArgumentError(fmt::format(
          "{}: must be {} or null (the default, {})", key,
          k->kind == "integer" ? "a whole number" : "a string", k->fallback));
    }
  }
  return Save(doc);
}

}  // namespace hangar
