#include "fit/planner.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/units.h"
#include "fit/estimator.h"
#include "fit/probe.h"

namespace hangar::fit {
namespace {

std::string Gb(uint64_t bytes) {
  if (bytes >= 1000ULL * 1000 * 1000) return fmt::format("{:.1f} GB", bytes / 1e9);
  return FormatBytesDecimal(bytes);
}

std::string AmountText(const Amount& a) {
  if (a.is_fraction) return fmt::format("{:g}%", std::round(a.fraction * 1000) / 10);
  return Gb(a.bytes);
}

uint64_t SatSub(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

uint64_t UsableRam(const HardwareInfo& hw) {
  return hw.memory.usable > 0 ? hw.memory.usable : hw.memory.total;
}

// Searches layer splits and contexts with the estimator, corrected per device
// by what the probe found when it disagreed.
class Planner {
 public:
  Planner(const ModelFacts& facts, const PlanOptions& options, const HardwareInfo& hw,
          const Limits& limits)
      : facts_(facts),
        options_(options),
        hw_(hw),
        limits_(limits),
        budgets_(ComputeBudgets(hw, limits)),
        n_remote_(options.remote.size()),
        gpus_(AllDevices(options.remote, hw)),
        correction_(1 + gpus_.size(), 0) {
    for (size_t i = 0; i < n_remote_; ++i) {
      budgets_.gpus.insert(budgets_.gpus.begin() + static_cast<ptrdiff_t>(i),
                           options.remote[i].budget);
    }
  }

  // The remote devices (as GPUs whose free memory is their budget: the split
  // follows it), then this machine's GPUs.
  static std::vector<GpuMemory> AllDevices(const std::vector<RemoteDevice>& remote,
                                           const HardwareInfo& hw) {
    std::vector<GpuMemory> all;
    for (const RemoteDevice& r : remote) all.push_back({r.name, r.budget, r.budget});
    for (GpuMemory& g : GpuMemoryOf(hw.gpus)) all.push_back(std::move(g));
    return all;
  }

  const Budgets& budgets() const { return budgets_; }
  const std::vector<GpuMemory>& gpus() const { return gpus_; }

  // The estimate for `r`, corrected (the correction goes to `other`).
  Result<MemoryBreakdown> Try(const MemoryRequest& r) const {
    ASSIGN_OR_RETURN(MemoryBreakdown b, Estimate(facts_, r, gpus_));
    for (size_t i = 0; i < b.devices.size() && i < correction_.size(); ++i) {
      const int64_t other = static_cast<int64_t>(b.devices[i].other) + correction_[i];
      b.devices[i].other = static_cast<uint64_t>(std::max<int64_t>(other, 0));
    }
    return b;
  }

  uint64_t HostNeed(const MemoryBreakdown& b) const {
    uint64_t need = b.HostTotal();
    for (size_t i = 0; i < hw_.gpus.size() && 1 + n_remote_ + i < b.devices.size(); ++i) {
      if (hw_.gpus[i].unified_memory) need += b.devices[1 + n_remote_ + i].Total();
    }
    return need;
  }
  bool HostFits(const MemoryBreakdown& b) const { return HostNeed(b) <= budgets_.ram; }
  bool GpusFit(const MemoryBreakdown& b) const {
    for (size_t i = 0; i < budgets_.gpus.size() && 1 + i < b.devices.size(); ++i) {
      if (b.devices[1 + i].Total() > budgets_.gpus[i]) return false;
    }
    return true;
  }

  // `r` with n_gpu_layers set: as requested, or the most that fit the GPUs.
  Result<MemoryRequest> WithLayers(MemoryRequest r) const {
    if (!options_.auto_gpu_layers) return r;
    const int32_t all = static_cast<int32_t>(facts_.n_layer()) + 1;
    if (gpus_.empty()) {
      r.n_gpu_layers = 0;
      return r;
    }
    if (n_remote_ > 0) {
      // The fewest offloaded layers with which everything fits; when none
      // does, the fewest with which the host holds the rest (the reason then
      // names the worker short of memory). A scan: the output layer moves
      // the logits' compute buffer, so a device's need is not monotone.
      std::optional<int32_t> host_fits;
      for (int32_t n = 0; n <= all; ++n) {
        r.n_gpu_layers = n;
        ASSIGN_OR_RETURN(const MemoryBreakdown b, Try(r));
        if (!HostFits(b)) continue;
        if (GpusFit(b)) return r;
        if (!host_fits) host_fits = n;
      }
      r.n_gpu_layers = host_fits.value_or(all);
      return r;
    }
    r.n_gpu_layers = all;
    ASSIGN_OR_RETURN(const MemoryBreakdown full, Try(r));
    if (GpusFit(full)) return r;
    int32_t lo = 0;  // fits: no layer, no GPU memory
    int32_t hi = all - 1;
    while (lo < hi) {
      const int32_t mid = lo + (hi - lo + 1) / 2;
      r.n_gpu_layers = mid;
      ASSIGN_OR_RETURN(const MemoryBreakdown b, Try(r));
      if (GpusFit(b)) {
        lo = mid;
      } else {
        hi = mid - 1;
      }
    }
    r.n_gpu_layers = lo;
    return r;
  }

  struct Candidate {
    MemoryRequest request;
    MemoryBreakdown memory;
    bool fits = false;
  };

  Result<Candidate> At(MemoryRequest r) const {
    ASSIGN_OR_RETURN(r, WithLayers(std::move(r)));
    ASSIGN_OR_RETURN(MemoryBreakdown b, Try(r));
    Candidate c{r, b, HostFits(b) && GpusFit(b)};
    return c;
  }

  // The settings to answer with: the request, or the largest context that fits.
  Result<Candidate> Search() const {
    MemoryRequest r = options_.request;
    if (!options_.max_context) {
      if (r.n_ctx == 0) r.n_ctx = facts_.n_ctx_train;
      return At(r);
    }
    uint32_t upper = facts_.n_ctx_train ? facts_.n_ctx_train : r.n_ctx;
    if (upper == 0) upper = 4096;
    const uint32_t steps = std::max<uint32_t>(upper / kContextStep, 1);
    r.n_ctx = kContextStep;
    ASSIGN_OR_RETURN(Candidate best, At(r));
    if (!best.fits) return best;
    uint32_t lo = 1;
    uint32_t hi = steps;
    while (lo < hi) {
      const uint32_t mid = lo + (hi - lo + 1) / 2;
      r.n_ctx = mid * kContextStep;
      ASSIGN_OR_RETURN(Candidate c, At(r));
      if (c.fits) {
        lo = mid;
        best = std::move(c);
      } else {
        hi = mid - 1;
      }
    }
    return best;
  }

  // Remembers the probe's error per device for the next Search.
  void Correct(const MemoryBreakdown& estimate, const MemoryBreakdown& probe) {
    for (size_t i = 0;
         i < correction_.size() && i < estimate.devices.size() && i < probe.devices.size(); ++i) {
      correction_[i] += static_cast<int64_t>(probe.devices[i].Total()) -
                        static_cast<int64_t>(estimate.devices[i].Total());
    }
  }

  std::string Explain(const Candidate& c) const {
    const std::string prefix =
        options_.max_context
            ? fmt::format("does not fit even with {} tokens of context: ", c.request.n_ctx)
            : "";
    if (!HostFits(c.memory)) {
      return fmt::format("{}needs {} of RAM, {} usable within limits ({})", prefix,
                         Gb(HostNeed(c.memory)), Gb(budgets_.ram), budgets_.ram_explanation);
    }
    for (size_t i = 0; i < budgets_.gpus.size(); ++i) {
      const uint64_t need = c.memory.devices[1 + i].Total();
      if (need > budgets_.gpus[i] && i < n_remote_) {
        return fmt::format("{}needs {} on {}, {} offered by the worker", prefix, Gb(need),
                           gpus_[i].name, Gb(budgets_.gpus[i]));
      }
      if (need > budgets_.gpus[i]) {
        const GpuInfo& gpu = hw_.gpus[i - n_remote_];
        return fmt::format("{}needs {} on {}, {} usable within limits ({} of {})", prefix, Gb(need),
                           gpus_[i].name, Gb(budgets_.gpus[i]),
                           AmountText(limits_.gpu_memory_usage), Gb(gpu.vram_total));
      }
    }
    std::string text = fmt::format("fits with {} tokens of context: {} of RAM of {} usable",
                                   c.memory.n_ctx, Gb(HostNeed(c.memory)), Gb(budgets_.ram));
    for (size_t i = 0; i < budgets_.gpus.size(); ++i) {
      text += fmt::format(", {} on {} of {}", Gb(c.memory.devices[1 + i].Total()), gpus_[i].name,
                          Gb(budgets_.gpus[i]));
    }
    if (!gpus_.empty()) {
      text += fmt::format(", {} of {} layers on the {}", c.memory.n_gpu_layers,
                          facts_.n_layer() + 1, n_remote_ > 0 ? "workers" : "GPUs");
    }
    return text;
  }

 private:
  const ModelFacts& facts_;
  const PlanOptions& options_;
  const HardwareInfo& hw_;
  const Limits& limits_;
  Budgets budgets_;
  size_t n_remote_;
  std::vector<GpuMemory> gpus_;
  std::vector<int64_t> correction_;
};

}  // namespace

Budgets ComputeBudgets(const HardwareInfo& hw, const Limits& limits) {
  Budgets b;
  const uint64_t ram = UsableRam(hw);
  const uint64_t reserve = limits.os_reserve.Of(ram);
  b.ram = SatSub(limits.max_ram_usage.Of(ram), reserve);
  b.ram_explanation =
      limits.max_ram_usage.is_fraction
          ? fmt::format("{} of {} less {} reserved", AmountText(limits.max_ram_usage), Gb(ram),
                        Gb(reserve))
          : fmt::format("limit {} less {} reserved", AmountText(limits.max_ram_usage), Gb(reserve));
  for (const GpuInfo& g : hw.gpus) b.gpus.push_back(limits.gpu_memory_usage.Of(g.vram_total));
  return b;
}

Result<FitPlan> PlanFit(const ModelFacts& facts, const PlanOptions& options, const HardwareInfo& hw,
                        const Limits& limits) {
  Planner planner(facts, options, hw, limits);
  ASSIGN_OR_RETURN(Planner::Candidate best, planner.Search());
  FitPlan plan;
  plan.budgets = planner.budgets();
  for (const GpuMemory& g : planner.gpus()) {
    plan.split.push_back(static_cast<double>(g.free ? g.free : g.total));
  }
  bool from_probe = false;
  if (!options.probe_model.empty() && options.remote.empty()) {
    for (int round = 0; round < kProbeRounds; ++round) {
      ASSIGN_OR_RETURN(MemoryBreakdown probed, Probe(options.probe_model, best.request));
      if (probed.devices.size() != best.memory.devices.size()) {
        plan.probe_note = fmt::format(
            "not confirmed by the probe: llama.cpp sees {} GPU(s), the hardware probe {}",
            probed.devices.size() - 1, best.memory.devices.size() - 1);
        break;
      }
      // Keep the plan's device names (the hardware's), in the same order.
      for (size_t i = 0; i < probed.devices.size(); ++i) {
        probed.devices[i].device = best.memory.devices[i].device;
      }
      const Planner::Candidate checked{best.request, probed,
                                       planner.HostFits(probed) && planner.GpusFit(probed)};
      if (checked.fits || !best.fits || round + 1 == kProbeRounds) {
        best = checked;
        from_probe = true;
        break;
      }
      planner.Correct(best.memory, probed);
      ASSIGN_OR_RETURN(best, planner.Search());
      if (!best.fits) break;
    }
  }
  plan.probed = from_probe;
  plan.fits = best.fits;
  plan.request = best.request;
  plan.request.n_ctx = best.memory.n_ctx ? best.memory.n_ctx : best.request.n_ctx;
  plan.request.n_gpu_layers = best.memory.n_gpu_layers;
  plan.memory = std::move(best.memory);
  plan.reason = planner.Explain(Planner::Candidate{plan.request, plan.memory, plan.fits});
  return plan;
}

nlohmann::json ToJson(const FitPlan& plan) {
  return nlohmann::json{{"fits", plan.fits},
                        {"reason", plan.reason},
                        {"probed", plan.probed},
                        {"probe_note", plan.probe_note},
                        {"n_ctx", plan.request.n_ctx},
                        {"n_gpu_layers", plan.request.n_gpu_layers},
                        {"split", plan.split},
                        {"budgets",
                         {{"ram", plan.budgets.ram},
                          {"gpus", plan.budgets.gpus},
                          {"ram_explanation", plan.budgets.ram_explanation}}},
                        {"memory", ToJson(plan.memory)}};
}

}  // namespace hangar::fit
