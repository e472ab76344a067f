#include "config/profile.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cmath>
#include <functional>
#include <map>
#include <set>

#include "config/value_rules.h"
#include "core/units.h"

namespace hangar {

namespace {

constexpr std::array<std::string_view, 9> kProfileKeys = {
    "max_tokens",     "temperature", "top_p",    "top_k",   "min_p",
    "repeat_penalty", "description", "use_case", "inherits"};

Profile MakeProfile(std::string name, int max_tokens, double temperature, double top_p, int top_k,
                    double min_p, double repeat_penalty, std::string description,
                    std::string use_case) {
  Profile p;
  p.name = std::move(name);
  p.max_tokens = max_tokens;
  p.temperature = temperature;
  p.top_p = top_p;
  p.top_k = top_k;
  p.min_p = min_p;
  p.repeat_penalty = repeat_penalty;
  p.description = std::move(description);
  p.use_case = std::move(use_case);
  p.origin = ProfileOrigin::kBuiltin;
  return p;
}

std::vector<Profile> MakeBuiltins() {
  std::vector<Profile> v = {
      MakeProfile("balanced", 1024, 0.7, 0.95, 50, 0.05, 1.1,
                  "Balance between speed and quality for general use", "general"),
      MakeProfile("creative", 2048, 1.0, 0.98, 100, 0.02, 1.05,
                  "Varied, imaginative output from a higher temperature",
                  "creative writing, brainstorming"),
      MakeProfile("fast", 512, 0.7, 0.9, 40, 0.05, 1.1, "Short answers, quickly",
                  "quick questions, testing, modest hardware"),
      MakeProfile("precise", 1024, 0.2, 0.9, 20, 0.1, 1.0,
                  "Focused, nearly deterministic output from a low temperature",
                  "code, facts, extraction"),
      MakeProfile("quality", 2048, 0.6, 0.95, 64, 0.05, 1.1, "Longer, more careful answers",
                  "complex reasoning, long-form writing"),
  };
  return v;
}

void Apply(const ProfilePatch& patch, Profile* p) {
  if (patch.max_tokens) p->max_tokens = static_cast<int>(*patch.max_tokens);
  if (patch.temperature) p->temperature = *patch.temperature;
  if (patch.top_p) p->top_p = *patch.top_p;
  if (patch.top_k) p->top_k = static_cast<int>(*patch.top_k);
  if (patch.min_p) p->min_p = *patch.min_p;
  if (patch.repeat_penalty) p->repeat_penalty = *patch.repeat_penalty;
  if (patch.description) p->description = *patch.description;
  if (patch.use_case) p->use_case = *patch.use_case;
}

}  // namespace

std::string_view ProfileOriginName(ProfileOrigin origin) {
  switch (origin) {
    case ProfileOrigin::kBuiltin:
      return "builtin";
    case ProfileOrigin::kUser:
      return "user";
    case ProfileOrigin::kOverride:
      return "override";
  }
  return "unknown";
}

bool ProfilePatch::empty() const {
  return !max_tokens && !temperature && !top_p && !top_k && !min_p && !repeat_penalty &&
         !description && !use_case && !inherits && unset.empty();
}

std::span<const std::string_view> ProfileKeys() { return kProfileKeys; }

Result<ProfilePatch> ProfilePatchFromJson(const nlohmann::json& j) {
  if (!j.is_object()) return InvalidArgumentError("a profile must be a JSON object");
  ProfilePatch patch;
  for (const auto& [key, v] : j.items()) {
    if (key == "name" || key == "origin" || v.is_null()) continue;
    auto wrong = [&key = key](std::string_view what) {
      return InvalidArgumentError(fmt::format("{}: must be {}", key, what));
    };
    if (key == "max_tokens" || key == "top_k") {
      if (!v.is_number_integer()) return wrong("a whole number");
      (key == "max_tokens" ? patch.max_tokens : patch.top_k) = v.get<int64_t>();
    } else if (key == "temperature" || key == "top_p" || key == "min_p" || key == "repeat_penalty") {
      if (!v.is_number()) return wrong("a number");
      std::optional<double>& field = key == "temperature" ? patch.temperature
                                     : key == "top_p"     ? patch.top_p
                                     : key == "min_p"     ? patch.min_p
                                                          : patch.repeat_penalty;
      field = v.get<double>();
    } else if (key == "description" || key == "use_case" || key == "inherits") {
      if (!v.is_string()) return wrong("a string");
      (key == "description" ? patch.description
       : key == "use_case"  ? patch.use_case
                            : patch.inherits) = v.get<std::string>();
    } else if (key == "unset") {
      if (!v.is_array()) return wrong("an array of keys");
      for (const auto& k : v) {
        if (!k.is_string()) return wrong("an array of keys");
        patch.unset.push_back(k.get<std::string>());
      }
    } else {
      std::string known;
      for (std::string_view k : kProfileKeys) known += (known.empty() ? "" : ", ") + std::string(k);
      return InvalidArgumentError(fmt::format("{}: not a profile key (keys: {}, unset)", key, known));
    }
  }
  return patch;
}

const std::vector<Profile>& BuiltinProfiles() {
  static const std::vector<Profile>* builtins = new std::vector<Profile>(MakeBuiltins());
  return *builtins;
}

const Profile* FindBuiltinProfile(std::string_view name) {
  for (const Profile& p : BuiltinProfiles()) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

std::string CheckProfileNumber(std::string_view key, double value) {
  const ValueRule* rule = FindValueRule(key);
  return rule == nullptr ? "" : CheckValue(*rule, value);
}

std::string CheckProfileName(std::string_view name) {
  if (name.empty()) return "a profile name must not be empty";
  if (name.size() > 64)
    return fmt::format("profile name \"{}\" is longer than 64 characters", name);
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) {
      return fmt::format("invalid profile name \"{}\": use letters, digits, '_' and '-' only",
                         name);
    }
  }
  return "";
}

Result<std::vector<Profile>> ResolveProfiles(std::span<const ProfileDefinition> definitions) {
  std::map<std::string, const ProfileDefinition*, std::less<>> by_name;
  for (const ProfileDefinition& d : definitions) by_name[d.name] = &d;

  std::map<std::string, Profile, std::less<>> resolved;
  std::vector<std::string> stack;  // names being resolved, outermost first

  std::function<Status(const ProfileDefinition&)> resolve =
      [&](const ProfileDefinition& def) -> Status {
    if (resolved.contains(def.name)) return Status::Ok();
    stack.push_back(def.name);
    Profile base;
    if (def.patch.inherits) {
      const std::string& parent = *def.patch.inherits;
      auto it = by_name.find(parent);
      if (it != by_name.end()) {
        auto pos = std::find(stack.begin(), stack.end(), parent);
        if (pos != stack.end()) {
          // Starting from this profile: "c -> a -> b -> c" (c inherits a, ...).
          std::string chain = def.name;
          for (auto i = pos; i + 1 != stack.end(); ++i) chain += " -> " + *i;
          chain += " -> " + def.name;
          return InvalidArgumentError(
              fmt::format("{}: inheritance cycle {}; remove one of these inherits keys",
                          def.inherits_location, chain));
        }
        RETURN_IF_ERROR(resolve(*it->second));
        base = resolved[parent];
      } else if (const Profile* builtin = FindBuiltinProfile(parent)) {
        base = *builtin;
      } else {
        std::set<std::string> known;
        for (const Profile& p : BuiltinProfiles()) known.insert(p.name);
        for (const auto& [name, d] : by_name) known.insert(name);
        std::string list;
        for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
        return InvalidArgumentError(
            fmt::format("{}: unknown profile \"{}\"; inherit from one of: {}",
                        def.inherits_location, parent, list));
      }
    } else if (const Profile* builtin = FindBuiltinProfile(def.name)) {
      base = *builtin;
    } else {
      base = *FindBuiltinProfile("balanced");
      base.description.clear();
      base.use_case.clear();
    }
    Apply(def.patch, &base);
    base.name = def.name;
    base.inherits = def.patch.inherits.value_or("");
    base.origin =
        FindBuiltinProfile(def.name) != nullptr ? ProfileOrigin::kOverride : ProfileOrigin::kUser;
    resolved[def.name] = std::move(base);
    stack.pop_back();
    return Status::Ok();
  };

  for (const auto& [name, def] : by_name) RETURN_IF_ERROR(resolve(*def));
  for (const Profile& p : BuiltinProfiles()) {
    if (!resolved.contains(p.name)) resolved[p.name] = p;
  }
  std::vector<Profile> out;
  out.reserve(resolved.size());
  for (auto& [name, p] : resolved) out.push_back(std::move(p));
  return out;
}

ProfileRecommendation RecommendProfile(uint64_t ram_bytes, int physical_cores) {
  const std::string ram = FormatBytesDecimal(ram_bytes);
  if (ram_bytes >= 32 * kGB && physical_cores >= 8) {
    return {"quality", fmt::format("{} of RAM and {} physical cores (at least 32 GB and 8 cores): "
                                   "room for longer, more careful answers",
                                   ram, physical_cores)};
  }
  if (ram_bytes >= 16 * kGB) {
    std::string why =
        fmt::format("{} of RAM (at least 16 GB): a balance of speed and quality", ram);
    if (ram_bytes >= 32 * kGB) {
      why += fmt::format("; quality needs 8 physical cores, found {}", physical_cores);
    }
    return {"balanced", why};
  }
  return {"fast",
          fmt::format("{} of RAM (less than 16 GB): short answers keep generation quick", ram)};
}

nlohmann::json ToJson(const Profile& profile) {
  nlohmann::json j = {
      {"name", profile.name},
      {"max_tokens", profile.max_tokens},
      {"temperature", profile.temperature},
      {"top_p", profile.top_p},
      {"top_k", profile.top_k},
      {"min_p", profile.min_p},
      {"repeat_penalty", profile.repeat_penalty},
      {"description", profile.description},
      {"use_case", profile.use_case},
      {"inherits", nullptr},
      {"origin", std::string(ProfileOriginName(profile.origin))},
  };
  if (!profile.inherits.empty()) j["inherits"] = profile.inherits;
  return j;
}

}  // namespace hangar
