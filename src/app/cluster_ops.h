// ClusterOps: the machines beyond this one. `hangar cluster` (the workers of
// [cluster] workers and what each offers), and the split plans `hangar fit`
// and `hangar serve` make for a model too large for this machine alone: the
// fewest layers go to the workers (every layer there crosses the network on
// each token), spread over them in proportion to what each offers, as
// llama.cpp's --tensor-split does (fit/planner.h).
//
// Thread-safe: one Cluster per worker list, probed from any thread.
#ifndef HANGAR_APP_CLUSTER_OPS_H_
#define HANGAR_APP_CLUSTER_OPS_H_

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "app/core.h"
#include "core/status.h"
#include "fit/planner.h"
#include "runtime/cluster.h"
#include "runtime/scheduler.h"

namespace hangar::app {

// A model placed over this machine and workers.
struct SplitPlan {
  fit::FitPlan fit;  // devices: this machine's RAM, then each worker device, then local GPUs
  std::vector<runtime::WorkerStatus> workers;  // the workers used, in --rpc order
  // Per worker (same order): the bytes it would hold.
  std::vector<runtime::RemoteShare> shares;
  // Bytes of weights sent over the network at each load (the workers' layers).
  uint64_t weights_sent = 0;
  // The workers left out and why ("10.0.0.3:50052: down (connection refused)").
  std::vector<std::string> left_out;
};

class ClusterOps {
 public:
  explicit ClusterOps(Core* core) : core_(core) {}

  // The workers of [cluster] workers; nullptr when there are none.
  Result<std::shared_ptr<runtime::Cluster>> cluster();
  // Every worker asked now (at once, each within its timeout).
  Result<std::vector<runtime::WorkerStatus>> Status();

  // `plan`, which does not fit this machine, placed over this machine and
  // the workers that are up (probed now). The plan's options and hardware as
  // given to PlanFit (the probe is not used). A split that does not fit
  // either is a plan with fit.fits false and the reason (need vs what this
  // machine and each worker offers); FailedPrecondition when no worker is
  // configured or none is up (saying which and why).
  Result<SplitPlan> PlanSplit(const fit::ModelFacts& facts, fit::PlanOptions options,
                              const HardwareInfo& hw, const Limits& limits);

  // llama.cpp's rpc-server: $HANGAR_RPC_SERVER, else rpc-server beside the
  // running program, else the one scripts/build-llama built.
  // FailedPrecondition when none exists.
  Result<std::filesystem::path> RpcServer() const;

 private:
  Core* core_;
  std::mutex mu_;  // guards cluster_
  std::shared_ptr<runtime::Cluster> cluster_;
};

// {"fit": fit::ToJson, "workers": [WorkerStatus JSON], "shares": [{"worker",
// "bytes", "weights", "capacity"}], "weights_sent": n, "left_out": ["..."]}
nlohmann::json ToJson(const SplitPlan& plan);

}  // namespace hangar::app

#endif  // HANGAR_APP_CLUSTER_OPS_H_
