#include "fit/recommend.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <unordered_set>

#include "core/strings.h"
#include "core/units.h"

namespace hangar::fit {
namespace {

constexpr double kCodingRecommendedRank = 100.0;

constexpr uint64_t kTierMinimalRam = 8 * kGB;
constexpr uint64_t kTierStandardRam = 16 * kGB;
constexpr uint64_t kTierStandardGpu = 8 * kGB;
constexpr uint64_t kTierAdvancedGpu = 40 * kGB;
constexpr uint64_t kTierAdvancedRam = 32 * kGB;

uint64_t SatSub(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

std::string Gb(uint64_t bytes) {
  return fmt::format("{:.1f} GB", static_cast<double>(bytes) / 1e9);
}

uint64_t RamOf(const HardwareInfo& hw) {
  return hw.memory.usable > 0 ? hw.memory.usable : hw.memory.total;
}

uint64_t GpuMemoryOf(const HardwareInfo& hw) {
  uint64_t total = 0;
  for (const GpuInfo& g : hw.gpus) total += g.vram_total;
  return total;
}

struct Budgets {
  uint64_t ram = 0;
  std::vector<uint64_t> gpus;
  bool any_gpu = false;
};

// One MemoryFn answer checked against the budgets.
struct Attempt {
  MemoryBreakdown memory;
  uint64_t ram_needed = 0;
  std::vector<uint64_t> gpu_needed;
  bool gpus_fit = true;
  bool host_fits = false;
};

struct Outcome {
  bool fits = false;
  Attempt best;  // the fitting placement, or the closest miss
  int32_t n_gpu_layers = 0;
  bool full_offload = false;
};

// Finds where one entry's layers go (file comment, step 2).
class Fitter {
 public:
  Fitter(const CatalogEntry& entry, const HardwareInfo& hw, const Budgets& budgets,
         const MemoryFn& memory)
      : entry_(entry), hw_(hw), budgets_(budgets), memory_(memory) {}

  Result<Outcome> Search(MemoryRequest request) const {
    Outcome out;
    if (!budgets_.any_gpu) {
      request.n_gpu_layers = 0;
      ASSIGN_OR_RETURN(out.best, Try(request, /*check_gpus=*/false));
      out.fits = out.best.host_fits;
      return out;
    }
    request.n_gpu_layers = -1;
    ASSIGN_OR_RETURN(Attempt full, Try(request, /*check_gpus=*/true));
    if (full.gpus_fit) {
      // Offloading fewer layers only moves bytes to the host.
      out.fits = full.host_fits;
      out.best = std::move(full);
      out.n_gpu_layers = -1;
      out.full_offload = true;
      return out;
    }
    // The most layers whose GPU share fits: GPU bytes grow with n_gpu_layers.
    // At 0 the GPUs hold no layer and are not checked (run CPU-only if need be).
    const uint32_t layers = entry_.arch.block_count > 0 ? entry_.arch.block_count + 1 : 0;
    request.n_gpu_layers = 0;
    ASSIGN_OR_RETURN(Attempt low, Try(request, /*check_gpus=*/false));
    uint32_t lo = 0;
    uint32_t hi = layers;  // known not to fit: as many as -1
    while (hi > lo + 1) {
      const uint32_t mid = lo + (hi - lo) / 2;
      request.n_gpu_layers = static_cast<int32_t>(mid);
      ASSIGN_OR_RETURN(Attempt a, Try(request, /*check_gpus=*/true));
      if (a.gpus_fit) {
        lo = mid;
        low = std::move(a);
      } else {
        hi = mid;
      }
    }
    out.fits = low.host_fits;
    out.best = std::move(low);
    out.n_gpu_layers = static_cast<int32_t>(lo);
    return out;
  }

 private:
  Result<Attempt> Try(const MemoryRequest& request, bool check_gpus) const {
    Result<MemoryBreakdown> r = memory_(entry_, request, hw_);
    if (!r.ok()) return r.status();
    Attempt a;
    a.memory = std::move(r).value();
    a.ram_needed = a.memory.HostTotal();
    a.gpu_needed.assign(hw_.gpus.size(), 0);
    for (size_t i = 0; i < hw_.gpus.size() && i + 1 < a.memory.devices.size(); ++i) {
      const uint64_t bytes = a.memory.devices[i + 1].Total();
      a.gpu_needed[i] = bytes;
      if (hw_.gpus[i].unified_memory) a.ram_needed += bytes;
      if (check_gpus && bytes > budgets_.gpus[i]) a.gpus_fit = false;
    }
    a.host_fits = a.ram_needed <= budgets_.ram;
    return a;
  }

  const CatalogEntry& entry_;
  const HardwareInfo& hw_;
  const Budgets& budgets_;
  const MemoryFn& memory_;
};

MemoryRequest BaseRequest(const CatalogEntry& entry, uint32_t context) {
  MemoryRequest r;
  r.n_ctx = entry.context_length > 0 ? std::min(context, entry.context_length) : context;
  return r;
}

Placement MakePlacement(const CatalogEntry& entry, Outcome&& o, const CacheType& kv,
                        const Budgets& budgets) {
  Placement p;
  p.n_gpu_layers = o.n_gpu_layers;
  p.layer_count = entry.arch.block_count > 0 ? entry.arch.block_count + 1 : 0;
  p.full_offload = o.full_offload;
  p.kv_type = kv;
  p.ram_needed = o.best.ram_needed;
  p.ram_budget = budgets.ram;
  p.gpu_needed = std::move(o.best.gpu_needed);
  p.gpu_budgets = budgets.gpus;
  p.memory = std::move(o.best.memory);
  return p;
}

std::string PlacementReason(const Placement& p, bool has_gpu) {
  if (!has_gpu) {
    return fmt::format("fits: needs {} of the {} RAM budget", Gb(p.ram_needed), Gb(p.ram_budget));
  }
  uint64_t gpu = 0;
  uint64_t gpu_budget = 0;
  for (uint64_t b : p.gpu_needed) gpu += b;
  for (uint64_t b : p.gpu_budgets) gpu_budget += b;
  if (p.full_offload) {
    return fmt::format("all {} layers on the GPU: {} of {} GPU memory, {} of {} RAM", p.layer_count,
                       Gb(gpu), Gb(gpu_budget), Gb(p.ram_needed), Gb(p.ram_budget));
  }
  if (p.n_gpu_layers == 0) {
    return fmt::format("CPU only (no layer fits in {} of GPU memory): {} of {} RAM", Gb(gpu_budget),
                       Gb(p.ram_needed), Gb(p.ram_budget));
  }
  return fmt::format("{} of {} layers on the GPU ({} of {}), the rest on the CPU: {} of {} RAM",
                     p.n_gpu_layers, p.layer_count, Gb(gpu), Gb(gpu_budget), Gb(p.ram_needed),
                     Gb(p.ram_budget));
}

std::string RejectionReason(const Outcome& o, const Budgets& budgets, uint32_t context) {
  if (!budgets.any_gpu) {
    return fmt::format("needs {} RAM at {} tokens of context, budget {}", Gb(o.best.ram_needed),
                       context, Gb(budgets.ram));
  }
  if (o.full_offload) {
    return fmt::format("needs {} RAM even with every layer on the GPU, budget {}",
                       Gb(o.best.ram_needed), Gb(budgets.ram));
  }
  const uint32_t layers = o.best.memory.n_gpu_layers > 0
                              ? static_cast<uint32_t>(o.best.memory.n_gpu_layers)
                              : static_cast<uint32_t>(std::max(0, o.n_gpu_layers));
  return fmt::format("needs {} RAM with {} layers on the GPU (all that fit), budget {}",
                     Gb(o.best.ram_needed), layers, Gb(budgets.ram));
}

void ScoreCandidate(Candidate& c, Purpose purpose, const ModelUsage* usage) {
  const CatalogEntry& e = *c.entry;
  const double gen = std::max(c.speed.gen_tokens_per_second, 1e-3);
  const double speed_term = std::log2(gen);
  const double billions = std::max(TotalParameters(e) / 1e9, 0.1);
  Score& s = c.score;
  switch (purpose) {
    case Purpose::kSpeed:
      s.speed = speed_term;
      break;
    case Purpose::kQuality:
      s.quality = e.quality_tier + kSizeWeight * std::log2(billions);
      break;
    default:
      s.quality = e.quality_tier;
      s.speed = kBalancedSpeedWeight * speed_term;
      break;
  }
  if (e.recommended) {
    s.bonus += kRecommendedBonus;
    c.reasons.push_back("recommended for its size class");
  }
  if (c.installed) {
    s.bonus += kInstalledBonus;
    c.reasons.push_back("installed: no download needed");
  }
  if (c.speed.gen_tokens_per_second < kSlowTokensPerSecond) {
    s.penalty += kSlowPenalty;
    c.reasons.push_back(fmt::format("slow: {:.2f} tokens/s is under {:.0f} token/s",
                                    c.speed.gen_tokens_per_second, kSlowTokensPerSecond));
  }
  if (usage != nullptr && usage->uses >= kMinUsesForRate) {
    const uint32_t finished = usage->successes + usage->failures;
    const double rate = finished > 0 ? static_cast<double>(usage->successes) / finished : 1.0;
    if (rate < kMinSuccessRate) {
      s.penalty += kSuccessPenaltyScale * (kMinSuccessRate - rate);
      c.reasons.push_back(
          fmt::format("unreliable here: succeeded in {} of {} runs ({:.0f}%), under {:.0f}%",
                      usage->successes, finished, rate * 100, kMinSuccessRate * 100));
    }
  }
  s.total = s.quality + s.speed + s.bonus - s.penalty;
}

// Fills speed (predicted or measured) and the speed reason.
void PredictSpeed(Candidate& c, const SpeedModel& model, const ModelUsage* usage) {
  c.speed = model.Predict(*c.entry, c.placement.memory);
  if (usage != nullptr && usage->measured_gen_tokens_per_second > 0) {
    c.reasons.push_back(fmt::format("measured {:.1f} tokens/s over {} uses (predicted {:.1f})",
                                    usage->measured_gen_tokens_per_second, usage->uses,
                                    c.speed.gen_tokens_per_second));
    c.speed.gen_tokens_per_second = usage->measured_gen_tokens_per_second;
    c.measured_speed = true;
  } else {
    c.reasons.push_back(
        fmt::format("predicted {:.1f} tokens/s generating, {:.0f} tokens/s "
                    "reading prompts",
                    c.speed.gen_tokens_per_second, c.speed.prompt_tokens_per_second));
  }
}

const ModelUsage* FindUsage(const UsageStats* stats, const std::string& id) {
  if (stats == nullptr) return nullptr;
  auto it = stats->find(id);
  return it == stats->end() ? nullptr : &it->second;
}

bool Eligible(const CatalogEntry& e, const RecommendOptions& o,
              const std::unordered_set<std::string>& installed) {
  if (!o.families.empty()) {
    bool any = false;
    for (const std::string& f : o.families) any = any || EqualsIgnoreCase(f, e.family);
    if (!any) return false;
  }
  if (!o.tag.empty() && !e.HasTag(o.tag)) return false;
  if (e.HasTag("embedding") && !EqualsIgnoreCase(o.tag, "embedding")) return false;
  if (o.installed_only && !installed.contains(AsciiLower(e.id))) return false;
  if (o.recommended_only && !e.recommended) return false;
  if (o.max_parameter_count > 0 && TotalParameters(e) > o.max_parameter_count) return false;
  return true;
}

struct Context {
  const HardwareInfo& hw;
  const RecommendOptions& options;
  const RecommendInputs& inputs;
  const Budgets& budgets;
  const SpeedModel& speed;
  const std::unordered_set<std::string>& installed;
  SettingsOverrides overrides;
  uint32_t context = kDefaultRecommendContext;
};

// Steps 2-3 for one entry: the placement (f16, else q8_0 KV) or the reason it
// does not fit. `must_fit` false keeps the closest miss as the placement.
struct Evaluation {
  std::optional<Candidate> candidate;
  std::optional<Rejection> rejection;
};

Result<Evaluation> Evaluate(const CatalogEntry& e, const Context& ctx, bool must_fit) {
  Evaluation ev;
  Fitter fitter(e, ctx.hw, ctx.budgets, ctx.inputs.memory);
  MemoryRequest request = BaseRequest(e, ctx.context);
  Result<Outcome> f16 = fitter.Search(request);
  if (!f16.ok()) {
    ev.rejection =
        Rejection{&e, fmt::format("its memory cannot be estimated: {}", f16.status().message()), 0,
                  ctx.budgets.ram};
    return ev;
  }
  Outcome chosen = std::move(f16).value();
  CacheType kv;
  if (!chosen.fits) {
    request.type_k.name = "q8_0";
    request.type_v.name = "q8_0";
    Result<Outcome> q8 = fitter.Search(request);
    if (q8.ok() && q8->fits) {
      chosen = std::move(q8).value();
      kv.name = "q8_0";
    }
  }
  if (!chosen.fits && must_fit) {
    ev.rejection = Rejection{&e, RejectionReason(chosen, ctx.budgets, request.n_ctx),
                             chosen.best.ram_needed, ctx.budgets.ram};
    return ev;
  }
  Candidate c;
  c.entry = &e;
  c.installed = ctx.installed.contains(AsciiLower(e.id));
  c.placement = MakePlacement(e, std::move(chosen), kv, ctx.budgets);
  c.reasons.push_back(PlacementReason(c.placement, ctx.budgets.any_gpu));
  if (kv.name != "f16") c.reasons.push_back("q8_0 KV cache: an f16 cache does not fit");
  PredictSpeed(c, ctx.speed, FindUsage(ctx.inputs.usage, e.id));
  ASSIGN_OR_RETURN(c.settings, RecommendSettings(ctx.hw, &e, &c.placement, ctx.overrides));
  ev.candidate = std::move(c);
  return ev;
}

Status CheckOptions(const RecommendOptions& options, const RecommendInputs& inputs) {
  if (!inputs.memory) {
    return InvalidArgumentError(
        "the recommender needs a memory estimator (RecommendInputs::memory is empty)");
  }
  if (options.purpose && *options.purpose == Purpose::kSpecialized) {
    return InvalidArgumentError(
        "purpose 'specialized' cannot rank models; use speed, balanced or quality");
  }
  if (options.context && *options.context == 0) {
    return InvalidArgumentError("context must be at least 1 token; leave it unset for 4096");
  }
  // Overrides are checked once here rather than per candidate.
  HardwareInfo none;
  return RecommendSettings(none, nullptr, nullptr, options.overrides).status();
}

void AddNothingFitsWarning(Recommendation& rec) {
  const Rejection* smallest = nullptr;
  for (const Rejection& r : rec.rejections) {
    if (r.ram_needed == 0) continue;
    if (smallest == nullptr || r.ram_needed < smallest->ram_needed) smallest = &r;
  }
  if (smallest == nullptr) {
    rec.warnings.push_back(
        "no catalog model matches these filters; widen the purpose, tag or family");
    return;
  }
  rec.warnings.push_back(fmt::format(
      "no model fits in the {} RAM budget; the smallest, {}, needs {}: free memory, raise "
      "max_ram_usage in [limits] or lower the context",
      Gb(rec.ram_budget), smallest->entry->id, Gb(smallest->ram_needed)));
}

Result<Recommendation> RecommendCoding(const Catalog& catalog, const Limits& limits, Context& ctx,
                                       Recommendation rec) {
  const HardwareInfo& hw = ctx.hw;
  const uint64_t ram = hw.memory.available > 0 ? hw.memory.available : RamOf(hw);
  const uint64_t reserve = limits.os_reserve.Of(ram);
  const uint64_t room = SatSub(ram, reserve);
  const CatalogEntry* smallest = nullptr;
  std::vector<const CatalogEntry*> fitting;
  for (const CatalogEntry& e : catalog.entries()) {
    if (!EqualsIgnoreCase(e.family, kCodingFamily) || e.format != ModelFormat::kGguf) continue;
    if (ctx.options.installed_only && !ctx.installed.contains(AsciiLower(e.id))) continue;
    if (smallest == nullptr || e.min_ram_bytes < smallest->min_ram_bytes) smallest = &e;
    if (e.min_ram_bytes <= room) {
      fitting.push_back(&e);
    } else {
      rec.rejections.push_back(
          Rejection{&e,
                    fmt::format("needs {} RAM, {} available after the {} OS reserve",
                                Gb(e.min_ram_bytes), Gb(room), Gb(reserve)),
                    e.min_ram_bytes, room});
    }
  }
  if (smallest == nullptr) {
    return NotFoundError(
        fmt::format("the catalog has no {} model{}; check the catalog or drop --installed",
                    kCodingFamily, ctx.options.installed_only ? " installed" : ""));
  }
  if (fitting.empty()) {
    return ResourceExhaustedError(fmt::format(
        "insufficient RAM for any coding model: {} available after the {} OS reserve, and the "
        "smallest, {}, needs {}; free memory or use a machine with at least {} available",
        Gb(room), Gb(reserve), smallest->id, Gb(smallest->min_ram_bytes),
        Gb(smallest->min_ram_bytes + reserve)));
  }
  // Recommended first, then the largest requirement (specs/002).
  std::stable_sort(fitting.begin(), fitting.end(),
                   [](const CatalogEntry* a, const CatalogEntry* b) {
                     if (a->recommended != b->recommended) return a->recommended;
                     return a->min_ram_bytes > b->min_ram_bytes;
                   });
  for (const CatalogEntry* e : fitting) {
    ASSIGN_OR_RETURN(Evaluation ev, Evaluate(*e, ctx, /*must_fit=*/false));
    if (!ev.candidate) {
      rec.rejections.push_back(std::move(*ev.rejection));
      continue;
    }
    Candidate& c = *ev.candidate;
    c.score.quality = e->quality_tier;
    c.score.total =
        (e->recommended ? kCodingRecommendedRank : 0) + static_cast<double>(e->min_ram_bytes) / 1e9;
    c.reasons.insert(c.reasons.begin(),
                     fmt::format("{}coding model that fits: needs {} RAM, {} available after "
                                 "the {} OS reserve",
                                 e->recommended ? "largest recommended " : "", Gb(e->min_ram_bytes),
                                 Gb(room), Gb(reserve)));
    rec.candidates.push_back(std::move(c));
  }
  if (ctx.options.limit > 0 && rec.candidates.size() > ctx.options.limit) {
    rec.candidates.resize(ctx.options.limit);
  }
  return rec;
}

// specs/000's bands (decimal GB of available RAM) and the parameter class
// each band picks.
struct GemmaBand {
  uint64_t min_ram;
  double min_params;  // the class: parameter counts in [min_params, max_params)
  double max_params;
  const char* label;
};
constexpr GemmaBand kGemmaBands[] = {
    {0, 0, 1.5e9, "the smallest model"},
    {4 * kGB, 1.5e9, 3e9, "a 2B model"},
    {8 * kGB, 3e9, 6e9, "a 4B model"},
    {16 * kGB, 8.5e9, 1e15, "9B and larger, quality first"},
};

bool IsGemmaFamily(std::string_view family) { return AsciiLower(family).starts_with("gemma"); }

Result<Recommendation> RecommendGemma(const Catalog& catalog, Context& ctx, Recommendation rec) {
  const HardwareInfo& hw = ctx.hw;
  const uint64_t ram = hw.memory.available > 0 ? hw.memory.available : RamOf(hw);
  const GemmaBand* band = &kGemmaBands[0];
  for (const GemmaBand& b : kGemmaBands) {
    if (ram >= b.min_ram) band = &b;
  }
  const CatalogEntry* smallest = nullptr;
  std::vector<const CatalogEntry*> fitting;
  for (const CatalogEntry& e : catalog.entries()) {
    if (!IsGemmaFamily(e.family) || e.format != ModelFormat::kGguf) continue;
    if (ctx.options.installed_only && !ctx.installed.contains(AsciiLower(e.id))) continue;
    if (smallest == nullptr || e.parameter_count < smallest->parameter_count ||
        (e.parameter_count == smallest->parameter_count &&
         e.min_ram_bytes < smallest->min_ram_bytes)) {
      smallest = &e;
    }
    if (e.min_ram_bytes <= ram) {
      fitting.push_back(&e);
    } else {
      rec.rejections.push_back(
          Rejection{&e, fmt::format("needs {} RAM, {} available", Gb(e.min_ram_bytes), Gb(ram)),
                    e.min_ram_bytes, ram});
    }
  }
  if (smallest == nullptr) {
    return NotFoundError(
        fmt::format("the catalog has no Gemma model{}; check the catalog or drop "
                    "--installed",
                    ctx.options.installed_only ? " installed" : ""));
  }
  const bool below_minimum = band == &kGemmaBands[0];
  if (below_minimum) {
    rec.warnings.push_back(fmt::format(
        "{} RAM available, under the 4 GB Gemma models are made for: only the smallest, {} "
        "(needs {}), is offered",
        Gb(ram), smallest->id, Gb(smallest->min_ram_bytes)));
    std::erase_if(fitting, [&](const CatalogEntry* e) { return e != smallest; });
  }
  if (fitting.empty()) return rec;  // the warning says what the smallest needs

  auto in_class = [&](const CatalogEntry* e) {
    return below_minimum ||
           (e->parameter_count >= band->min_params && e->parameter_count < band->max_params);
  };
  if (std::none_of(fitting.begin(), fitting.end(), in_class)) {
    rec.warnings.push_back(fmt::format(
        "no Gemma model of the class for {} RAM ({}) fits; the largest that does is offered",
        Gb(ram), band->label));
  }
  // The band's class first; within it and after it, quality first, then size.
  std::stable_sort(fitting.begin(), fitting.end(),
                   [&](const CatalogEntry* a, const CatalogEntry* b) {
                     if (in_class(a) != in_class(b)) return in_class(a);
                     if (a->quality_tier != b->quality_tier)
                       return a->quality_tier > b->quality_tier;
                     return a->parameter_count > b->parameter_count;
                   });
  double rank = static_cast<double>(fitting.size());
  for (const CatalogEntry* e : fitting) {
    ASSIGN_OR_RETURN(Evaluation ev, Evaluate(*e, ctx, /*must_fit=*/false));
    if (!ev.candidate) {
      rec.rejections.push_back(std::move(*ev.rejection));
      continue;
    }
    Candidate& c = *ev.candidate;
    c.score.quality = e->quality_tier;
    c.score.total = rank--;
    c.reasons.insert(c.reasons.begin(),
                     in_class(e)
                         ? fmt::format("Gemma rule: {} RAM available calls for {}; needs {}",
                                       Gb(ram), band->label, Gb(e->min_ram_bytes))
                         : fmt::format("Gemma rule: fits in {} RAM (needs {}) but is not "
                                       "of the class {} RAM calls for ({})",
                                       Gb(ram), Gb(e->min_ram_bytes), Gb(ram), band->label));
    rec.candidates.push_back(std::move(c));
  }
  if (ctx.options.limit > 0 && rec.candidates.size() > ctx.options.limit) {
    rec.candidates.resize(ctx.options.limit);
  }
  return rec;
}

}  // namespace

std::string_view TierName(Tier tier) {
  switch (tier) {
    case Tier::kNone:
      return "none";
    case Tier::kMinimal:
      return "minimal";
    case Tier::kStandard:
      return "standard";
    case Tier::kAdvanced:
      return "advanced";
  }
  return "none";
}

std::string_view PolicyName(Policy policy) {
  switch (policy) {
    case Policy::kCoding:
      return "coding";
    case Policy::kGemma:
      return "gemma";
    case Policy::kFit:
      break;
  }
  return "fit";
}

Tier ClassifyTier(const HardwareInfo& hw) {
  const uint64_t ram = RamOf(hw);
  const uint64_t gpu = GpuMemoryOf(hw);
  if (gpu >= kTierAdvancedGpu && ram >= kTierAdvancedRam) return Tier::kAdvanced;
  if (ram >= kTierStandardRam || (gpu >= kTierStandardGpu && ram >= kTierMinimalRam)) {
    return Tier::kStandard;
  }
  if (ram >= kTierMinimalRam) return Tier::kMinimal;
  return Tier::kNone;
}

TierDecision DescribeTier(const HardwareInfo& hw) {
  TierDecision d;
  d.tier = ClassifyTier(hw);
  const uint64_t ram = RamOf(hw);
  const uint64_t gpu = GpuMemoryOf(hw);
  d.use_gpu = gpu > 0;
  std::string machine = gpu > 0 ? fmt::format("{} of RAM and {} of GPU memory", Gb(ram), Gb(gpu))
                                : fmt::format("{} of RAM and no GPU", Gb(ram));
  switch (d.tier) {
    case Tier::kAdvanced:
      d.reason = machine + ": 70B-class models on the GPU";
      break;
    case Tier::kStandard:
      d.reason = machine + (d.use_gpu ? ": 13B-class models, GPU-accelerated"
                                      : ": 13B-class models on the CPU (Advanced needs 40 GB "
                                        "of GPU memory)");
      break;
    case Tier::kMinimal:
      d.reason = machine + (d.use_gpu ? ": 7B-class models" : ": 7B-class models on the CPU");
      break;
    case Tier::kNone:
      d.reason = machine + ": under the 8 GB of RAM a 7B model needs; small models only";
      break;
  }
  return d;
}

double TierMaxParameters(Tier tier) {
  switch (tier) {
    case Tier::kNone:
      return 4e9;
    case Tier::kMinimal:
      return 8.5e9;
    case Tier::kStandard:
      return 15e9;
    case Tier::kAdvanced:
      return 0;
  }
  return 0;
}

Result<HardwareInfo> DescribeMachine(const MachineDescription& d, const HardwareInfo& base) {
  HardwareInfo hw = base;
  if (d.cores) {
    if (*d.cores < 1) {
      return InvalidArgumentError(fmt::format("--cores must be at least 1, got {}", *d.cores));
    }
    hw.cpu.physical_cores = *d.cores;
    hw.cpu.logical_cores = *d.cores;
  }
  if (d.ram) {
    if (*d.ram == 0) return InvalidArgumentError("--ram must be more than 0 bytes, e.g. 16GB");
    hw.memory = MemoryInfo{};
    hw.memory.total = *d.ram;
    hw.memory.available = *d.ram;
    hw.memory.usable = *d.ram;
  }
  if (d.gpus && *d.gpus < 0) {
    return InvalidArgumentError(fmt::format("--gpus must be 0 or more, got {}", *d.gpus));
  }
  // No video memory is no GPU (as --gpus 0), unless GPUs are named too.
  if (d.vram && *d.vram == 0) {
    if (d.gpus && *d.gpus > 0) {
      return InvalidArgumentError(fmt::format(
          "--gpus {} with --vram 0: a GPU needs its memory (e.g. --vram 8GB), or use --gpus 0",
          *d.gpus));
    }
    hw.gpus.clear();
  } else if (d.gpus && *d.gpus == 0) {
    if (d.vram) {
      return InvalidArgumentError(
          "--vram describes a GPU, but --gpus 0 says there is none; "
          "drop one of them");
    }
    hw.gpus.clear();
  } else if (d.gpus || d.vram) {
    const int count = d.gpus.value_or(std::max<int>(1, static_cast<int>(base.gpus.size())));
    const uint64_t vram = d.vram.value_or(base.gpus.empty() ? 0 : base.gpus.front().vram_total);
    if (vram == 0) {
      return InvalidArgumentError(fmt::format(
          "--gpus {} needs the memory of each GPU: add --vram SIZE (e.g. --vram 24GB)", count));
    }
    GpuInfo model;
    if (!base.gpus.empty()) {
      model = base.gpus.front();
    } else {
      model.name = "GPU";
    }
    hw.gpus.assign(count, model);
    for (int i = 0; i < count; ++i) {
      hw.gpus[i].index = i;
      hw.gpus[i].vram_total = vram;
      hw.gpus[i].vram_free = vram;
    }
  }
  return hw;
}

Result<Recommendation> Recommend(const Catalog& catalog, std::span<const std::string> installed,
                                 const HardwareInfo& hw, const Limits& limits,
                                 const RecommendOptions& options, const RecommendInputs& inputs) {
  RETURN_IF_ERROR(CheckOptions(options, inputs));

  Recommendation rec;
  rec.policy = options.policy;
  rec.purpose = options.purpose.value_or(Purpose::kBalanced);
  rec.context = options.context.value_or(kDefaultRecommendContext);
  const uint64_t ram = RamOf(hw);
  Budgets budgets;
  budgets.ram = SatSub(limits.max_ram_usage.Of(ram), limits.os_reserve.Of(ram));
  budgets.ram += inputs.remote_memory;
  for (const GpuInfo& g : hw.gpus) {
    budgets.gpus.push_back(limits.gpu_memory_usage.Of(g.vram_total));
    budgets.any_gpu = budgets.any_gpu || budgets.gpus.back() > 0;
  }
  rec.ram_budget = budgets.ram;
  rec.gpu_budgets = budgets.gpus;
  const SpeedModel speed(hw, inputs.host_bandwidth);
  rec.devices.push_back(speed.host());
  for (const DeviceSpeed& g : speed.gpus()) rec.devices.push_back(g);
  rec.tier = DescribeTier(hw);
  rec.profile = RecommendProfile(
      ram, hw.cpu.physical_cores > 0 ? hw.cpu.physical_cores : hw.cpu.logical_cores);

  std::unordered_set<std::string> installed_ids;
  installed_ids.reserve(installed.size());
  for (const std::string& id : installed) installed_ids.insert(AsciiLower(id));

  Context ctx{hw, options, inputs, budgets, speed, installed_ids, options.overrides, rec.context};
  if (options.context) ctx.overrides.context = ctx.overrides.context.value_or(*options.context);

  if (options.policy == Policy::kCoding)
    return RecommendCoding(catalog, limits, ctx, std::move(rec));
  if (options.policy == Policy::kGemma) return RecommendGemma(catalog, ctx, std::move(rec));

  rec.candidates.reserve(catalog.size());
  for (const CatalogEntry& e : catalog.entries()) {
    if (!Eligible(e, options, installed_ids)) continue;
    if (e.format != ModelFormat::kGguf) {
      rec.rejections.push_back(
          Rejection{&e,
                    fmt::format("{} model: Hangar runs GGUF models (llama.cpp); pick a GGUF "
                                "quantization of it",
                                ModelFormatName(e.format)),
                    0, budgets.ram});
      continue;
    }
    ASSIGN_OR_RETURN(Evaluation ev, Evaluate(e, ctx, /*must_fit=*/true));
    if (ev.rejection) {
      rec.rejections.push_back(std::move(*ev.rejection));
      continue;
    }
    Candidate& c = *ev.candidate;
    ScoreCandidate(c, rec.purpose, FindUsage(inputs.usage, e.id));
    rec.candidates.push_back(std::move(c));
  }
  std::stable_sort(
      rec.candidates.begin(), rec.candidates.end(),
      [](const Candidate& a, const Candidate& b) { return a.score.total > b.score.total; });
  if (options.limit > 0 && rec.candidates.size() > options.limit) {
    rec.candidates.resize(options.limit);
  }
  if (rec.candidates.empty()) AddNothingFitsWarning(rec);
  return rec;
}

nlohmann::json ToJson(const Recommendation& rec) {
  nlohmann::json devices = nlohmann::json::array();
  for (const DeviceSpeed& d : rec.devices) {
    devices.push_back({{"device", d.device},
                       {"bandwidth", d.bandwidth},
                       {"flops", d.flops},
                       {"source", d.source}});
  }
  nlohmann::json candidates = nlohmann::json::array();
  int rank = 0;
  for (const Candidate& c : rec.candidates) {
    const CatalogEntry& e = *c.entry;
    const Placement& p = c.placement;
    candidates.push_back({
        {"rank", ++rank},
        {"id", e.id},
        {"name", e.name},
        {"family", e.family},
        {"parameter_label", e.parameter_label},
        {"quantization", e.quantization},
        {"quality_tier", e.quality_tier},
        {"recommended", e.recommended},
        {"installed", c.installed},
        {"fit",
         {{"n_gpu_layers", p.n_gpu_layers},
          {"layer_count", p.layer_count},
          {"full_offload", p.full_offload},
          {"kv_type", p.kv_type.name},
          {"ram_needed", p.ram_needed},
          {"ram_budget", p.ram_budget},
          {"gpu_needed", p.gpu_needed},
          {"gpu_budgets", p.gpu_budgets},
          {"memory", ToJson(p.memory)}}},
        {"speed",
         {{"gen_tokens_per_second", c.speed.gen_tokens_per_second},
          {"prompt_tokens_per_second", c.speed.prompt_tokens_per_second},
          {"bytes_per_token", c.speed.bytes_per_token},
          {"source", c.measured_speed ? "measured" : "predicted"}}},
        {"score",
         {{"total", c.score.total},
          {"quality", c.score.quality},
          {"speed", c.score.speed},
          {"bonus", c.score.bonus},
          {"penalty", c.score.penalty}}},
        {"settings", ToJson(c.settings)},
        {"reasons", c.reasons},
    });
  }
  nlohmann::json rejections = nlohmann::json::array();
  for (const Rejection& r : rec.rejections) {
    rejections.push_back({{"id", r.entry->id},
                          {"reason", r.reason},
                          {"ram_needed", r.ram_needed},
                          {"ram_budget", r.ram_budget}});
  }
  return nlohmann::json{
      {"policy", PolicyName(rec.policy)},
      {"purpose", PurposeName(rec.purpose)},
      {"context", rec.context},
      {"ram_budget", rec.ram_budget},
      {"gpu_budgets", rec.gpu_budgets},
      {"devices", std::move(devices)},
      {"tier",
       {{"name", TierName(rec.tier.tier)},
        {"use_gpu", rec.tier.use_gpu},
        {"reason", rec.tier.reason}}},
      {"profile", {{"name", rec.profile.profile}, {"reason", rec.profile.reason}}},
      {"candidates", std::move(candidates)},
      {"rejections", std::move(rejections)},
      {"warnings", rec.warnings},
  };
}

}  // namespace hangar::fit
