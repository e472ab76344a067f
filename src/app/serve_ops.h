// ServeOps: the use cases of `hangar serve` that are not HTTP: which file and
// settings a model name served means (the same planner `hangar run` uses),
// the scheduler's budget and where its runners live, and the records a
// served request leaves (usage statistics, `hangar ps`).
//
// Thread-safe: reads the shared snapshot; records on per-thread database
// connections.
#ifndef HANGAR_APP_SERVE_OPS_H_
#define HANGAR_APP_SERVE_OPS_H_

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "app/cluster_ops.h"
#include "app/core.h"
#include "app/run_ops.h"
#include "config/model_preset.h"
#include "core/status.h"
#include "gguf/summary.h"
#include "runtime/scheduler.h"
#include "runtime/session.h"

namespace hangar::app {

struct ServeQuery {
  std::string model;            // a name a client sent: installed id, name, catalog id, alias
  std::optional<int> parallel;  // slots; unset: [server] parallel, else the fit planner's
  std::optional<uint32_t> ctx;  // tokens per slot; unset: the planner's context
  bool embeddings = false;      // a runner for embeddings (pooled), not generation
};

struct ServePlan {
  std::string name;     // the model's id: one runner per name (embeddings: "<id> (embeddings)")
  std::string display;  // the id clients see
  runtime::ModelLoad load;
  RunPlan run;  // the profile's sampling defaults, the installed id
  gguf::ModelSummary summary;
  bool embedding_model = false;  // the file is an embedding model (it has a pooling type)
  bool has_projector = false;    // images can be given (an mmproj file beside it)
  // The model preset of that name, when it is one: its system prompt and
  // sampling defaults apply to requests (its chat template to the runner).
  std::optional<ModelPreset> preset;
  // A model too large for this machine alone, placed over it and workers.
  std::optional<SplitPlan> split;
};

struct ServeSettings {
  int parallel = 0;  // 0: the planner's
  int max_queue = 512;
  std::chrono::milliseconds keep_alive{std::chrono::minutes(5)};
  std::chrono::milliseconds load_timeout{std::chrono::minutes(5)};
  uint64_t max_memory = 0;  // RAM all loaded models may take together; 0: [limits]
};

class ServeOps {
 public:
  ServeOps(Core* core, RunOps* runs, ClusterOps* cluster)
      : core_(core), runs_(runs), cluster_(cluster) {}

  // The runner a request for `query.model` needs. NotFound for an unknown
  // name or a model not installed (naming the `hangar pull`), local paths
  // included (remote callers cannot name files); InvalidArgument for a
  // model that is not GGUF or a bad value. A model that does not fit this
  // machine is split over the workers that are up when [cluster] names
  // any (ResourceExhausted when it fits neither, with need vs available).
  Result<ServePlan> Plan(const ServeQuery& query, const ServeSettings& settings);

  // The file llama-server reads a preset's chat template from.
  Result<std::filesystem::path> TemplateFile(std::string_view text);

  // The llama-server binary: $HANGAR_LLAMA_SERVER, else llama-server beside
  // the running program, else the one scripts/build-llama built.
  // FailedPrecondition when none exists.
  Result<std::filesystem::path> LlamaServer() const;
  // The scheduler's options for this machine: the memory budgets of
  // [limits] (RAM, each GPU), `binary`, and folders for sockets and logs
  // (created; the sockets' one readable by this user only).
  Result<runtime::SchedulerOptions> SchedulerOptionsFor(const ServeSettings& settings);

  // A served request's figures, into the usage statistics `hangar stats`,
  // `doctor` and `recommend` read. Errors of the state database.
  Status Record(const runtime::UsageRecord& record, const std::string& installed_id);
  // `hangar ps`: a runner's process while it holds a model (and its end).
  Status RegisterRunner(const runtime::LoadedRunner& model, const std::string& display);
  Status UnregisterRunner(int64_t pid, const std::string& display);

 private:
  Core* core_;
  RunOps* runs_;
  ClusterOps* cluster_;
};

}  // namespace hangar::app

#endif  // HANGAR_APP_SERVE_OPS_H_
