#include "runtime/recovery.h"

#include <fmt/format.h>

#include <optional>

namespace hangar::runtime {

std::string DescribePlan(const LoadPlan& plan) {
  std::string layers = plan.n_gpu_layers == 0  ? "CPU only"
                       : plan.n_gpu_layers < 0 ? "all layers on the GPU"
                                               : fmt::format("{} GPU layers", plan.n_gpu_layers);
  return fmt::format("{}, context {}", layers, plan.n_ctx);
}

std::optional<LoadPlan> NextPlan(const LoadPlan& failed, int32_t layer_count, bool gpu_offload,
                                 uint32_t min_ctx) {
  LoadPlan next = failed;
  if (gpu_offload && failed.n_gpu_layers != 0) {
    const int32_t layers = failed.n_gpu_layers < 0 ? layer_count : failed.n_gpu_layers;
    const int32_t half = layers / 2;
    next.n_gpu_layers = half >= kMinGpuLayers ? half : 0;
    return next;
  }
  next.n_gpu_layers = 0;
  if (failed.n_ctx / 2 >= min_ctx && failed.n_ctx > min_ctx) {
    next.n_ctx = failed.n_ctx / 2;
    return next;
  }
  if (failed.n_ctx > min_ctx) {
    next.n_ctx = min_ctx;
    return next;
  }
  if (failed.n_gpu_layers != 0) return next;  // no GPU offload known: the CPU is still to try
  return std::nullopt;
}

Result<LoadPlan> LoadWithRecovery(LoadPlan plan, int32_t layer_count, bool gpu_offload,
                                  uint32_t min_ctx, bool recover, const AttemptFn& attempt,
                                  const ReportFn& report) {
  std::string tried;
  while (true) {
    Status s = attempt(plan);
    if (s.ok()) return plan;
    if (s.code() != StatusCode::kResourceExhausted) return s;
    tried += (tried.empty() ? "" : "; ") + DescribePlan(plan);
    std::optional<LoadPlan> next =
        recover ? NextPlan(plan, layer_count, gpu_offload, min_ctx) : std::nullopt;
    if (!next) {
      return ResourceExhaustedError(
          fmt::format("{} (tried {}); free memory, lower --ctx or --ngl, or choose a smaller model",
                      s.message(), tried));
    }
    if (report) {
      report(fmt::format("out of memory with {}: retrying with {}", DescribePlan(plan),
                         DescribePlan(*next)));
    }
    plan = *next;
  }
}

}  // namespace hangar::runtime
