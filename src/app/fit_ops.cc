#include "app/fit_ops.h"

#include <fmt/format.h>

#include <algorithm>

#include "checkpoint/hf_checkpoint.h"
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
    if (in.checkpoint) {
      ASSIGN_OR_RETURN(report.checkpoint,
                       FitCheckpoint(*in.checkpoint, report.model, query.request));
      return report;
    }
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
  if (!report.requested.fits && !s->config.cluster().workers.empty()) {
    fit::PlanOptions split = options;
    split.request = report.requested.request;
    split.auto_gpu_layers = true;
    Result<SplitPlan> plan = cluster_->PlanSplit(facts, split, *hw, s->config.limits());
    if (plan.ok()) {
      report.split = *std::move(plan);
    } else {
      report.split_note = plan.status().message();
    }
  }
  options.max_context = true;
  ASSIGN_OR_RETURN(report.largest, fit::PlanFit(facts, options, *hw, s->config.limits()));
  return report;
}

namespace {

uint32_t ConfigU32(const nlohmann::json& c, std::initializer_list<const char*> keys) {
  for (const char* k : keys) {
    auto it = c.find(k);
    if (it != c.end() && it->is_number_unsigned()) return it->get<uint32_t>();
  }
  return 0;
}

// The catalog-entry form of a checkpoint's config, for the estimator.
Result<CatalogEntry> EntryOfCheckpoint(const checkpoint::HfCheckpoint& c, std::string_view name) {
  const std::string cls = c.architecture_class();
  const std::string_view arch = checkpoint::GgufArchitecture(cls);
  if (arch.empty()) {
    return InvalidArgumentError(fmt::format(
        "{}: architecture \"{}\" is not one Hangar converts (llama, mistral, qwen2, qwen3, "
        "qwen3moe, gemma2, gemma3, phi3)",
        name, cls.empty() ? "none in config.json" : cls));
  }
  const nlohmann::json& j = c.config;
  CatalogEntry e;
  e.id = std::string(name);
  e.format = ModelFormat::kGguf;
  e.arch.name = std::string(arch);
  e.arch.block_count = ConfigU32(j, {"num_hidden_layers", "n_layer"});
  e.arch.embedding_length = ConfigU32(j, {"hidden_size", "n_embd"});
  e.arch.feed_forward_length = ConfigU32(j, {"intermediate_size"});
  e.arch.head_count = ConfigU32(j, {"num_attention_heads", "n_head"});
  e.arch.head_count_kv = ConfigU32(j, {"num_key_value_heads"});
  if (e.arch.head_count_kv == 0) e.arch.head_count_kv = e.arch.head_count;
  e.arch.key_length = ConfigU32(j, {"head_dim"});
  e.arch.value_length = e.arch.key_length;
  e.arch.vocab_size = ConfigU32(j, {"vocab_size"});
  e.arch.sliding_window = ConfigU32(j, {"sliding_window"});
  e.arch.sliding_window_pattern = arch == "gemma2" ? 2 : arch == "gemma3" ? 6 : 0;
  if (arch != "gemma2" && arch != "gemma3") e.arch.sliding_window = 0;  // llama.cpp runs them full
  e.arch.expert_count = ConfigU32(j, {"num_experts", "num_local_experts"});
  e.arch.expert_used_count = ConfigU32(j, {"num_experts_per_tok"});
  e.arch.expert_feed_forward_length = ConfigU32(j, {"moe_intermediate_size"});
  e.context_length = ConfigU32(j, {"max_position_embeddings", "n_positions"});
  e.parameter_count = static_cast<double>(c.parameter_count());
  if (e.arch.block_count == 0 || e.arch.embedding_length == 0 || e.arch.head_count == 0) {
    return InvalidArgumentError(fmt::format(
        "{}: config.json lacks num_hidden_layers, hidden_size or num_attention_heads", name));
  }
  return e;
}

}  // namespace

Result<CheckpointFitReport> FitOps::FitCheckpoint(const std::filesystem::path& path,
                                                  const fit::MemoryRequest& request) {
  ASSIGN_OR_RETURN(checkpoint::HfCheckpoint c, checkpoint::OpenCheckpoint(path));
  const std::string name =
      (std::filesystem::is_directory(path) ? path : path.parent_path()).filename().string();
  return FitCheckpoint(c, name, request);
}

Result<CheckpointFitReport> FitOps::FitCheckpoint(const checkpoint::HfCheckpoint& c,
                                                  const std::string& name,
                                                  const fit::MemoryRequest& request) {
  ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> s, core_->snapshot());
  ASSIGN_OR_RETURN(const HardwareInfo* hw, core_->hardware_for_runs(*s));
  ASSIGN_OR_RETURN(CatalogEntry entry, EntryOfCheckpoint(c, name));
  CheckpointFitReport out;
  out.model = name;
  out.architecture = entry.arch.name;
  out.parameters = c.parameter_count();
  // Matrices at the type's bits per weight (the K mixes on average); vectors
  // (norms, biases) stay F32 as the converter writes them.
  uint64_t matrix_elements = 0, vector_elements = 0;
  for (const checkpoint::Shard& sh : c.shards) {
    for (const checkpoint::TensorInfo& t : sh.header.tensors) {
      (t.shape.size() >= 2 ? matrix_elements : vector_elements) += t.elements();
    }
  }
  static constexpr std::pair<std::string_view, double> kQuants[] = {
      {"F16", 16.0}, {"Q8_0", 8.5}, {"Q6_K", 6.5625}, {"Q5_K_M", 5.7}, {"Q4_K_M", 4.85}};
  for (const auto& [quant, bits] : kQuants) {
    CheckpointFit q;
    q.quant = std::string(quant);
    q.file_bytes = static_cast<uint64_t>(static_cast<double>(matrix_elements) * bits / 8) +
                   vector_elements * 4;
    entry.file_size_bytes = q.file_bytes;
    entry.quantization = q.quant;
    ASSIGN_OR_RETURN(fit::ModelFacts facts, fit::FactsFromCatalog(entry));
    fit::PlanOptions options;
    options.request = request;
    if (options.request.n_ctx == 0) {
      options.request.n_ctx =
          facts.n_ctx_train > 0 ? std::min<uint32_t>(4096, facts.n_ctx_train) : 4096;
    }
    options.auto_gpu_layers = true;
    ASSIGN_OR_RETURN(q.requested, fit::PlanFit(facts, options, *hw, s->config.limits()));
    options.max_context = true;
    ASSIGN_OR_RETURN(q.largest, fit::PlanFit(facts, options, *hw, s->config.limits()));
    out.quants.push_back(std::move(q));
  }
  return out;
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
    // The workers' capacity counts as RAM (the layers they hold run on
    // their devices).
    if (!s->config.cluster().workers.empty()) {
      ASSIGN_OR_RETURN(std::vector<runtime::WorkerStatus> workers, cluster_->Status());
      for (const runtime::WorkerStatus& w : workers) {
        if (w.state == runtime::WorkerState::kUp) inputs.remote_memory += w.capacity;
      }
    }
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
