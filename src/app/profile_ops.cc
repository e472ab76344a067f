#include "app/profile_ops.h"

#include "config/config_writer.h"

namespace hangar::app {

Result<std::vector<Profile>> ProfileOps::Profiles() {
  ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> s, core_->snapshot());
  return s->config.profiles();
}

Result<Profile> ProfileOps::GetProfile(std::string_view name) {
  ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> s, core_->snapshot());
  return s->config.GetProfile(name);
}

Result<Profile> ProfileOps::CreateProfile(std::string_view name, const ProfilePatch& patch) {
  ASSIGN_OR_RETURN(const Paths* p, core_->paths());
  auto lock = core_->LockConfigWrites();
  auto written = hangar::CreateProfile(p->config_file, name, patch);
  RETURN_IF_ERROR(core_->Refresh().status());
  RETURN_IF_ERROR(written.status());
  return written->GetProfile(name);
}

Result<Profile> ProfileOps::UpdateProfile(std::string_view name, const ProfilePatch& patch) {
  ASSIGN_OR_RETURN(const Paths* p, core_->paths());
  auto lock = core_->LockConfigWrites();
  auto written = hangar::UpdateProfile(p->config_file, name, patch);
  RETURN_IF_ERROR(core_->Refresh().status());
  RETURN_IF_ERROR(written.status());
  return written->GetProfile(name);
}

Status ProfileOps::DeleteProfile(std::string_view name) {
  ASSIGN_OR_RETURN(const Paths* p, core_->paths());
  auto lock = core_->LockConfigWrites();
  auto written = hangar::DeleteProfile(p->config_file, name);
  RETURN_IF_ERROR(core_->Refresh().status());
  return written.status();
}

Result<ProfileRecommendation> ProfileOps::RecommendProfile() {
  ASSIGN_OR_RETURN(const HardwareInfo* hw, core_->hardware());
  const uint64_t ram = hw->memory.usable > 0 ? hw->memory.usable : hw->memory.total;
  return hangar::RecommendProfile(ram, hw->cpu.physical_cores);
}

}  // namespace hangar::app
