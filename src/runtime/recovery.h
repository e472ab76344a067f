// Load recovery: what to try when loading a model runs out of memory.
//
// The ladder (specs/004's recovery strategies, in the order that costs the
// user least): first fewer GPU layers (halved while at least kMinGpuLayers
// remain), then the CPU alone, then a smaller context (halved, not below
// min_ctx). Only ResourceExhausted from an attempt climbs the ladder; any
// other failure ends it at once. Every retry is reported before it is made,
// with what failed and what comes next.
//
// Pure: the attempt function does the loading. Thread-safe as far as it is.
#ifndef HANGAR_RUNTIME_RECOVERY_H_
#define HANGAR_RUNTIME_RECOVERY_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace hangar::runtime {

inline constexpr int32_t kMinGpuLayers = 4;

struct LoadPlan {
  int32_t n_gpu_layers = 0;  // -1: all
  uint32_t n_ctx = 4096;
  friend bool operator==(const LoadPlan&, const LoadPlan&) = default;
};

using AttemptFn = std::function<Status(const LoadPlan&)>;
using ReportFn = std::function<void(const std::string&)>;

// The next plan after `failed` ran out of memory, or nothing when the ladder
// is at its end. `layer_count` is what -1 stands for (repeating layers plus
// the output layer); gpu_offload false skips the GPU steps.
std::optional<LoadPlan> NextPlan(const LoadPlan& failed, int32_t layer_count, bool gpu_offload,
                                 uint32_t min_ctx);

// Runs `attempt` on `plan`, then on each next plan while it fails with
// ResourceExhausted. Returns the plan that loaded; the first error that is
// not ResourceExhausted; or, at the end of the ladder, ResourceExhausted
// listing every plan tried. `recover` false makes one attempt only.
Result<LoadPlan> LoadWithRecovery(LoadPlan plan, int32_t layer_count, bool gpu_offload,
                                  uint32_t min_ctx, bool recover, const AttemptFn& attempt,
                                  const ReportFn& report);

// "33 GPU layers, context 8192" / "CPU only, context 2048".
std::string DescribePlan(const LoadPlan& plan);

}  // namespace hangar::runtime

#endif  // HANGAR_RUNTIME_RECOVERY_H_
