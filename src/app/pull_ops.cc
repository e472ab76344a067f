// App: pulling models (and checking installed ones for updates).
#include <unistd.h>

#include <algorithm>
#include <system_error>

#include "app/app.h"
#include "core/log.h"
#include "core/strings.h"
#include "core/units.h"
#include "fetch/curl_http_client.h"
#include "fetch/remote_header.h"
#include "fit/model_facts.h"
#include "gguf/split.h"
#include "gguf/summary.h"
#include "hardware/disk.h"

namespace hangar::app {
namespace {

namespace fs = std::filesystem;

// The source a catalog entry is pulled from: its first Hugging Face file,
// else its Ollama tag, else its URL.
Result<fetch::ModelRef> SourceOf(const CatalogEntry& e) {
  for (SourceKind kind : {SourceKind::kHuggingFace, SourceKind::kOllama, SourceKind::kUrl}) {
    const ModelSource* s = e.FirstSource(kind);
    if (s == nullptr) continue;
    std::string text;
    switch (kind) {
      case SourceKind::kHuggingFace:
        text = "hf://" + s->repo + (s->file.empty() ? "" : "/" + s->file);
        break;
      case SourceKind::kOllama:
        text = "ollama://" + s->repo;
        break;
      case SourceKind::kUrl:
        text = s->repo;
        break;
    }
    return fetch::ParseModelRef(text);
  }
  return FailedPreconditionError("the catalog entry " + e.id + " names no source to pull it from");
}

}  // namespace

HttpClient& App::http() {
  if (!deps_.http) deps_.http = std::make_shared<CurlHttpClient>();
  return *deps_.http;
}

Result<App::ResolvedPull> App::ResolvePull(std::string_view text) {
  ResolvedPull out;
  ASSIGN_OR_RETURN(fetch::ModelRef ref, fetch::ParseModelRef(text));
  // A catalog id, or a name:tag the catalog knows as an alias ("gemma2:2b").
  const bool maybe_catalog =
      ref.kind == fetch::RefKind::kCatalog ||
      (ref.kind == fetch::RefKind::kOllama && !std::string_view(ref.text).starts_with("ollama://"));
  if (maybe_catalog) {
    ASSIGN_OR_RETURN(const ModelIndex* index, models());
    const CatalogEntry* e = index->catalog().FindById(ref.text);
    if (e != nullptr && e->builtin) {
      out.catalog = *e;
      ASSIGN_OR_RETURN(out.ref, SourceOf(*e));
      for (const ModelSource& s : e->sources) {
        if (s.kind == SourceKind::kHuggingFace && !s.sha256.empty() && s.split_count <= 1) {
          out.sha256 = s.sha256;
        }
      }
      return out;
    }
    if (ref.kind == fetch::RefKind::kCatalog) {
      Result<const CatalogEntry*> lookup = index->catalog().Lookup(ref.text);
      if (!lookup.ok()) return lookup.status();
      return FailedPreconditionError((*lookup)->id +
                                     " is not a catalog model with a source to pull");
    }
  }
  out.ref = std::move(ref);
  return out;
}

Result<App::Inspection> App::InspectRemote(std::string_view text) {
  ASSIGN_OR_RETURN(const Paths* p, paths());
  ASSIGN_OR_RETURN(ResolvedPull resolved, ResolvePull(text));
  fetch::Puller puller(http(), *deps_.env,
                       fetch::PullStores{p->hf_hub_cache, p->data_dir, p->ollama_models});
  fetch::PullOptions options;
  ASSIGN_OR_RETURN(fetch::PullPlan plan, puller.Plan(resolved.ref, options));
  Inspection out;
  if (plan.files.front().cached) {
    // On this machine after all (another tool's cache): read it here.
    ASSIGN_OR_RETURN(out.parts, gguf::ReadSplitModel(plan.files.front().destination));
  } else {
    ASSIGN_OR_RETURN(fetch::RemoteHeader header, puller.Header(plan));
    out.remote_url = header.final_url;
    out.remote_requests = header.requests;
    header.file.name = plan.files.front().name;
    out.parts.push_back(std::move(header.file));
  }
  out.summary = gguf::Summarize(out.parts);
  return out;
}

Result<fit::FitPlan> App::FitRemote(const fetch::RemoteHeader& header) {
  ASSIGN_OR_RETURN(const Config* c, config());
  ASSIGN_OR_RETURN(const HardwareInfo* hw, Hardware());
  ASSIGN_OR_RETURN(const Paths* p, paths());
  const gguf::ModelSummary summary = gguf::Summarize(header.file);
  ASSIGN_OR_RETURN(fit::ModelFacts facts, fit::FactsFromSummary(summary));
  fit::PlanOptions options;
  options.request.n_ctx =
      facts.n_ctx_train > 0 ? std::min<uint32_t>(4096, facts.n_ctx_train) : 4096;
  options.auto_gpu_layers = true;
  // llama.cpp's own answer: its no-alloc probe on a sparse file holding the
  // real header at the remote file's full size.
  const fs::path sparse =
      p->cache_dir / "probe" / ("remote-" + std::to_string(::getpid()) + ".gguf");
  if (fetch::WriteSparseCopy(header, sparse).ok()) options.probe_model = sparse;
  Result<fit::FitPlan> plan = fit::PlanFit(facts, options, *hw, c->limits());
  if (!plan.ok() && !options.probe_model.empty()) {
    // The estimator alone when the probe cannot take the sparse file.
    options.probe_model.clear();
    plan = fit::PlanFit(facts, options, *hw, c->limits());
  }
  std::error_code ec;
  fs::remove(sparse, ec);
  return plan;
}

Result<App::PullReport> App::Pull(const PullQuery& query, const PullCallbacks& callbacks) {
  ASSIGN_OR_RETURN(const Paths* p, paths());
  ASSIGN_OR_RETURN(const Config* c, config());
  const Clock& clock = deps_.clock != nullptr ? *deps_.clock : SystemClock::Default();
  auto say = [&](const std::string& line) {
    if (callbacks.status) callbacks.status(line);
  };
  // Partial downloads nobody resumed for a day go first.
  for (const store::PartialFile& stale :
       store::RemoveStalePartials(CacheRootsFor(*p), clock.NowUnixSeconds())) {
    Log(LogLevel::kInfo, "removed the stale partial download {}", stale.path.string());
  }
  ASSIGN_OR_RETURN(ResolvedPull resolved, ResolvePull(query.ref));
  fetch::PullOptions options = query.options;
  if (options.sha256.empty()) options.sha256 = resolved.sha256;
  if (options.download.max_bytes_per_second == 0 && options.download.rate_limiter == nullptr) {
    options.download.max_bytes_per_second = c->downloads().max_speed;
  }
  if (query.connections == 0) options.download.connections = c->downloads().connections;

  fetch::Puller puller(http(), *deps_.env,
                       fetch::PullStores{p->hf_hub_cache, p->data_dir, p->ollama_models});
  PullReport report;
  say("resolving " + resolved.ref.Canonical());
  ASSIGN_OR_RETURN(report.plan, puller.Plan(resolved.ref, options));
  fetch::PullPlan& plan = report.plan;

  // Know before you download: the remote header, then the fit.
  const bool gguf = plan.source == "ollama" || fetch::IsGgufModelFile(plan.files.front().name);
  if (!plan.files.front().cached && gguf && !query.skip_fit_check) {
    say("reading the GGUF header of " + plan.files.front().name);
    Result<fetch::RemoteHeader> header = puller.Header(plan);
    if (!header.ok()) {
      report.fit_note = "fit not checked: " + header.status().message();
    } else if (gguf::ParseSplitName(plan.files.front().name) &&
               gguf::ParseSplitName(plan.files.front().name)->count > 1) {
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
    const fs::path where = plan.source == "hf" ? p->hf_hub_cache : p->data_dir;
    Result<DiskInfo> disk = ProbeDisk(where);
    if (disk.ok() && disk->free < missing) {
      return ResourceExhaustedError("not enough disk space for " + plan.name + ": it needs " +
                                    FormatBytesDecimal(missing) + " at " + where.string() + ", " +
                                    FormatBytesDecimal(disk->free) +
                                    " are free; free space or run `hangar cache prune`");
    }
  }
  report.already_present = plan.all_cached();
  RETURN_IF_ERROR(puller.Fetch(plan, options, callbacks.progress));

  // Into the state database, facts from the (now local) header.
  store::InstalledModel m = puller.Record(plan, clock.NowUnixSeconds());
  m.catalog_id = resolved.catalog ? resolved.catalog->id : "";
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
  const bool is_gguf_file = gguf;
  if (is_gguf_file) {
    Result<nlohmann::json> meta = store::GgufMetadata(m.primary_path);
    if (meta.ok()) {
      for (auto& [k, v] : meta->items()) m.metadata[k] = v;
    }
  } else {
    const std::string primary = m.primary_path.filename().string();
    m.format = primary.ends_with(".safetensors") ? "safetensors"
               : primary.ends_with(".onnx")      ? "onnx"
                                                 : "other";
  }
  ASSIGN_OR_RETURN(const std::vector<store::InstalledModel>* installed, Installed());
  for (const store::InstalledModel& have : *installed) {
    if (have.id == m.id) {
      m.installed_at = have.installed_at;  // an update keeps its first install time
      report.replaced_revision = have.revision;
    }
  }
  if (m.catalog_id.empty() && is_gguf_file) {
    ASSIGN_OR_RETURN(std::string entry_id, UniqueEntryId(m));
    m.metadata["entry"] = ToJson(EntryFromGgufFile(m.primary_path, entry_id, m.name));
  }
  ASSIGN_OR_RETURN(store::StateDb * db, state());
  store::ModelDb models(*db);
  RETURN_IF_ERROR(models.Put(m));
  installed_.reset();
  models_.reset();
  report.model = std::move(m);
  return report;
}

Result<std::vector<App::UpdateCheck>> App::Outdated(std::string_view only) {
  ASSIGN_OR_RETURN(const Paths* p, paths());
  ASSIGN_OR_RETURN(const std::vector<store::InstalledModel>* installed, Installed());
  std::vector<store::InstalledModel> models = *installed;
  fetch::Puller puller(http(), *deps_.env,
                       fetch::PullStores{p->hf_hub_cache, p->data_dir, p->ollama_models});
  std::vector<UpdateCheck> out;
  for (const store::InstalledModel& m : models) {
    if (!only.empty() && !NamesInstalled(m, only)) continue;
    UpdateCheck check;
    check.id = m.id;
    check.name = m.name;
    check.installed_revision = m.revision;
    if (!m.managed || (m.source != "hf" && m.source != "ollama")) {
      check.note = m.managed ? "a plain URL has no revisions"
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
