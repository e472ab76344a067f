#include "app/fit_ops.h"

#include <algorithm>

#include "fit/estimator.h"
#include "fit/model_facts.h"
#include "fit/speed.h"

namespace hangar::app {

Result<FitReport> FitOps::Fit(const FitQuery& query) {
  ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> s, core_->snapshot());
  ASSIGN_OR_RETURN(const HardwareInfo* hw, core_->hardware());
  ASSIGN_OR_RETURN(Resolution t, Resolve(*s, query.ref));
  // A bare NAME:TAG nobody knows is more likely a typo than a registry name.
  if (t.guessed_remote && !t.view) return s->models.catalog().Lookup(query.ref).status();
  FitReport report;
  fit::ModelFacts facts;
  report.model = t.DisplayId();
  const bool local_gguf = !t.file.empty() && t.kind != TargetKind::kCatalog &&
                          t.kind != TargetKind::kRemote &&
                          (!t.view || t.view->entry.format == ModelFormat::kGguf);
  if (local_gguf) {
    report.file = t.file;
    ASSIGN_OR_RETURN(Inspection in, models_->Inspect(t.file.string()));
    ASSIGN_OR_RETURN(facts, fit::FactsFromSummary(in.summary));
  } else if (t.view) {
    ASSIGN_OR_RETURN(facts, fit::FactsFromCatalog(t.view->entry));
  } else {
    // Not in the catalog: its facts from the remote header.
    ASSIGN_OR_RETURN(Inspection in, models_->InspectRemote(t));
    ASSIGN_OR_RETURN(facts, fit::FactsFromSummary(in.summary));
  }
  fit::PlanOptions options;
  options.request = query.request;
  if (options.request.n_ctx == 0) {
    options.request.n_ctx =
        facts.n_ctx_train > 0 ? std::min<uint32_t>(4096, facts.n_ctx_train) : 4096;
  }
  options.auto_gpu_layers = query.auto_gpu_layers;
  if (query.probe && !report.file.empty()) options.probe_model = report.file;
  ASSIGN_OR_RETURN(report.requested, fit::PlanFit(facts, options, *hw, s->config.limits()));
  options.max_context = true;
  ASSIGN_OR_RETURN(report.largest, fit::PlanFit(facts, options, *hw, s->config.limits()));
  return report;
}

std::optional<double> FitOps::HostBandwidth(const Snapshot& s, const CpuInfo& cpu) {
  std::lock_guard<std::mutex> lock(bandwidth_mu_);
  if (!bandwidth_) {
    Result<double> bw = fit::LoadOrMeasureHostBandwidth(
        s.paths.cache_dir, cpu, [] { return fit::MeasureMemoryBandwidth(); });
    if (bw.ok()) bandwidth_ = *bw;
  }
  return bandwidth_;
}

Result<fit::Recommendation> FitOps::Recommend(const RecommendQuery& query) {
  ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> s, core_->snapshot());
  ASSIGN_OR_RETURN(const HardwareInfo* probed, core_->hardware());
  ASSIGN_OR_RETURN(HardwareInfo hw, fit::DescribeMachine(query.machine, *probed));
  std::vector<std::string> installed;
  for (const CatalogEntry& e : s->models.catalog().entries()) {
    if (s->models.View(e, std::nullopt).installed) installed.push_back(e.id);
  }
  fit::RecommendInputs inputs;
  inputs.memory = [](const CatalogEntry& entry, const fit::MemoryRequest& request,
                     const HardwareInfo& machine) {
    std::vector<fit::GpuMemory> gpus = fit::GpuMemoryOf(machine.gpus);
    return fit::Estimate(entry, request, gpus);
  };
  // Main-memory bandwidth is measured once per CPU and cached; a described
  // machine other than this one keeps the default.
  const bool this_machine = !query.machine.ram && !query.machine.cores;
  if (this_machine) {
    if (std::optional<double> bw = HostBandwidth(*s, hw.cpu)) inputs.host_bandwidth = *bw;
  }
  // Measured speeds (hangar bench) and success rates replace predictions.
  fit::UsageStats usage;
  if (auto measured = usage_->MeasuredUsage(); measured.ok()) {
    usage = std::move(*measured);
    inputs.usage = &usage;
  }
  return fit::Recommend(s->models.catalog(), installed, hw, s->config.limits(), query.options,
                        inputs);
}

}  // namespace hangar::app
