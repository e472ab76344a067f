#include "app/core.h"

#include <fmt/format.h>
#include <unistd.h>

#include "fetch/curl_http_client.h"

namespace hangar::app {

Core::Core(Deps deps) : deps_(std::move(deps)), jobs_(deps_.clock) {
  if (deps_.clock == nullptr) deps_.clock = &SystemClock::Default();
  if (!deps_.env) deps_.env = std::make_shared<RealEnvironment>();
}

Core::~Core() = default;

Status Core::Init() {
  std::call_once(init_once_, [this] {
    Result<Paths> p = ResolvePaths(*deps_.env);
    if (!p.ok()) {
      init_status_ = p.status();
      return;
    }
    paths_ = std::move(*p);
    pool_ = std::make_unique<store::StateDbPool>(paths_->state_db());
    source_ = std::make_unique<SnapshotSource>(*paths_, pool_.get());
  });
  return init_status_;
}

Result<const Paths*> Core::paths() {
  RETURN_IF_ERROR(Init());
  return &*paths_;
}

Result<std::shared_ptr<const Snapshot>> Core::snapshot() {
  RETURN_IF_ERROR(Init());
  return source_->Current();
}

Result<std::shared_ptr<const Snapshot>> Core::Refresh() {
  RETURN_IF_ERROR(Init());
  return source_->Refresh();
}

Result<const SnapshotSource*> Core::snapshot_source() {
  RETURN_IF_ERROR(Init());
  return source_.get();
}

Status Core::Watch(std::chrono::milliseconds interval) {
  RETURN_IF_ERROR(Init());
  source_->Watch(interval);
  return Status::Ok();
}

Result<Resolution> Core::Resolve(std::string_view text, const ResolveOptions& options) {
  ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> s, snapshot());
  return app::Resolve(*s, text, options);
}

Result<store::StateDbPool::Lease> Core::db() {
  RETURN_IF_ERROR(Init());
  return pool_->Acquire();
}

Result<bool> Core::HasDb() {
  RETURN_IF_ERROR(Init());
  return pool_->Exists();
}

Result<const HardwareInfo*> Core::hardware() {
  RETURN_IF_ERROR(Init());
  std::call_once(hardware_once_, [this] {
    hardware_ = std::make_unique<HardwareInfo>(SampleHardware().value());
    cpu_only_ = std::make_unique<HardwareInfo>(*hardware_);
    cpu_only_->gpus.clear();
  });
  return hardware_.get();
}

Result<const HardwareInfo*> Core::hardware_for_runs(const Snapshot& s) {
  ASSIGN_OR_RETURN(const HardwareInfo* hw, hardware());
  return s.config.runtime().gpu == "off" ? cpu_only_.get() : hw;
}

Result<HardwareInfo> Core::SampleHardware() {
  RETURN_IF_ERROR(Init());
  ProbeOptions options;
  options.root = deps_.hardware_root;
  options.nvml = deps_.nvml.get();
  options.disk_path = paths_->data_dir;
  return ProbeHardware(options);
}

HttpClient& Core::http() {
  std::lock_guard<std::mutex> lock(http_mu_);
  if (!deps_.http) deps_.http = std::make_shared<CurlHttpClient>();
  return *deps_.http;
}

const runtime::BackendRegistry& Core::backends() const {
  return deps_.backends != nullptr ? *deps_.backends : runtime::DefaultRegistry();
}

Result<std::filesystem::path> FindLlamaTool(const Environment& env, std::string_view env_var,
                                            std::string_view name, const char* built) {
  if (auto value = env.Get(env_var); value && !value->empty()) {
    if (::access(value->c_str(), X_OK) == 0) return std::filesystem::path(*value);
    return FailedPreconditionError(
        fmt::format("{} names {}, which is not an executable", env_var, *value));
  }
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    auto beside = self.parent_path() / name;
    if (::access(beside.c_str(), X_OK) == 0) return beside;
  }
  if (built != nullptr && ::access(built, X_OK) == 0) return std::filesystem::path(built);
  return FailedPreconditionError(
      fmt::format("{} was not found ({}, beside hangar, or built by scripts/build-llama); run "
                  "scripts/build-llama",
                  name, env_var));
}

}  // namespace hangar::app
