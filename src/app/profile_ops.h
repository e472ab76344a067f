// ProfileOps: performance profiles (sampling settings) of config.toml:
// list, show, create, update, delete, and the one this machine suits.
//
// Thread-safe: reads the shared snapshot; writes go through the config
// writer (validated, atomic) and refresh it.
#ifndef HANGAR_APP_PROFILE_OPS_H_
#define HANGAR_APP_PROFILE_OPS_H_

#include <string_view>
#include <vector>

#include "app/core.h"
#include "config/profile.h"
#include "core/status.h"

namespace hangar::app {

class ProfileOps {
 public:
  explicit ProfileOps(Core* core) : core_(core) {}

  Result<std::vector<Profile>> Profiles();
  // NotFound for an unknown profile.
  Result<Profile> GetProfile(std::string_view name);
  // Errors of the config writer (config/config_writer.h).
  Result<Profile> CreateProfile(std::string_view name, const ProfilePatch& patch);
  Result<Profile> UpdateProfile(std::string_view name, const ProfilePatch& patch);
  Status DeleteProfile(std::string_view name);
  // The profile for this machine (RAM usable by this process and physical
  // cores), with the reason.
  Result<ProfileRecommendation> RecommendProfile();

 private:
  Core* core_;
};

}  // namespace hangar::app

#endif  // HANGAR_APP_PROFILE_OPS_H_
