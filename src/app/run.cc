// The App's use cases that run models: run, embed, bench.
#include <fmt/format.h>

#include <algorithm>
#include <system_error>

#include "app/app.h"
#include "core/log.h"
#include "core/strings.h"
#include "fit/settings.h"
#include "gguf/parser.h"
#include "gguf/summary.h"

namespace hangar::app {
namespace {

// "file:///x.gguf" and "/x.gguf" name a file; anything else may be a model id.
std::filesystem::path AsPath(std::string_view ref) {
  if (ref.starts_with("file://")) ref.remove_prefix(7);
  return std::filesystem::path(ref);
}

// The Ollama name of a catalog entry ("qwen2.5-coder:7b"), if it has one.
std::string OllamaName(const CatalogEntry& e) {
  for (const ModelSource& s : e.sources) {
    if (s.kind == SourceKind::kOllama) return s.repo;
  }
  return "";
}

}  // namespace

Result<App::RunPlan> App::PlanRun(const RunQuery& query) {
  ASSIGN_OR_RETURN(const Config* c, config());
  ASSIGN_OR_RETURN(const HardwareInfo* hw, Hardware());
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
  if (ref.empty() && c->default_model()) ref = *c->default_model();
  spec.backend = AsciiLower(!backend.empty() ? backend : c->runtime().backend);
  const bool local = spec.backend == "llama";

  if (ref.empty()) {
    return InvalidArgumentError(
        "no model named: give one (hangar run MODEL), or set a default (hangar default MODEL)");
  }

  // Which model, and its file.
  const CatalogEntry* entry = nullptr;
  std::optional<ModelView> view;
  std::error_code ec;
  const std::filesystem::path path = AsPath(ref);
  if (local && std::filesystem::is_regular_file(path, ec)) {
    spec.target.id = path.filename().string();
    spec.target.file = path;
  } else {
    Result<ModelView> v = Info(ref);
    if (!v.ok()) {
      if (!local) {
        spec.target.id = ref;  // the server's own name
        spec.target.remote_name = ref;
      } else if (ref.find('/') != std::string::npos || ref.ends_with(".gguf")) {
        return NotFoundError(fmt::format("{} does not exist; check the path", ref));
      } else {
        return v.status();
      }
    } else {
      view = std::move(*v);
      entry = &view->entry;
      spec.target.id = view->entry.id;
      if (view->record) plan.installed_id = view->record->id;
      if (local) {
        if (!view->installed || view->weights.empty()) {
          return NotFoundError(
              fmt::format("model {} is not installed on this machine; run 'hangar pull {}' first",
                          ref, view->entry.id));
        }
        if (view->entry.format != ModelFormat::kGguf) {
          return InvalidArgumentError(
              fmt::format("model {} is {}, and llama.cpp runs GGUF files only", view->entry.id,
                          ModelFormatName(view->entry.format)));
        }
        spec.target.file = view->weights;
      } else {
        const std::string ollama = OllamaName(view->entry);
        spec.target.remote_name =
            spec.backend == "ollama" && !ollama.empty() ? ollama : view->entry.id;
      }
    }
  }

  // Settings for this machine; the trained context from the header caps it.
  CatalogEntry facts;
  if (entry != nullptr) facts = *entry;
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
  ASSIGN_OR_RETURN(const Profile profile, c->GetProfile(st.profile));
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
  return plan;
}

Result<std::unique_ptr<runtime::SessionManager>> App::OpenSession(const RunPlan& plan) {
  ASSIGN_OR_RETURN(const Config* c, config());
  ASSIGN_OR_RETURN(const HardwareInfo* hw, Hardware());
  runtime::BackendContext context;
  if (plan.spec.backend != runtime::kDefaultBackend) {
    context.http = &http();
  }
  context.env = deps_.env;
  context.clock = deps_.clock;
  context.hardware = hw;
  context.limits = c->limits();
  context.ollama_host = c->runtime().ollama_host;
  context.openai_base_url = c->runtime().openai_base_url;
  context.openai_api_key_env = c->runtime().openai_api_key_env;
  // Statistics and `hangar ps` registration; a run goes on without them when
  // the state database cannot be opened.
  runtime::SessionObserver* observer = nullptr;
  if (Result<runtime::UsageStore*> u = usage(); u.ok()) {
    recorders_.push_back(std::make_unique<runtime::UsageRecorder>(*u, "run", plan.installed_id));
    observer = recorders_.back().get();
  } else {
    Log(LogLevel::kWarning, "usage statistics are off: {}", u.status().message());
  }
  auto session = std::make_unique<runtime::SessionManager>(&runtime::DefaultRegistry(),
                                                           std::move(context), deps_.clock,
                                                           c->runtime().idle_ttl_seconds, observer);
  RETURN_IF_ERROR(session->Use(plan.spec));
  return session;
}

Result<App::EmbedReport> App::Embed(const EmbedQuery& query) {
  if (query.texts.empty()) return InvalidArgumentError("no text to embed; give some");
  ASSIGN_OR_RETURN(RunPlan plan, PlanRun(query.run));
  plan.spec.load.warmup = false;  // the embedding context is a different one
  ASSIGN_OR_RETURN(std::unique_ptr<runtime::SessionManager> session, OpenSession(plan));
  EmbedReport report;
  report.model = plan.spec.target.id;
  ASSIGN_OR_RETURN(report.embeddings, session->Embed(query.texts, query.options));
  return report;
}

Result<App::BenchReport> App::Bench(const BenchQuery& query) {
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
  b.measured_at = deps_.clock->NowUnixSeconds();
  ASSIGN_OR_RETURN(runtime::UsageStore * u, usage());
  RETURN_IF_ERROR(u->SaveBaseline(b));
  return report;
}

}  // namespace hangar::app
