#include "app/settings_ops.h"

#include "config/config_writer.h"
#include "config/settings.h"

namespace hangar::app {
namespace {

nlohmann::json Describe(const Config& c, const std::filesystem::path& file) {
  return {{"file", file.string()}, {"settings", SettingsJson(c)}, {"warnings", c.warnings()}};
}

}  // namespace

Result<nlohmann::json> SettingsOps::Settings() {
  ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> s, core_->snapshot());
  return Describe(s->config, s->paths.config_file);
}

Result<nlohmann::json> SettingsOps::Change(const nlohmann::json& changes) {
  ASSIGN_OR_RETURN(const Paths* p, core_->paths());
  auto lock = core_->LockConfigWrites();
  Result<Config> written = ChangeSettings(p->config_file, changes);
  RETURN_IF_ERROR(core_->Refresh().status());
  RETURN_IF_ERROR(written.status());
  return Describe(*written, p->config_file);
}

}  // namespace hangar::app
