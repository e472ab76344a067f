#include "app/usage_ops.h"

#include "hardware/process.h"

namespace hangar::app {

Result<std::vector<runtime::ModelStats>> UsageOps::Stats(std::string_view ref) {
  ASSIGN_OR_RETURN(store::StateDbPool::Lease db, core_->db());
  runtime::UsageStore u(db.get(), &core_->clock());
  if (ref.empty()) return u.Stats();
  // A catalog id or alias means its entry's id; anything else is the name
  // statistics were kept under (a file name, a server's model name).
  std::string id(ref);
  if (Result<Resolution> t = core_->Resolve(ref); t.ok() && t->view) id = t->view->entry.id;
  Result<std::vector<runtime::ModelStats>> r = u.Stats(id);
  if (!r.ok() && id != ref) return u.Stats(ref);
  return r;
}

Result<std::vector<runtime::UsageEvent>> UsageOps::Recent(std::string_view ref, int count) {
  ASSIGN_OR_RETURN(store::StateDbPool::Lease db, core_->db());
  runtime::UsageStore u(db.get(), &core_->clock());
  std::string id(ref);
  if (Result<Resolution> t = core_->Resolve(ref); t.ok() && t->view) id = t->view->entry.id;
  ASSIGN_OR_RETURN(std::vector<runtime::UsageEvent> events, u.RecentEvents(id, count));
  if (events.empty() && id != ref) return u.RecentEvents(ref, count);
  return events;
}

Result<std::vector<ProcessView>> UsageOps::Processes() {
  std::vector<ProcessView> out;
  ASSIGN_OR_RETURN(bool has_db, core_->HasDb());
  if (!has_db) return out;
  ASSIGN_OR_RETURN(store::StateDbPool::Lease db, core_->db());
  runtime::UsageStore u(db.get(), &core_->clock());
  ASSIGN_OR_RETURN(std::vector<runtime::ProcessEntry> live, u.LiveProcesses());
  for (runtime::ProcessEntry& e : live) {
    const uint64_t rss =
        ReadProcessMemory(core_->deps().hardware_root, e.pid).value_or(ProcessMemory{}).resident;
    out.push_back({std::move(e), rss});
  }
  return out;
}

Result<std::vector<runtime::HealthCheck>> UsageOps::Doctor() {
  ASSIGN_OR_RETURN(const HardwareInfo* hw, core_->hardware());
  runtime::HealthInputs in;
  in.hardware = *hw;
  ASSIGN_OR_RETURN(bool has_db, core_->HasDb());
  if (has_db) {
    ASSIGN_OR_RETURN(store::StateDbPool::Lease db, core_->db());
    runtime::UsageStore u(db.get(), &core_->clock());
    ASSIGN_OR_RETURN(in.processes, u.LiveProcesses());
    ASSIGN_OR_RETURN(in.stats, u.Stats());
    ASSIGN_OR_RETURN(std::vector<runtime::SpeedBaseline> baselines, u.Baselines());
    for (const runtime::SpeedBaseline& b : baselines) {
      runtime::SpeedTrend t;
      t.model = b.model;
      t.backend = b.backend;
      t.baseline_gen_tokens_per_second = b.gen_tokens_per_second;
      ASSIGN_OR_RETURN(t.recent, u.RecentGenSpeeds(b.model, b.backend, runtime::kRecentForTrend));
      in.trends.push_back(std::move(t));
    }
  }
  return runtime::Diagnose(in);
}

Result<fit::UsageStats> UsageOps::MeasuredUsage() {
  fit::UsageStats out;
  ASSIGN_OR_RETURN(bool has_db, core_->HasDb());
  if (!has_db) return out;
  ASSIGN_OR_RETURN(store::StateDbPool::Lease db, core_->db());
  runtime::UsageStore u(db.get(), &core_->clock());
  ASSIGN_OR_RETURN(std::vector<runtime::ModelStats> stats, u.Stats());
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
