#include "app/core.h"

#include "fetch/curl_http_client.h"

namespace hangar::app {

Core::Core(Deps deps) : deps_(std::move(deps)), jobs_(deps_.clock) {
  if (deps_.clock == nullptr) deps_.clock = &SystemClock::Default();
  if (!deps_.env) deps_.env = std::make_shared<RealEnvironment>();
}

Core::~Core() = default;

Result<const Paths*> Core::paths() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!paths_) {
    ASSIGN_OR_RETURN(Paths p, ResolvePaths(*deps_.env));
    paths_ = std::move(p);
  }
  return &*paths_;
}

Result<store::StateDbPool*> Core::pool() {
  ASSIGN_OR_RETURN(const Paths* p, paths());
  std::lock_guard<std::mutex> lock(mu_);
  if (!pool_) pool_ = std::make_unique<store::StateDbPool>(p->state_db());
  if (!source_) source_ = std::make_unique<SnapshotSource>(*p, pool_.get());
  return pool_.get();
}

Result<std::shared_ptr<const Snapshot>> Core::snapshot() {
  RETURN_IF_ERROR(pool().status());
  return source_->Current();
}

Result<std::shared_ptr<const Snapshot>> Core::Refresh() {
  RETURN_IF_ERROR(pool().status());
  return source_->Refresh();
}

Status Core::Watch(std::chrono::milliseconds interval) {
  RETURN_IF_ERROR(pool().status());
  source_->Watch(interval);
  return Status::Ok();
}

Result<Resolution> Core::Resolve(std::string_view text, const ResolveOptions& options) {
  ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> s, snapshot());
  return app::Resolve(*s, text, options);
}

Result<store::StateDbPool::Lease> Core::db() {
  ASSIGN_OR_RETURN(store::StateDbPool * p, pool());
  return p->Acquire();
}

Result<bool> Core::HasDb() {
  ASSIGN_OR_RETURN(store::StateDbPool * p, pool());
  return p->Exists();
}

Result<const HardwareInfo*> Core::hardware() {
  ASSIGN_OR_RETURN(const Paths* p, paths());
  std::lock_guard<std::mutex> lock(mu_);
  if (!hardware_) {
    ProbeOptions options;
    options.root = deps_.hardware_root;
    options.nvml = deps_.nvml.get();
    options.disk_path = p->data_dir;
    hardware_ = std::make_unique<HardwareInfo>(ProbeHardware(options));
  }
  return hardware_.get();
}

HttpClient& Core::http() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!deps_.http) deps_.http = std::make_shared<CurlHttpClient>();
  return *deps_.http;
}

const runtime::BackendRegistry& Core::backends() const {
  return deps_.backends != nullptr ? *deps_.backends : runtime::DefaultRegistry();
}

}  // namespace hangar::app
