#include "app/run_ops.h"

#include <fmt/format.h>

#include <algorithm>
#include <system_error>

#include "app/convert_ops.h"
#include "checkpoint/hf_checkpoint.h"
#include "config/value_rules.h"
#include "core/log.h"
#include "core/strings.h"
#include "gguf/parser.h"
#include "gguf/summary.h"

namespace hangar::app {
namespace {

// The Ollama name of a catalog entry ("qwen2.5-coder:7b"), if it has one.
std::string OllamaName(const CatalogEntry& e) {
  for (const ModelSource& s : e.sources) {
    if (s.kind == SourceKind::kOllama) return s.repo;
  }
  return "";
}

Status NotInstalled(std::string_view ref, std::string_view pull) {
  return NotFoundError(fmt::format(
      "model {} is not installed on this machine; run 'hangar pull {}' first", ref, pull));
}

// The loading values against config/value_rules.h.
Status CheckLoadFlags(const LoadFlags& lf) {
  if (lf.ctx) RETURN_IF_ERROR(CheckValue("ctx", *lf.ctx));
  if (lf.threads) RETURN_IF_ERROR(CheckValue("threads", *lf.threads));
  if (lf.n_batch) RETURN_IF_ERROR(CheckValue("batch", *lf.n_batch));
  if (lf.n_ubatch) RETURN_IF_ERROR(CheckValue("ubatch", *lf.n_ubatch));
  if (lf.n_gpu_layers) RETURN_IF_ERROR(CheckValue("gpu_layers", *lf.n_gpu_layers));
  return Status::Ok();
}

}  // namespace

// A session's statistics: a database connection of its own and the recorder
// writing through it (runtime/usage_store.h), owned by the session.
class RunOps::Recorder final : public runtime::SessionObserver {
 public:
  Recorder(store::StateDbPool::Lease db, const Clock* clock, std::string installed_id)
      : db_(std::move(db)), usage_(db_.get(), clock), recorder_(&usage_, "run", installed_id) {}
  void OnLoaded(const runtime::LoadedModel& model, int64_t idle_until) override {
    recorder_.OnLoaded(model, idle_until);
  }
  void OnUnloaded(const std::string& model) override { recorder_.OnUnloaded(model); }
  void OnRequest(const runtime::UsageRecord& record, int64_t idle_until) override {
    recorder_.OnRequest(record, idle_until);
  }

 private:
  store::StateDbPool::Lease db_;
  runtime::UsageStore usage_;
  runtime::UsageRecorder recorder_;
};

RunOps::RunOps(Core* core) : core_(core) {}
RunOps::~RunOps() = default;

Result<RunPlan> RunOps::PlanRun(const RunQuery& query) {
  ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> s, core_->snapshot());
  ASSIGN_OR_RETURN(const HardwareInfo* hw, core_->hardware_for_runs(*s));
  const Config& c = s->config;
  RunPlan plan;
  runtime::ModelSpec& spec = plan.spec;
  std::string ref = query.model;
  std::string backend = query.backend;
  if (ref.empty()) {
    ASSIGN_OR_RETURN(std::optional<runtime::CurrentModel> current, Current());
    if (current) {
      ref = current->model;
      if (backend.empty()) backend = current->backend;
    }
  }
  if (ref.empty() && c.default_model()) ref = *c.default_model();
  spec.backend = AsciiLower(!backend.empty() ? backend : c.runtime().backend);
  const bool local = spec.backend == runtime::kDefaultBackend;
  if (ref.empty()) {
    return InvalidArgumentError(
        "no model named: give one (hangar run MODEL), or set a default (hangar default MODEL)");
  }

  // Which model, and its file.
  std::optional<ModelView> view;
  if (local && query.allow_paths && checkpoint::LooksLikeCheckpoint(ref) && !ref.ends_with(".gguf")) {
    return FailedPreconditionError(CheckpointRunAdvice(*core_, ref));
  }
  Result<Resolution> resolved = Resolve(*s, ref, ResolveOptions{.allow_paths = query.allow_paths});
  if (local) {
    if (!resolved.ok()) return resolved.status();
    switch (resolved->kind) {
      case TargetKind::kLocalFile:
        spec.target.id = resolved->file.filename().string();
        spec.target.file = resolved->file;
        break;
      case TargetKind::kInstalled:
        view = resolved->view;
        if (resolved->record && resolved->record->format == "safetensors") {
          return FailedPreconditionError(CheckpointRunAdvice(*core_, resolved->record->id));
        }
        if (view && view->entry.format != ModelFormat::kGguf) {
          return InvalidArgumentError(
              fmt::format("model {} is {}, and llama.cpp runs GGUF files only", view->entry.id,
                          ModelFormatName(view->entry.format)));
        }
        spec.target.id = resolved->DisplayId();
        spec.target.file = resolved->file;
        break;
      case TargetKind::kCatalog:
        return NotInstalled(ref, resolved->DisplayId());
      case TargetKind::kRemote:
        return NotInstalled(ref, ref);
    }
    if (resolved->record) plan.installed_id = resolved->record->id;
  } else if (resolved.ok() && resolved->view) {
    // A model of the catalog, by the server's name for it.
    view = resolved->view;
    spec.target.id = view->entry.id;
    if (resolved->record) plan.installed_id = resolved->record->id;
    const std::string ollama = OllamaName(view->entry);
    spec.target.remote_name = spec.backend == "ollama" && !ollama.empty() ? ollama : view->entry.id;
  } else {
    spec.target.id = ref;  // the server's own name
    spec.target.remote_name = ref;
  }

  // Settings for this machine; the trained context from the header caps it.
  CatalogEntry facts;
  if (view) facts = view->entry;
  if (!spec.target.file.empty()) {
    if (Result<gguf::GgufFile> h = gguf::ReadHeader(spec.target.file, false); h.ok()) {
      const gguf::ModelSummary summary = gguf::Summarize(*h);
      if (summary.context_length) {
        const auto trained = static_cast<uint32_t>(*summary.context_length);
        facts.context_length =
            facts.context_length > 0 ? std::min<uint32_t>(facts.context_length, trained) : trained;
      }
    }
  }
  const LoadFlags& lf = query.load;
  RETURN_IF_ERROR(CheckLoadFlags(lf));
  fit::SettingsOverrides o;
  o.threads = lf.threads;
  o.context = lf.ctx;
  o.n_batch = lf.n_batch;
  o.n_ubatch = lf.n_ubatch;
  o.batch_size = 1;  // one conversation
  if (lf.kv_type) {
    o.type_k = fit::CacheType{*lf.kv_type};
    o.type_v = fit::CacheType{*lf.kv_type};
  }
  if (lf.flash_attn) {
    ASSIGN_OR_RETURN(fit::FlashAttention fa, fit::ParseFlashAttention(*lf.flash_attn));
    o.flash_attn = fa;
  }
  o.mmap = lf.mmap;
  o.mlock = lf.mlock;
  o.max_tokens = query.sampling.max_tokens;
  o.profile = query.profile;
  ASSIGN_OR_RETURN(plan.settings, fit::RecommendSettings(*hw, &facts, nullptr, o));
  const fit::RunSettings& st = plan.settings;

  runtime::LoadOptions& load = spec.load;
  load.n_ctx = st.context;
  load.threads = st.threads;
  load.n_batch = st.n_batch;
  load.n_ubatch = std::min(st.n_ubatch, st.n_batch);
  load.n_seq = 1;
  load.mmap = st.mmap;
  load.mlock = st.mlock;
  load.n_gpu_layers = lf.n_gpu_layers;  // unset: the backend asks the planner
  load.flash_attn = st.flash_attn;
  load.type_k = st.type_k;
  load.type_v = st.type_v;
  load.force = lf.force;
  load.warmup = !lf.no_warmup;

  // Sampling: the profile, then the flags.
  ASSIGN_OR_RETURN(const Profile profile, c.GetProfile(st.profile));
  plan.profile = profile.name;
  runtime::SamplingParams& sp = plan.request.sampling;
  sp = runtime::SamplingFromProfile(profile);
  const SamplingFlags& f = query.sampling;
  if (f.temperature) sp.temperature = *f.temperature;
  if (f.top_p) sp.top_p = *f.top_p;
  if (f.top_k) sp.top_k = *f.top_k;
  if (f.min_p) sp.min_p = *f.min_p;
  if (f.repeat_penalty) sp.repeat_penalty = *f.repeat_penalty;
  if (f.seed) sp.seed = *f.seed;
  plan.request.max_tokens = f.max_tokens.value_or(profile.max_tokens);
  if (plan.request.max_tokens < 1) {
    return InvalidArgumentError(
        fmt::format("max tokens must be at least 1, got {}", plan.request.max_tokens));
  }
  // Sampling values are checked with every request (runtime::CheckSampling,
  // the rules of config/value_rules.h), where a refusal counts as a failed use.
  return plan;
}

Result<std::unique_ptr<runtime::SessionManager>> RunOps::OpenSession(const RunPlan& plan) {
  ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> s, core_->snapshot());
  ASSIGN_OR_RETURN(const HardwareInfo* hw, core_->hardware_for_runs(*s));
  const Config& c = s->config;
  runtime::BackendContext context;
  if (plan.spec.backend != runtime::kDefaultBackend) context.http = &core_->http();
  context.env = core_->deps().env;
  context.clock = &core_->clock();
  context.hardware = hw;
  context.limits = c.limits();
  context.ollama_host = c.runtime().ollama_host;
  context.openai_base_url = c.runtime().openai_base_url;
  context.openai_api_key_env = c.runtime().openai_api_key_env;
  // Statistics and `hangar ps` registration; a run goes on without them when
  // the state database cannot be opened.
  std::unique_ptr<runtime::SessionObserver> recorder;
  if (Result<store::StateDbPool::Lease> db = core_->db(); db.ok()) {
    recorder = std::make_unique<Recorder>(std::move(*db), &core_->clock(), plan.installed_id);
  } else {
    Log(LogLevel::kWarning, "usage statistics are off: {}", db.status().message());
  }
  auto session = std::make_unique<runtime::SessionManager>(
      &core_->backends(), std::move(context), &core_->clock(), c.runtime().idle_ttl_seconds,
      std::move(recorder));
  RETURN_IF_ERROR(session->Use(plan.spec));
  return session;
}

Result<EmbedReport> RunOps::Embed(const EmbedQuery& query) {
  if (query.texts.empty()) return InvalidArgumentError("no text to embed; give some");
  ASSIGN_OR_RETURN(RunPlan plan, PlanRun(query.run));
  plan.spec.load.warmup = false;  // the embedding context is a different one
  ASSIGN_OR_RETURN(std::unique_ptr<runtime::SessionManager> session, OpenSession(plan));
  EmbedReport report;
  report.model = plan.spec.target.id;
  ASSIGN_OR_RETURN(report.embeddings, session->Embed(query.texts, query.options));
  return report;
}

Result<BenchReport> RunOps::Bench(const BenchQuery& query) {
  ASSIGN_OR_RETURN(RunPlan plan, PlanRun(query.run));
  // Room for the longer of the two tests.
  const auto need = static_cast<uint32_t>(std::max(query.request.n_prompt, query.request.n_gen));
  if (!query.run.load.ctx && plan.spec.load.n_ctx < need) plan.spec.load.n_ctx = need;
  ASSIGN_OR_RETURN(std::unique_ptr<runtime::SessionManager> session, OpenSession(plan));
  RETURN_IF_ERROR(session->Load());
  BenchReport report;
  report.model = *session->loaded();
  ASSIGN_OR_RETURN(report.result, session->Bench(query.request));
  // The model's measured speed, for recommendations and `hangar doctor`.
  runtime::SpeedBaseline b;
  b.model = report.model.target.id;
  b.backend = report.model.backend;
  b.prompt_tokens_per_second = report.result.prompt_tokens_per_second;
  b.gen_tokens_per_second = report.result.gen_tokens_per_second;
  b.load_ms = report.model.load_us / 1000.0;
  b.threads = report.model.threads;
  b.n_gpu_layers = report.model.n_gpu_layers;
  b.measured_at = core_->clock().NowUnixSeconds();
  ASSIGN_OR_RETURN(store::StateDbPool::Lease db, core_->db());
  runtime::UsageStore u(db.get(), &core_->clock());
  RETURN_IF_ERROR(u.SaveBaseline(b));
  return report;
}

std::string RunOps::StartBench(BenchQuery query) {
  const std::string title = query.run.model;
  return core_->jobs().Start("bench", title, [this, query = std::move(query)](JobContext& job) {
    job.Report("loading and measuring " + query.run.model);
    Result<BenchReport> r = Bench(query);
    if (!r.ok()) return r.status();
    job.SetResult(fmt::format("prompt {:.1f} tokens/s, generation {:.1f} tokens/s",
                              r->result.prompt_tokens_per_second, r->result.gen_tokens_per_second));
    return Status::Ok();
  });
}

namespace {

// Where a load's progress goes while its job runs; afterwards (a reload
// after an idle unload) nowhere.
struct ProgressSink {
  std::mutex mu;
  JobContext* job = nullptr;  // guarded by mu
};

}  // namespace

Result<RunOps::LoadJob> RunOps::StartLoad(RunPlan plan) {
  auto sink = std::make_shared<ProgressSink>();
  plan.spec.load.progress = [sink](float fraction) {
    std::lock_guard<std::mutex> lock(sink->mu);
    if (sink->job == nullptr) return true;
    sink->job->Report("loading", static_cast<uint64_t>(fraction * 1000), 1000);
    return !sink->job->cancelled();
  };
  ASSIGN_OR_RETURN(std::unique_ptr<runtime::SessionManager> opened, OpenSession(plan));
  LoadJob out;
  out.session = std::move(opened);
  out.id = core_->jobs().Start(
      "load", plan.spec.target.id,
      [sink, session = out.session, name = plan.spec.target.id](JobContext& job) {
        {
          std::lock_guard<std::mutex> lock(sink->mu);
          sink->job = &job;
        }
        Status st =
            job.cancelled() ? CancelledError("load of " + name + " cancelled") : session->Load();
        {
          std::lock_guard<std::mutex> lock(sink->mu);
          sink->job = nullptr;
        }
        if (st.ok()) job.SetResult("loaded " + name);
        return st;
      });
  return out;
}

Result<runtime::CurrentModel> RunOps::Use(std::string_view ref, std::string_view backend) {
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
  current.since = core_->clock().NowUnixSeconds();
  ASSIGN_OR_RETURN(store::StateDbPool::Lease db, core_->db());
  runtime::UsageStore u(db.get(), &core_->clock());
  RETURN_IF_ERROR(u.SetCurrent(current));
  return current;
}

Result<std::optional<runtime::CurrentModel>> RunOps::Current() {
  ASSIGN_OR_RETURN(bool has_db, core_->HasDb());
  if (!has_db) return std::optional<runtime::CurrentModel>();
  ASSIGN_OR_RETURN(store::StateDbPool::Lease db, core_->db());
  runtime::UsageStore u(db.get(), &core_->clock());
  return u.Current();
}

}  // namespace hangar::app
