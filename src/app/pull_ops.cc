#include "app/pull_ops.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <system_error>

#include "core/log.h"
#include "core/units.h"
#include "fetch/hf_hub.h"
#include "fit/model_facts.h"
#include "gguf/split.h"
#include "gguf/summary.h"
#include "hardware/disk.h"

namespace hangar::app {
namespace {

namespace fs = std::filesystem;

std::atomic<uint64_t> sparse_counter{0};

// The process environment with HF_ENDPOINT and OLLAMA_REGISTRY replaced
// (PullQuery::hf_endpoint, ollama_registry). When both name one server (a
// Hangar mirror: `hangar pull --registry`), its API key in HF_TOKEN serves
// for the Ollama routes too, unless OLLAMA_REGISTRY_TOKEN is set.
class EndpointEnvironment final : public Environment {
 public:
  EndpointEnvironment(const Environment& base, std::string endpoint, std::string registry)
      : base_(base), endpoint_(std::move(endpoint)), registry_(std::move(registry)) {}
  std::optional<std::string> Get(std::string_view name) const override {
    if (name == "HF_ENDPOINT" && !endpoint_.empty()) return endpoint_;
    if (name == "OLLAMA_REGISTRY" && !registry_.empty()) return registry_;
    if (name == "OLLAMA_REGISTRY_TOKEN" && !registry_.empty() && registry_ == endpoint_) {
      if (auto own = base_.Get(name); own && !own->empty()) return own;
      return fetch::HfSettings::FromEnvironment(base_).token;
    }
    return base_.Get(name);
  }

 private:
  const Environment& base_;
  std::string endpoint_;
  std::string registry_;
};

fetch::Puller MakePuller(Core& core, const Paths& p, const Environment& env) {
  return fetch::Puller(core.http(), env,
                       fetch::PullStores{p.hf_hub_cache, p.data_dir, p.ollama_models});
}

fetch::Puller MakePuller(Core& core, const Paths& p) { return MakePuller(core, p, core.env()); }

}  // namespace

Result<fit::FitPlan> PullOps::FitRemote(const fetch::RemoteHeader& header) {
  ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> s, core_->snapshot());
  ASSIGN_OR_RETURN(const HardwareInfo* hw, core_->hardware());
  const gguf::ModelSummary summary = gguf::Summarize(header.file);
  ASSIGN_OR_RETURN(fit::ModelFacts facts, fit::FactsFromSummary(summary));
  fit::PlanOptions options;
  options.request.n_ctx =
      facts.n_ctx_train > 0 ? std::min<uint32_t>(4096, facts.n_ctx_train) : 4096;
  options.auto_gpu_layers = true;
  // llama.cpp's own answer: its no-alloc probe on a sparse file holding the
  // real header at the remote file's full size (one file per pull).
  const fs::path sparse = s->paths.cache_dir / "probe" /
                          ("remote-" + std::to_string(::getpid()) + "-" +
                           std::to_string(sparse_counter.fetch_add(1)) + ".gguf");
  if (fetch::WriteSparseCopy(header, sparse).ok()) options.probe_model = sparse;
  Result<fit::FitPlan> plan = fit::PlanFit(facts, options, *hw, s->config.limits());
  if (!plan.ok() && !options.probe_model.empty()) {
    // The estimator alone when the probe cannot take the sparse file.
    options.probe_model.clear();
    plan = fit::PlanFit(facts, options, *hw, s->config.limits());
  }
  std::error_code ec;
  fs::remove(sparse, ec);
  return plan;
}

Result<PullReport> PullOps::Pull(const PullQuery& query, const PullCallbacks& callbacks) {
  auto say = [&](const std::string& line) {
    if (callbacks.status) callbacks.status(line);
  };
  // Partial downloads nobody resumed for a day go first.
  ASSIGN_OR_RETURN(std::vector<store::PartialFile> stale, store_->RemoveStalePartials());
  for (const store::PartialFile& f : stale) {
    Log(LogLevel::kInfo, "removed the stale partial download {}", f.path.string());
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> s, core_->snapshot());
  ASSIGN_OR_RETURN(Resolution target, Resolve(*s, query.ref));
  if (!target.source) {
    if (target.kind == TargetKind::kLocalFile) {
      return InvalidArgumentError(query.ref + " is a local file: register it with `hangar import " +
                                  query.ref + "`");
    }
    return FailedPreconditionError(target.DisplayId() +
                                   " is not a catalog model with a source to pull");
  }
  const Paths& p = s->paths;
  const Config& c = s->config;
  fetch::PullOptions options = query.options;
  if (options.sha256.empty()) options.sha256 = target.sha256;
  if (options.download.max_bytes_per_second == 0 && options.download.rate_limiter == nullptr) {
    options.download.max_bytes_per_second = c.downloads().max_speed;
  }
  if (query.connections == 0) options.download.connections = c.downloads().connections;

  const EndpointEnvironment env(core_->env(), query.hf_endpoint, query.ollama_registry);
  fetch::Puller puller = MakePuller(*core_, p, env);
  PullReport report;
  say("resolving " + target.source->Canonical());
  ASSIGN_OR_RETURN(report.plan, puller.Plan(*target.source, options));
  fetch::PullPlan& plan = report.plan;

  // Know before you download: the remote header, then the fit.
  const bool gguf = plan.source == "ollama" || fetch::IsGgufModelFile(plan.files.front().name);
  if (!plan.files.front().cached && gguf && !query.skip_fit_check) {
    say("reading the GGUF header of " + plan.files.front().name);
    Result<fetch::RemoteHeader> header = puller.Header(plan);
    const std::optional<gguf::SplitName> split = gguf::ParseSplitName(plan.files.front().name);
    if (!header.ok()) {
      report.fit_note = "fit not checked: " + header.status().message();
    } else if (split && split->count > 1) {
      report.fit_note =
          "fit not checked: the header of a split model's first part does not "
          "hold every tensor";
    } else {
      Result<fit::FitPlan> fit = FitRemote(*header);
      if (!fit.ok()) {
        report.fit_note = "fit not checked: " + fit.status().message();
      } else {
        report.fit = *fit;
        if (!fit->fits && !query.force) {
          return ResourceExhaustedError(
              plan.name + " does not fit this machine: " + fit->reason +
              "; nothing was downloaded (pull with --force to fetch it anyway, or pick a smaller "
              "quantization with --quant)");
        }
      }
    }
  }
  // Free space for what is missing, before the first byte.
  const uint64_t missing = plan.missing_bytes();
  if (missing > 0) {
    const fs::path where = plan.source == "hf" ? p.hf_hub_cache : p.data_dir;
    Result<DiskInfo> disk = ProbeDisk(where);
    if (disk.ok() && disk->free < missing) {
      return ResourceExhaustedError("not enough disk space for " + plan.name + ": it needs " +
                                    FormatBytesDecimal(missing) + " at " + where.string() + ", " +
                                    FormatBytesDecimal(disk->free) +
                                    " are free; free space or run `hangar cache prune`");
    }
  }
  report.already_present = plan.all_cached();
  if (callbacks.planned) callbacks.planned(plan);
  RETURN_IF_ERROR(puller.Fetch(plan, options, callbacks.progress));

  // Into the state database, facts from the (now local) header.
  store::InstalledModel m = puller.Record(plan, core_->clock().NowUnixSeconds());
  const bool named_entry =
      target.view && target.view->entry.builtin && target.kind != TargetKind::kRemote;
  m.catalog_id = named_entry ? target.view->entry.id : "";
  if (m.catalog_id.empty() && plan.source == "hf") {
    if (const CatalogEntry* e =
            store::MatchCatalogHf(DefaultCatalog(), plan.ref.repo, plan.files.front().name)) {
      m.catalog_id = e->id;
    }
  }
  if (m.catalog_id.empty() && plan.source == "ollama") {
    if (const CatalogEntry* e = store::MatchCatalogOllama(DefaultCatalog(), plan.name)) {
      m.catalog_id = e->id;
    }
  }
  if (gguf) {
    Result<nlohmann::json> meta = store::GgufMetadata(m.primary_path);
    if (meta.ok()) {
      for (auto& [k, v] : meta->items()) m.metadata[k] = v;
    }
  } else {
    const std::string primary = m.primary_path.filename().string();
    m.format = primary.ends_with(".safetensors") ? "safetensors"
               : primary.ends_with(".onnx")      ? "onnx"
               : primary.ends_with(".bin") || primary.ends_with(".pt") || primary.ends_with(".pth")
                   ? "pytorch"
                   : "other";
  }
  ASSIGN_OR_RETURN(s, core_->snapshot());
  for (const store::InstalledModel& have : s->installed) {
    if (have.id == m.id) {
      m.installed_at = have.installed_at;  // an update keeps its first install time
      report.replaced_revision = have.revision;
    }
  }
  const bool describe = m.catalog_id.empty() && gguf;
  ASSIGN_OR_RETURN(report.model, store_->Record(std::move(m), describe));
  return report;
}

nlohmann::json ToJson(const UpdateCheck& c) {
  return {{"id", c.id},
          {"name", c.name},
          {"installed_revision", c.installed_revision},
          {"latest_revision",
           c.latest_revision.empty() ? nlohmann::json() : nlohmann::json(c.latest_revision)},
          {"outdated", c.outdated},
          {"download_bytes", c.download_bytes},
          {"note", c.note}};
}

std::string PullOps::StartPull(PullQuery query, PullJobHooks hooks) {
  const std::string title = query.ref;
  return core_->jobs().Start(
      "pull", title, [this, query = std::move(query), hooks = std::move(hooks)](JobContext& job) {
        PullQuery q = query;
        q.options.cancelled = [&job] { return job.cancelled(); };
        PullCallbacks callbacks;
        callbacks.status = [&job](const std::string& line) { job.Report(line); };
        auto first = std::make_shared<std::set<size_t>>();  // files with an event already
        callbacks.progress = [&job, first](size_t file, const DownloadProgress& p) {
          if (first->insert(file).second && p.completed > 0 && p.completed < p.total) {
            job.Report(fmt::format("resuming {} at {}", p.name, FormatBytes(p.completed)),
                       p.completed, p.total);
            return;
          }
          job.Report("downloading " + p.name, p.completed, p.total, p.connections);
        };
        callbacks.planned = hooks.planned;
        Result<PullReport> r = Pull(q, callbacks);
        if (hooks.finished) hooks.finished(r.status());
        if (!r.ok()) return r.status();
        job.SetResult("installed as " + EntryIdOf(r->model));
        return Status::Ok();
      });
}

Result<std::vector<UpdateCheck>> PullOps::Outdated(std::string_view only) {
  ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> s, core_->snapshot());
  fetch::Puller puller = MakePuller(*core_, s->paths);
  std::vector<UpdateCheck> out;
  for (const store::InstalledModel& m : s->installed) {
    // Every installed model of that name (an HF and an Ollama copy, say).
    if (!only.empty() && !NamesInstalled(m, only)) continue;
    UpdateCheck check;
    check.id = m.id;
    check.name = m.name;
    check.installed_revision = m.revision;
    if (!m.managed || (m.source != "hf" && m.source != "ollama")) {
      check.note = m.source == "quantize" || m.source == "convert"
                       ? "made here by `hangar " + m.source + "`"
                   : m.managed ? "a plain URL has no revisions"
                               : "found in place: " + m.source + " updates it";
      out.push_back(std::move(check));
      continue;
    }
    const std::string branch = m.metadata.value("revision_ref", "");
    if (branch.empty()) {
      check.note = "pinned to a commit";
      out.push_back(std::move(check));
      continue;
    }
    Result<fetch::ModelRef> ref = fetch::ParseModelRef(m.id);
    if (!ref.ok()) {
      check.note = ref.status().message();
      out.push_back(std::move(check));
      continue;
    }
    fetch::PullOptions options;
    options.revision = branch;
    Result<fetch::PullPlan> plan = puller.Plan(*ref, options);
    if (!plan.ok()) {
      check.note = "cannot check: " + plan.status().message();
    } else {
      check.latest_revision = plan->revision;
      check.outdated = plan->revision != m.revision;
      check.download_bytes = plan->missing_bytes();
    }
    out.push_back(std::move(check));
  }
  if (!only.empty() && out.empty()) {
    return NotFoundError("model " + std::string(only) + " is not installed");
  }
  return out;
}

}  // namespace hangar::app
