#include "app/app.h"

#include <algorithm>

#include "config/config_writer.h"
#include "fit/estimator.h"
#include "fit/model_facts.h"
#include "fit/speed.h"
#include "gguf/split.h"

namespace hangar::app {

App::App(Deps deps) : deps_(std::move(deps)) {}

App App::Defaults() {
  Deps deps;
  deps.env = std::make_shared<RealEnvironment>();
  deps.clock = &SystemClock::Default();
  deps.nvml = std::make_shared<RealNvml>();
  return App(std::move(deps));
}

void App::Invalidate() {
  config_.reset();
  models_.reset();
}

Result<const Paths*> App::paths() {
  if (!paths_) {
    ASSIGN_OR_RETURN(Paths p, ResolvePaths(*deps_.env));
    paths_ = std::move(p);
  }
  return &*paths_;
}

Result<const Config*> App::config() {
  if (!config_) {
    ASSIGN_OR_RETURN(const Paths* p, paths());
    ASSIGN_OR_RETURN(Config c, Config::Load(p->config_file));
    config_ = std::move(c);
  }
  return &*config_;
}

Result<const ModelIndex*> App::models() {
  if (!models_) {
    ASSIGN_OR_RETURN(const Config* c, config());
    ASSIGN_OR_RETURN(const std::vector<store::InstalledModel>* installed, Installed());
    ASSIGN_OR_RETURN(ModelIndex index,
                     ModelIndex::Build(DefaultCatalog(), c->presets(), c->file_name(), *installed));
    models_ = std::make_unique<ModelIndex>(std::move(index));
  }
  return models_.get();
}

Result<std::vector<ModelView>> App::ListModels(const ListQuery& query) {
  ASSIGN_OR_RETURN(const ModelIndex* index, models());
  ASSIGN_OR_RETURN(const Config* c, config());
  std::vector<ModelView> out;
  for (const CatalogEntry* e : index->catalog().Filter(query.filter)) {
    ModelView v = index->View(*e, c->default_model());
    if (query.scope == ListQuery::Scope::kInstalled && !v.installed) continue;
    out.push_back(std::move(v));
  }
  return out;
}

Result<ModelView> App::Info(std::string_view ref) {
  ASSIGN_OR_RETURN(const ModelIndex* index, models());
  ASSIGN_OR_RETURN(const Config* c, config());
  ASSIGN_OR_RETURN(const CatalogEntry* e, index->catalog().Lookup(ref));
  return index->View(*e, c->default_model());
}

Result<ValidationReport> App::Validate(std::string_view ref) {
  ASSIGN_OR_RETURN(ModelView v, Info(ref));
  return ValidateModel(v);
}

Result<std::optional<std::string>> App::DefaultModel() {
  ASSIGN_OR_RETURN(const Config* c, config());
  return c->default_model();
}

Result<std::string> App::SetDefaultModel(std::string_view ref) {
  ASSIGN_OR_RETURN(ModelView v, Info(ref));
  ASSIGN_OR_RETURN(const Paths* p, paths());
  auto written = hangar::SetDefaultModel(p->config_file, v.entry.id);
  Invalidate();
  RETURN_IF_ERROR(written);
  return v.entry.id;
}

Result<App::Inspection> App::Inspect(std::string_view ref) {
  std::string_view path_text = ref;
  if (path_text.starts_with("file://")) path_text.remove_prefix(7);
  std::filesystem::path path(path_text);
  std::error_code ec;
  bool looks_like_path = path_text.find('/') != std::string_view::npos ||
                         path_text.ends_with(".gguf") || std::filesystem::exists(path, ec);
  bool is_file = std::filesystem::is_regular_file(path, ec);
  if (!is_file) {
    const bool remote_ref = ref.starts_with("hf://") || ref.starts_with("ollama://") ||
                            ref.starts_with("http://") || ref.starts_with("https://") ||
                            ref.starts_with("hf.co/");
    auto model = remote_ref ? Result<ModelView>(NotFoundError("remote")) : Info(ref);
    if (!model.ok()) {
      if (looks_like_path && !remote_ref &&
          std::count(path_text.begin(), path_text.end(), '/') != 1) {
        return NotFoundError(std::string(path_text) + " does not exist");
      }
      // Not known here: maybe a repository or registry model.
      if (remote_ref || std::count(ref.begin(), ref.end(), '/') == 1) return InspectRemote(ref);
      return model.status();
    }
    if (model->weights.empty() || !model->installed) return InspectRemote(model->entry.id);
    path = model->weights;
  }
  Inspection out;
  ASSIGN_OR_RETURN(out.parts, gguf::ReadSplitModel(path));
  out.summary = gguf::Summarize(out.parts);
  return out;
}

Result<App::FitReport> App::Fit(const FitQuery& query) {
  ASSIGN_OR_RETURN(const Config* c, config());
  ASSIGN_OR_RETURN(const HardwareInfo* hw, Hardware());
  FitReport report;
  fit::ModelFacts facts;
  std::error_code ec;
  std::string_view path_text = query.ref;
  if (path_text.starts_with("file://")) path_text.remove_prefix(7);
  if (std::filesystem::is_regular_file(std::filesystem::path(path_text), ec)) {
    report.file = std::filesystem::path(path_text);
    report.model = report.file.filename().string();
  } else {
    ASSIGN_OR_RETURN(ModelView v, Info(query.ref));
    report.model = v.entry.id;
    if (v.installed && v.entry.format == ModelFormat::kGguf) {
      report.file = v.weights;
    } else {
      ASSIGN_OR_RETURN(facts, fit::FactsFromCatalog(v.entry));
    }
  }
  if (!report.file.empty()) {
    ASSIGN_OR_RETURN(Inspection in, Inspect(report.file.string()));
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
  ASSIGN_OR_RETURN(report.requested, fit::PlanFit(facts, options, *hw, c->limits()));
  options.max_context = true;
  ASSIGN_OR_RETURN(report.largest, fit::PlanFit(facts, options, *hw, c->limits()));
  return report;
}

Result<fit::Recommendation> App::Recommend(const RecommendQuery& query) {
  ASSIGN_OR_RETURN(const Config* c, config());
  ASSIGN_OR_RETURN(const ModelIndex* index, models());
  ASSIGN_OR_RETURN(const HardwareInfo* probed, Hardware());
  ASSIGN_OR_RETURN(const Paths* p, paths());
  ASSIGN_OR_RETURN(HardwareInfo hw, fit::DescribeMachine(query.machine, *probed));
  std::vector<std::string> installed;
  for (const CatalogEntry& e : index->catalog().entries()) {
    if (index->View(e, std::nullopt).installed) installed.push_back(e.id);
  }
  fit::RecommendInputs inputs;
  inputs.memory = [](const CatalogEntry& entry, const fit::MemoryRequest& request,
                     const HardwareInfo& machine) {
    std::vector<fit::GpuMemory> gpus = fit::GpuMemoryOf(machine.gpus);
    return fit::Estimate(entry, request, gpus);
  };
  // Main-memory bandwidth is measured once per CPU and cached; a described
  // machine other than this one keeps the default.
  bool this_machine = !query.machine.ram && !query.machine.cores;
  if (this_machine) {
    auto bw = fit::LoadOrMeasureHostBandwidth(p->cache_dir, hw.cpu,
                                              [] { return fit::MeasureMemoryBandwidth(); });
    if (bw.ok()) inputs.host_bandwidth = *bw;
  }
  // Measured speeds (hangar bench) and success rates replace predictions.
  fit::UsageStats usage;
  if (auto measured = MeasuredUsage(); measured.ok()) {
    usage = std::move(*measured);
    inputs.usage = &usage;
  }
  return fit::Recommend(index->catalog(), installed, hw, c->limits(), query.options, inputs);
}

Result<const HardwareInfo*> App::Hardware() {
  if (!hardware_) {
    ASSIGN_OR_RETURN(const Paths* p, paths());
    ProbeOptions options;
    options.root = deps_.hardware_root;
    options.nvml = deps_.nvml.get();
    options.disk_path = p->data_dir;
    hardware_ = std::make_unique<HardwareInfo>(ProbeHardware(options));
  }
  return hardware_.get();
}

Result<std::vector<Profile>> App::Profiles() {
  ASSIGN_OR_RETURN(const Config* c, config());
  return c->profiles();
}

Result<Profile> App::GetProfile(std::string_view name) {
  ASSIGN_OR_RETURN(const Config* c, config());
  return c->GetProfile(name);
}

Result<Profile> App::CreateProfile(std::string_view name, const ProfilePatch& patch) {
  ASSIGN_OR_RETURN(const Paths* p, paths());
  auto written = hangar::CreateProfile(p->config_file, name, patch);
  Invalidate();
  RETURN_IF_ERROR(written);
  return written->GetProfile(name);
}

Result<Profile> App::UpdateProfile(std::string_view name, const ProfilePatch& patch) {
  ASSIGN_OR_RETURN(const Paths* p, paths());
  auto written = hangar::UpdateProfile(p->config_file, name, patch);
  Invalidate();
  RETURN_IF_ERROR(written);
  return written->GetProfile(name);
}

Status App::DeleteProfile(std::string_view name) {
  ASSIGN_OR_RETURN(const Paths* p, paths());
  auto written = hangar::DeleteProfile(p->config_file, name);
  Invalidate();
  return written.status();
}

Result<ProfileRecommendation> App::RecommendProfile() {
  ASSIGN_OR_RETURN(const HardwareInfo* hw, Hardware());
  uint64_t ram = hw->memory.usable > 0 ? hw->memory.usable : hw->memory.total;
  return hangar::RecommendProfile(ram, hw->cpu.physical_cores);
}

}  // namespace hangar::app
