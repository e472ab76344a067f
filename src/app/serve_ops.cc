#include "app/serve_ops.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/file_util.h"
#include "core/sha256.h"
#include "fit/estimator.h"
#include "fit/model_facts.h"
#include "fit/planner.h"
#include "fit/settings.h"
#include "gguf/split.h"
#include "hardware/process.h"
#include "runtime/usage_store.h"

namespace hangar::app {
namespace {

std::string CacheTypeName(const fit::CacheType& t) { return t.name.empty() ? "f16" : t.name; }

std::string FlashAttnName(fit::FlashAttention fa) {
  switch (fa) {
    case fit::FlashAttention::kOn:
      return "on";
    case fit::FlashAttention::kOff:
      return "off";
    default:
      return "auto";
  }
}

// An mmproj file beside the model (`mmproj*.gguf` in the same folder).
std::optional<std::filesystem::path> ProjectorBeside(const std::filesystem::path& model) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(model.parent_path(), ec)) {
    const std::string n = e.path().filename().string();
    if (n.rfind("mmproj", 0) == 0 && e.path().extension() == ".gguf") return e.path();
  }
  return std::nullopt;
}

}  // namespace

Result<ServePlan> ServeOps::Plan(const ServeQuery& query, const ServeSettings& settings) {
  RunQuery rq;
  rq.model = query.model;
  rq.backend = std::string(runtime::kDefaultBackend);
  rq.allow_paths = false;
  if (query.ctx) rq.load.ctx = *query.ctx;
  if (query.model.empty()) return InvalidArgumentError("no model named: give \"model\"");
  ASSIGN_OR_RETURN(RunPlan run, runs_->PlanRun(rq));
  ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> s, core_->snapshot());
  ASSIGN_OR_RETURN(const HardwareInfo* hw, core_->hardware_for_runs(*s));

  ServePlan plan;
  plan.display = run.spec.target.id;
  ASSIGN_OR_RETURN(std::vector<gguf::GgufFile> parts, gguf::ReadSplitModel(run.spec.target.file));
  plan.summary = gguf::Summarize(parts);
  plan.embedding_model = parts.front().Find(plan.summary.architecture + ".pooling_type") != nullptr;
  auto projector = ProjectorBeside(run.spec.target.file);
  plan.has_projector = projector.has_value();
  ASSIGN_OR_RETURN(const fit::ModelFacts facts, fit::FactsFromSummary(plan.summary));

  const fit::RunSettings& st = run.settings;
  int parallel = query.parallel.value_or(settings.parallel > 0 ? settings.parallel : st.batch_size);
  if (query.embeddings) parallel = 1;
  if (parallel < 1 || parallel > 256) {
    return InvalidArgumentError(fmt::format("parallel must be 1 to 256, got {}", parallel));
  }

  runtime::RunnerConfig& rc = plan.load.runner;
  rc.model = run.spec.target.file;
  if (!query.embeddings) rc.mmproj = projector;
  rc.ctx_per_slot = st.context;
  rc.parallel = parallel;
  rc.threads = st.threads;
  // llama-server checks for cancelled requests between batches: a batch of
  // one micro-batch bounds how long a prompt whose client left keeps its slot
  // (and how long it holds up the other slots' tokens).
  rc.n_ubatch = std::min(st.n_ubatch, st.n_batch);
  rc.n_batch = rc.n_ubatch;
  rc.flash_attn = FlashAttnName(st.flash_attn);
  rc.type_k = CacheTypeName(st.type_k);
  rc.type_v = CacheTypeName(st.type_v);
  rc.mmap = st.mmap;
  rc.embedding = query.embeddings;
  // A generative model's embeddings: the mean of its last hidden states.
  if (query.embeddings && !plan.embedding_model) rc.pooling = "mean";

  // Memory for every slot's context, with the GPU layers the planner picks.
  fit::MemoryRequest request = st.ToMemoryRequest();
  request.n_ctx = st.context * static_cast<uint32_t>(parallel);
  request.n_seq = static_cast<uint32_t>(parallel);
  fit::PlanOptions po;
  po.request = request;
  po.auto_gpu_layers = true;
  ASSIGN_OR_RETURN(fit::FitPlan fp, fit::PlanFit(facts, po, *hw, s->config.limits()));
  size_t remote_devices = 0;
  if (!fp.fits && !s->config.cluster().workers.empty()) {
    Result<SplitPlan> split = cluster_->PlanSplit(facts, po, *hw, s->config.limits());
    if (!split.ok()) {
      return ResourceExhaustedError(fmt::format("{} does not fit this machine ({}), and {}",
                                                plan.display, fp.reason, split.status().message()));
    }
    if (!split->fit.fits) {
      return ResourceExhaustedError(fmt::format("{} does not fit this machine and its workers: {}",
                                                plan.display, split->fit.reason));
    }
    fp = split->fit;
    for (const runtime::WorkerStatus& w : split->workers) {
      rc.rpc_servers.push_back(w.endpoint);
      remote_devices += w.devices.size();
    }
    rc.tensor_split = fp.split;
    plan.load.remote = split->shares;
    plan.split = std::move(*split);
  }
  rc.n_gpu_layers = hw->gpus.empty() && remote_devices == 0 ? 0 : fp.request.n_gpu_layers;
  // The ledger's devices: RAM, then each local GPU (workers are counted by
  // load.remote).
  plan.load.memory.push_back(fp.memory.HostTotal());
  for (size_t i = 1 + remote_devices; i < fp.memory.devices.size(); ++i) {
    plan.load.memory.push_back(fp.memory.devices[i].Total());
  }
  plan.name = query.embeddings ? plan.display + " (embeddings)" : plan.display;
  plan.load.name = plan.name;
  rc.alias = plan.display;
  if (const ModelPreset* preset = s->config.FindPreset(plan.display)) {
    plan.preset = *preset;
    if (preset->chat_template && !query.embeddings) {
      ASSIGN_OR_RETURN(rc.chat_template_file, TemplateFile(*preset->chat_template));
    }
  }
  plan.run = std::move(run);
  return plan;
}

// A chat template as a file for llama-server: <data>/templates/<sha256>.jinja,
// written once.
Result<std::filesystem::path> ServeOps::TemplateFile(std::string_view text) {
  ASSIGN_OR_RETURN(const Paths* p, core_->paths());
  Sha256 hash;
  hash.Update(text);
  const std::filesystem::path file = p->data_dir / "templates" / (hash.FinishHex() + ".jinja");
  std::error_code ec;
  if (std::filesystem::exists(file, ec)) return file;
  std::filesystem::create_directories(file.parent_path(), ec);
  RETURN_IF_ERROR(WriteFileAtomic(file, text));
  return file;
}

Result<std::filesystem::path> ServeOps::LlamaServer() const {
#ifdef HANGAR_LLAMA_SERVER_BUILT
  const char* built = HANGAR_LLAMA_SERVER_BUILT;
#else
  const char* built = nullptr;
#endif
  return FindLlamaTool(core_->env(), "HANGAR_LLAMA_SERVER", "llama-server", built);
}

Result<runtime::SchedulerOptions> ServeOps::SchedulerOptionsFor(const ServeSettings& settings) {
  ASSIGN_OR_RETURN(const Paths* paths, core_->paths());
  ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> s, core_->snapshot());
  ASSIGN_OR_RETURN(const HardwareInfo* hw, core_->hardware_for_runs(*s));
  ASSIGN_OR_RETURN(std::filesystem::path binary, LlamaServer());
  runtime::SchedulerOptions o;
  o.binary = binary;
  const fit::Budgets budgets = fit::ComputeBudgets(*hw, s->config.limits());
  o.budgets.push_back(settings.max_memory > 0 ? settings.max_memory : budgets.ram);
  for (uint64_t g : budgets.gpus) o.budgets.push_back(g);
  o.max_queue = settings.max_queue;
  o.default_keep_alive = settings.keep_alive;
  o.load_timeout = settings.load_timeout;

  // Sockets: a folder of this process's own, readable by this user only,
  // short enough for a Unix socket's path.
  std::string base = "/tmp";
  if (auto xdg = core_->env().Get("XDG_RUNTIME_DIR"); xdg && !xdg->empty() && xdg->size() < 60) {
    base = *xdg;
  }
  std::string tmpl = base + "/hangar-serve-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return UnavailableError(
        fmt::format("cannot create a folder in {} for the runners' sockets", base));
  }
  ::chmod(tmpl.c_str(), 0700);
  o.run_dir = tmpl;
  o.log_dir = paths->data_dir / "logs";
  std::error_code ec;
  std::filesystem::create_directories(o.log_dir, ec);
  if (ec) {
    return UnavailableError(fmt::format("cannot create {}: {}", o.log_dir.string(), ec.message()));
  }
  return o;
}

Status ServeOps::Record(const runtime::UsageRecord& record, const std::string& installed_id) {
  ASSIGN_OR_RETURN(store::StateDbPool::Lease db, core_->db());
  runtime::UsageStore usage(db.get(), &core_->clock());
  RETURN_IF_ERROR(usage.Record(record));
  if (!installed_id.empty()) {
    RETURN_IF_ERROR(usage.TouchInstalled(installed_id, record.at_unix));
  }
  return Status::Ok();
}

Status ServeOps::RegisterRunner(const runtime::LoadedRunner& model, const std::string& display) {
  ASSIGN_OR_RETURN(store::StateDbPool::Lease db, core_->db());
  runtime::UsageStore usage(db.get(), &core_->clock());
  runtime::ProcessEntry e;
  e.pid = model.pid;
  e.start_ticks = ProcessStartTicks(core_->deps().hardware_root, model.pid).value_or(0);
  e.model = display;
  e.backend = "llama-server";
  e.command = "serve";
  e.host_bytes = model.memory.empty() ? 0 : model.memory[0];
  for (size_t i = 1; i < model.memory.size(); ++i) e.gpu_bytes += model.memory[i];
  e.n_ctx = model.context_per_slot * static_cast<uint32_t>(model.parallel);
  e.loaded_at = core_->clock().NowUnixSeconds();
  e.last_used = e.loaded_at;
  return usage.RegisterProcess(e);
}

Status ServeOps::UnregisterRunner(int64_t pid, const std::string& display) {
  ASSIGN_OR_RETURN(store::StateDbPool::Lease db, core_->db());
  runtime::UsageStore usage(db.get(), &core_->clock());
  return usage.RemoveProcess(pid, display);
}

}  // namespace hangar::app
