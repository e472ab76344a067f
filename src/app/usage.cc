// The App's use cases about sessions and statistics: use, stats, ps, doctor.
#include <fmt/format.h>

#include <fstream>
#include <system_error>

#include "app/app.h"

namespace hangar::app {
namespace {

// VmRSS of /proc/PID/status in bytes, 0 when unreadable.
uint64_t ResidentBytes(int64_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      try {
        return std::stoull(line.substr(6)) * 1024;
      } catch (...) {
        return 0;
      }
    }
  }
  return 0;
}

}  // namespace

Result<runtime::UsageStore*> App::usage() {
  if (!usage_) {
    ASSIGN_OR_RETURN(const Paths* p, paths());
    // A connection of its own: a session's idle reaper writes from its thread.
    ASSIGN_OR_RETURN(usage_db_, store::StateDb::Open(p->state_db()));
    usage_ = std::make_unique<runtime::UsageStore>(usage_db_.get(), deps_.clock);
  }
  return usage_.get();
}

Result<runtime::CurrentModel> App::Use(std::string_view ref, std::string_view backend) {
  RunQuery q;
  q.model = std::string(ref);
  q.backend = std::string(backend);
  ASSIGN_OR_RETURN(RunPlan plan, PlanRun(q));
  runtime::CurrentModel current;
  // What PlanRun finds again: the id, or the file's absolute path.
  const std::filesystem::path& file = plan.spec.target.file;
  current.model = !file.empty() && plan.spec.target.id == file.filename().string()
                      ? std::filesystem::absolute(file).string()
                      : plan.spec.target.id;
  current.backend = plan.spec.backend;
  current.since = deps_.clock->NowUnixSeconds();
  ASSIGN_OR_RETURN(runtime::UsageStore * u, usage());
  RETURN_IF_ERROR(u->SetCurrent(current));
  return current;
}

Result<std::optional<runtime::CurrentModel>> App::Current() {
  ASSIGN_OR_RETURN(const Paths* p, paths());
  std::error_code ec;
  if (!std::filesystem::exists(p->state_db(), ec)) return std::optional<runtime::CurrentModel>();
  ASSIGN_OR_RETURN(runtime::UsageStore * u, usage());
  return u->Current();
}

Result<std::vector<runtime::ModelStats>> App::Stats(std::string_view ref) {
  ASSIGN_OR_RETURN(runtime::UsageStore * u, usage());
  if (ref.empty()) return u->Stats();
  // A catalog id or alias means its entry's id; anything else is the name
  // statistics were kept under (a file name, a server's model name).
  std::string id(ref);
  if (Result<ModelView> v = Info(ref); v.ok()) id = v->entry.id;
  Result<std::vector<runtime::ModelStats>> r = u->Stats(id);
  if (!r.ok() && id != ref) return u->Stats(ref);
  return r;
}

Result<std::vector<App::ProcessView>> App::Processes() {
  ASSIGN_OR_RETURN(const Paths* p, paths());
  std::vector<ProcessView> out;
  std::error_code ec;
  if (!std::filesystem::exists(p->state_db(), ec)) return out;
  ASSIGN_OR_RETURN(runtime::UsageStore * u, usage());
  ASSIGN_OR_RETURN(std::vector<runtime::ProcessEntry> live, u->LiveProcesses());
  for (runtime::ProcessEntry& e : live) {
    const uint64_t rss = ResidentBytes(e.pid);
    out.push_back({std::move(e), rss});
  }
  return out;
}

Result<std::vector<runtime::HealthCheck>> App::Doctor() {
  ASSIGN_OR_RETURN(const HardwareInfo* hw, Hardware());
  runtime::HealthInputs in;
  in.hardware = *hw;
  ASSIGN_OR_RETURN(const Paths* p, paths());
  std::error_code ec;
  if (std::filesystem::exists(p->state_db(), ec)) {
    ASSIGN_OR_RETURN(runtime::UsageStore * u, usage());
    ASSIGN_OR_RETURN(in.processes, u->LiveProcesses());
    ASSIGN_OR_RETURN(in.stats, u->Stats());
    ASSIGN_OR_RETURN(std::vector<runtime::SpeedBaseline> baselines, u->Baselines());
    for (const runtime::SpeedBaseline& b : baselines) {
      runtime::SpeedTrend t;
      t.model = b.model;
      t.backend = b.backend;
      t.baseline_gen_tokens_per_second = b.gen_tokens_per_second;
      ASSIGN_OR_RETURN(t.recent, u->RecentGenSpeeds(b.model, b.backend, runtime::kRecentForTrend));
      in.trends.push_back(std::move(t));
    }
  }
  return runtime::Diagnose(in);
}

Result<fit::UsageStats> App::MeasuredUsage() {
  fit::UsageStats out;
  ASSIGN_OR_RETURN(const Paths* p, paths());
  std::error_code ec;
  if (!std::filesystem::exists(p->state_db(), ec)) return out;
  ASSIGN_OR_RETURN(runtime::UsageStore * u, usage());
  ASSIGN_OR_RETURN(std::vector<runtime::ModelStats> stats, u->Stats());
  for (const runtime::ModelStats& s : stats) {
    fit::ModelUsage& m = out[s.model];
    m.uses += static_cast<uint32_t>(s.uses);
    m.successes += static_cast<uint32_t>(s.successes);
    m.failures += static_cast<uint32_t>(s.failures);
    // The in-process measurement is what the recommender predicts.
    if (s.backend == runtime::kDefaultBackend && s.baseline_gen_tokens_per_second) {
      m.measured_gen_tokens_per_second = *s.baseline_gen_tokens_per_second;
    }
  }
  return out;
}

}  // namespace hangar::app
