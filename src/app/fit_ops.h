// FitOps: the use cases about memory and choice: how much a model needs here
// (fit), which models suit this machine (recommend), and the machine itself.
//
// Thread-safe: reads the shared snapshot and hardware report.
#ifndef HANGAR_APP_FIT_OPS_H_
#define HANGAR_APP_FIT_OPS_H_

#include <filesystem>
#include <mutex>
#include <optional>
#include <string>

#include "app/cluster_ops.h"
#include "app/core.h"
#include "app/model_ops.h"
#include "app/usage_ops.h"
#include "checkpoint/hf_checkpoint.h"
#include "core/status.h"
#include "fit/memory.h"
#include "fit/planner.h"
#include "fit/recommend.h"

namespace hangar::app {

struct FitQuery {
  std::string ref;             // any reference (resolver.h)
  fit::MemoryRequest request;  // n_ctx 0: 4096, capped by the model's context
  bool auto_gpu_layers = true;
  bool probe = true;  // confirm with llama.cpp's no-alloc probe when a file is local
};

// A Hugging Face checkpoint's needs here once converted, per quantization.
struct CheckpointFit {
  std::string quant;        // "F16", "Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M"
  uint64_t file_bytes = 0;  // the GGUF it would make (an estimate from its parameters)
  fit::FitPlan requested;
  fit::FitPlan largest;
};
struct CheckpointFitReport {
  std::string model;  // the folder's name
  std::string architecture;
  uint64_t parameters = 0;
  std::vector<CheckpointFit> quants;
};

struct FitReport {
  std::string model;           // catalog id or file name
  std::filesystem::path file;  // the local GGUF read; empty: catalog facts or a remote header
  fit::FitPlan requested;      // the settings asked for
  fit::FitPlan largest;        // the largest context that fits (same offload rule)
  // Set instead of the plans for a Hugging Face checkpoint read remotely.
  std::optional<CheckpointFitReport> checkpoint;
  // When the requested settings do not fit this machine and [cluster] names
  // workers: the model placed over this machine and the workers that are up
  // (or why it cannot be).
  std::optional<SplitPlan> split;
  std::string split_note;  // why there is no split plan (no worker up, ...)
};

struct RecommendQuery {
  fit::RecommendOptions options;
  fit::MachineDescription machine;  // describe another machine (--ram, --vram, ...)
};

class FitOps {
 public:
  FitOps(Core* core, ModelOps* models, UsageOps* usage, ClusterOps* cluster)
      : core_(core), models_(models), usage_(usage), cluster_(cluster) {}

  // What `query.ref` needs on this machine within the configured limits: a
  // local file from its header (and llama.cpp's probe), a catalog model from
  // its facts, a remote model from its header read by Range. NotFound for an
  // unknown model; errors of the GGUF reader, the sources and the estimator.
  Result<FitReport> Fit(const FitQuery& query);
  // The same for a Hugging Face checkpoint (a folder or .safetensors file),
  // from its config.json and safetensors headers, at each quantization it
  // could be converted to. InvalidArgument naming what is missing for an
  // architecture Hangar cannot convert or a config without the sizes.
  Result<CheckpointFitReport> FitCheckpoint(const std::filesystem::path& path,
                                            const fit::MemoryRequest& request);
  Result<CheckpointFitReport> FitCheckpoint(const checkpoint::HfCheckpoint& c,
                                            const std::string& name,
                                            const fit::MemoryRequest& request);

  // Ranks the catalog and installed models for this machine (or the one
  // described), counting the memory the workers that are up offer (as RAM:
  // layers on a worker run on its devices) unless a machine is described.
  // ResourceExhausted from the coding policy below 6 GB.
  Result<fit::Recommendation> Recommend(const RecommendQuery& query);

  // This machine (probed once per process).
  Result<const HardwareInfo*> Hardware() { return core_->hardware(); }

 private:
  // This CPU's main-memory bandwidth, measured (or read from the cache
  // file) once per process: concurrent first calls measure once.
  std::optional<double> HostBandwidth(const Snapshot& s, const CpuInfo& cpu);

  Core* core_;
  ModelOps* models_;
  UsageOps* usage_;
  ClusterOps* cluster_;
  std::mutex bandwidth_mu_;  // guards bandwidth_
  std::optional<double> bandwidth_;
};

}  // namespace hangar::app

#endif  // HANGAR_APP_FIT_OPS_H_
