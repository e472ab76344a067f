// Performance profiles: named sampling settings for text generation
// (max_tokens, temperature, top_p, top_k, min_p, repeat_penalty) with a
// description and a use case, as in specs/000.
//
// Five profiles are built in (fast, balanced, quality, creative, precise).
// config.toml adds profiles under [performance_profiles.NAME]; a user profile
// with a built-in's name overrides it. A user profile may say
// `inherits = "other"`: the keys it leaves unset come from that profile
// (chains allowed). Without `inherits`, unset keys come from the built-in of
// the same name when there is one, else from the built-in `balanced` (sampling
// values only; description and use case stay empty).
//
// Everything here is a plain value or a pure function: thread-safe.
#ifndef HANGAR_CONFIG_PROFILE_H_
#define HANGAR_CONFIG_PROFILE_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace hangar {

// Where a resolved profile comes from.
enum class ProfileOrigin {
  kBuiltin,   // built in, not overridden
  kUser,      // defined in config.toml only
  kOverride,  // defined in config.toml with a built-in's name
};

// "builtin", "user", "override".
std::string_view ProfileOriginName(ProfileOrigin origin);

// A fully resolved profile: every field has a value.
struct Profile {
  std::string name;
  int max_tokens = 1024;        // > 0
  double temperature = 0.7;     // 0..2
  double top_p = 0.95;          // 0..1
  int top_k = 50;               // >= 0 (0 disables top-k)
  double min_p = 0.05;          // 0..1 (0 disables min-p)
  double repeat_penalty = 1.1;  // > 0 (1 disables it)
  std::string description;
  std::string use_case;
  std::string inherits;  // the parent named in config.toml; empty when none
  ProfileOrigin origin = ProfileOrigin::kBuiltin;

  friend bool operator==(const Profile&, const Profile&) = default;
};

// The keys of one [performance_profiles.NAME] table; each is optional.
// Integers are 64-bit so that out-of-range values can be reported as given.
struct ProfilePatch {
  std::optional<int64_t> max_tokens;
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<int64_t> top_k;
  std::optional<double> min_p;
  std::optional<double> repeat_penalty;
  std::optional<std::string> description;
  std::optional<std::string> use_case;
  std::optional<std::string> inherits;
  // Only for UpdateProfile: keys to remove from the stored profile so that
  // they are inherited again (names from ProfileKeys()).
  std::vector<std::string> unset;

  bool empty() const;
  friend bool operator==(const ProfilePatch&, const ProfilePatch&) = default;
};

// The keys a profile table may hold, in display order: max_tokens,
// temperature, top_p, top_k, min_p, repeat_penalty, description, use_case,
// inherits.
std::span<const std::string_view> ProfileKeys();

// A patch from JSON: the profile keys with values (null: not set), "unset"
// (an array of keys); "name" and "origin" (as ToJson(Profile) writes them)
// are ignored. Values are checked when the patch is written.
// InvalidArgument naming the key for an unknown key or a wrong type.
Result<ProfilePatch> ProfilePatchFromJson(const nlohmann::json& j);

// The built-in profiles, sorted by name.
const std::vector<Profile>& BuiltinProfiles();
// The built-in profile `name`, or nullptr.
const Profile* FindBuiltinProfile(std::string_view name);

// Empty when `value` is acceptable for the numeric profile key `key`, else
// what is wrong, e.g. "must be between 0 and 2, got 3.5". Non-numeric keys
// are always acceptable.
std::string CheckProfileNumber(std::string_view key, double value);

// Empty when `name` may name a profile (1 to 64 of A-Z a-z 0-9 _ -), else
// what is wrong.
std::string CheckProfileName(std::string_view name);

// One user profile as read from config.toml, before inheritance.
struct ProfileDefinition {
  std::string name;
  ProfilePatch patch;
  // Prefix for errors about patch.inherits, e.g.
  // "config.toml:12: performance_profiles.a.inherits".
  std::string inherits_location;
};

// The built-in profiles combined with `definitions` (names unique, values
// already range-checked), inheritance resolved, sorted by name.
// InvalidArgument, prefixed with the offending inherits_location, when an
// `inherits` names no profile or when inheritance forms a cycle.
Result<std::vector<Profile>> ResolveProfiles(std::span<const ProfileDefinition> definitions);

// The profile suggested for a machine (specs/000): at least 32 GB of RAM and
// 8 physical cores: "quality"; at least 16 GB: "balanced"; else "fast".
// GB is decimal, so a "16 GB" machine whose kernel reports 15.6 GiB counts.
struct ProfileRecommendation {
  std::string profile;
  std::string reason;  // e.g. "64.0 GB of RAM and 16 physical cores: room for long answers"
};
ProfileRecommendation RecommendProfile(uint64_t ram_bytes, int physical_cores);

// {"name", "max_tokens", "temperature", "top_p", "top_k", "min_p",
//  "repeat_penalty", "description", "use_case", "inherits" (string or null),
//  "origin" ("builtin" | "user" | "override")}
nlohmann::json ToJson(const Profile& profile);

}  // namespace hangar

#endif  // HANGAR_CONFIG_PROFILE_H_
