// Fit planning: whether a model fits this machine within the configured
// limits, with how many layers on the GPUs and how much context.
//
// Budgets (the same as the recommender's): RAM = max_ram_usage of the usable
// RAM (the cgroup limit when there is one) minus os_reserve; each GPU =
// gpu_memory_usage of its total memory. A GPU with unified memory (Apple)
// also counts against the RAM budget.
//
// Planning uses the estimator (microseconds per try): with auto layers, every
// layer goes to the GPUs when that fits, else the most layers that fit (a
// binary search over n_gpu_layers: GPU memory grows with it); with
// max_context, the largest context (a multiple of 256, up to the model's
// trained context) for which some layer split fits (a binary search: memory
// grows with the context). When a local GGUF file is named, the answer is
// confirmed with the exact probe (fit/probe.h); if the probe disagrees, the
// estimator's error per device is added as a correction and the search runs
// again (at most kProbeRounds probes).
//
// PlanFit is thread-safe as far as the probe is (see fit/probe.h); without a
// probe file it is a pure function of its arguments.
#ifndef HANGAR_FIT_PLANNER_H_
#define HANGAR_FIT_PLANNER_H_

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/limits.h"
#include "core/status.h"
#include "fit/memory.h"
#include "fit/model_facts.h"
#include "hardware/hardware.h"

namespace hangar::fit {

inline constexpr int kProbeRounds = 3;
inline constexpr uint32_t kContextStep = 256;

struct Budgets {
  uint64_t ram = 0;            // bytes models may take in RAM
  std::vector<uint64_t> gpus;  // bytes models may take on each GPU, in hardware order
  // How the RAM budget came about: "80% of 7.6 GB less 2 GB reserved".
  std::string ram_explanation;
};

// The budgets of `hw` under `limits`. Never fails (zero when nothing is known).
Budgets ComputeBudgets(const HardwareInfo& hw, const Limits& limits);

// A device of another machine (a `hangar worker`) layers may be placed on.
struct RemoteDevice {
  std::string name;     // "RPC0[10.0.0.2:50052]", as llama-server names it
  uint64_t budget = 0;  // bytes the worker offers
};

struct PlanOptions {
  // The settings to plan. n_ctx 0 means the model's trained context.
  // n_gpu_layers is used as given unless auto_gpu_layers.
  MemoryRequest request;
  bool auto_gpu_layers = true;
  // Search the largest context that fits instead of checking request.n_ctx.
  bool max_context = false;
  // A local GGUF file of the model: confirm the answer with the probe.
  std::filesystem::path probe_model;
  // Workers' devices, in llama-server's device order (before the local GPUs).
  // With any, auto layers offload the fewest layers with which everything
  // fits (this machine's RAM the rest; the offloaded ones cross the network
  // on every token), split over the workers and GPUs in proportion to their
  // budgets, as llama.cpp's --tensor-split does; the probe is not used (it
  // sees no worker).
  std::vector<RemoteDevice> remote;
};

struct FitPlan {
  bool fits = false;
  MemoryRequest request;   // the settings chosen: n_gpu_layers and n_ctx resolved
  MemoryBreakdown memory;  // what they need (the probe's figures when probed)
  Budgets budgets;         // gpus: the remote devices' first
  // The share of each offload device (remote first, then GPUs) llama.cpp
  // splits layers by: its --tensor-split.
  std::vector<double> split;
  // Why it does not fit ("needs 9.8 GB of RAM, 6.1 GB usable within limits
  // (80% of 7.6 GB less 2 GB reserved)"), or what it takes when it does.
  std::string reason;
  bool probed = false;     // memory comes from the probe
  std::string probe_note;  // why a requested probe could not confirm the plan
};

// Plans `facts` on `hw` under `limits`. A model that does not fit is a plan
// with fits = false and the reason, not an error. InvalidArgument for a
// malformed request (as Estimate); errors of Probe when probe_model is set
// and the probe fails (NotFound for a missing file, InvalidArgument when
// llama.cpp refuses the model or the settings).
Result<FitPlan> PlanFit(const ModelFacts& facts, const PlanOptions& options, const HardwareInfo& hw,
                        const Limits& limits);

// {"fits": bool, "reason": "...", "probed": bool, "probe_note": "...", "n_ctx": n, "n_gpu_layers":
// n,
//  "budgets": {"ram": n, "gpus": [n, ...], "ram_explanation": "..."},
//  "memory": MemoryBreakdown JSON (fit/memory.h)}
nlohmann::json ToJson(const FitPlan& plan);

}  // namespace hangar::fit

#endif  // HANGAR_FIT_PLANNER_H_
