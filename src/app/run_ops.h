// RunOps: the use cases that run models: planning a run (which model, which
// backend, which settings for this machine), sessions, embeddings, the
// benchmark, and the current model (`hangar use`).
//
// Thread-safe: plans read the shared snapshot; each session records its
// statistics on a state-database connection of its own, which it gives back
// when destroyed. A session returned by OpenSession must be destroyed before
// the App.
#ifndef HANGAR_APP_RUN_OPS_H_
#define HANGAR_APP_RUN_OPS_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "app/core.h"
#include "core/status.h"
#include "fit/settings.h"
#include "runtime/backend.h"
#include "runtime/session.h"
#include "runtime/usage_store.h"

namespace hangar::app {

// Sampling values set on the command line; each one set wins over the profile.
struct SamplingFlags {
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<int> top_k;
  std::optional<double> min_p;
  std::optional<double> repeat_penalty;
  std::optional<uint32_t> seed;
  std::optional<int> max_tokens;
};

// Loading values set on the command line; unset ones come from the fit
// module's settings for this machine (fit/settings.h).
struct LoadFlags {
  std::optional<uint32_t> ctx;
  std::optional<int> threads;
  std::optional<int32_t> n_gpu_layers;  // unset: auto (the fit planner)
  std::optional<uint32_t> n_batch;
  std::optional<uint32_t> n_ubatch;
  std::optional<std::string> flash_attn;  // on, off, auto
  std::optional<std::string> kv_type;     // f16, q8_0, ...
  std::optional<bool> mmap;
  std::optional<bool> mlock;
  bool force = false;  // past the memory guard
  bool no_warmup = false;
};

struct RunQuery {
  // Any reference (resolver.h) of a model on this machine, or, for the
  // ollama/openai backends, the server's model name. Empty: the current
  // model (hangar use, with its backend unless one is given), else the
  // default model.
  std::string model;
  std::string backend;                 // empty: [runtime] backend, else llama
  std::optional<std::string> profile;  // empty: the profile recommended for this machine
  SamplingFlags sampling;
  LoadFlags load;
  bool allow_paths = true;  // false: a local path is refused (remote callers)
};

struct RunPlan {
  runtime::ModelSpec spec;
  runtime::GenerateRequest request;  // sampling and max_tokens; no prompt
  std::string profile;               // the profile the sampling came from
  std::string installed_id;          // the state database's id, for an installed model
  fit::RunSettings settings;         // the settings for this machine, with reasons
};

struct EmbedQuery {
  RunQuery run;
  std::vector<std::string> texts;
  runtime::EmbedOptions options;
};
struct EmbedReport {
  std::string model;
  runtime::Embeddings embeddings;
};

struct BenchQuery {
  RunQuery run;
  runtime::BenchRequest request;
};
struct BenchReport {
  runtime::LoadedModel model;
  runtime::BenchResult result;
};

class RunOps {
 public:
  explicit RunOps(Core* core);
  ~RunOps();

  // What `query` runs and how. NotFound for an unknown model or one that is
  // not installed (naming the `hangar pull` to run), or an unknown profile or
  // backend; InvalidArgument for a bad flag value or no model named anywhere.
  Result<RunPlan> PlanRun(const RunQuery& query);
  // A session on `plan`'s model (not loaded yet: the first request loads it),
  // idle unload after [runtime] idle_ttl, statistics recorded.
  Result<std::unique_ptr<runtime::SessionManager>> OpenSession(const RunPlan& plan);

  Result<EmbedReport> Embed(const EmbedQuery& query);
  // Loads the model, measures it as llama-bench does and records the speeds
  // as the model's measured speed (used by Recommend).
  Result<BenchReport> Bench(const BenchQuery& query);
  // Bench() as a job of kind "bench"; returns its id at once.
  std::string StartBench(BenchQuery query);
  // Opens a session on `plan` and loads its model as a job of kind "load"
  // (events: the load's progress; Cancel stops the load). The session is
  // usable once the job succeeded.
  struct LoadJob {
    std::string id;
    std::shared_ptr<runtime::SessionManager> session;
  };
  Result<LoadJob> StartLoad(RunPlan plan);

  // Makes `ref` the current model, persisted with the time: `hangar run`
  // without a model and new sessions start with it. NotFound naming the
  // `hangar pull` to run for a model that is not installed (llama backend).
  Result<runtime::CurrentModel> Use(std::string_view ref, std::string_view backend);
  // The current model, if one was chosen.
  Result<std::optional<runtime::CurrentModel>> Current();

 private:
  class Recorder;
  Core* core_;
};

}  // namespace hangar::app

#endif  // HANGAR_APP_RUN_OPS_H_
