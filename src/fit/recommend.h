// The recommender: which catalog models fit this machine, where their layers
// go, how fast they will run, and which one to pick for a purpose.
//
// For each catalog entry that passes the filters, Recommend():
//   1. sizes the budgets: RAM = max_ram_usage of the usable RAM minus
//      os_reserve; each GPU = gpu_memory_usage of its total memory (a
//      unified-memory GPU's bytes count against the RAM budget as well);
//   2. asks the injected MemoryFn for the memory at the requested context:
//      every layer on the GPUs (-1) when that fits, else the most layers that
//      fit (a binary search over n_gpu_layers), else CPU only; when nothing
//      fits with an f16 KV cache, the same with q8_0;
//   3. predicts generation and prompt tokens/s (SpeedModel), replaced by the
//      measured speed when usage statistics have one;
//   4. scores it by purpose (the constants below): speed = log2(gen
//      tokens/s); quality = quality tier + kSizeWeight x log2(billions of
//      parameters); balanced (the default) = quality tier +
//      kBalancedSpeedWeight x log2(gen tokens/s); plus kRecommendedBonus for a
//      recommended entry and kInstalledBonus for an installed one; minus
//      kSlowPenalty under kSlowTokensPerSecond, and minus kSuccessPenaltyScale
//      x (kMinSuccessRate - success rate) for a model under kMinSuccessRate
//      after at least kMinUsesForRate uses.
// Entries that do not fit become rejections with the reason ("needs 9.8 GB
// RAM, budget 6.1 GB"). Embedding models are left out unless the tag asked
// for is "embedding"; models that are not GGUF are rejected (llama.cpp runs
// GGUF only).
//
// Policy::kCoding is specs/002's auto-selection instead: the qwen2.5-coder
// entries whose min_ram_bytes fit in the available RAM (MemoryInfo::available)
// minus os_reserve, recommended ones first, the largest first; none fitting is
// the "insufficient RAM" error. Only installed_only, limit, context and the
// overrides apply to it; placement, speed and settings are still reported.
//
// Policy::kGemma is specs/000's rule: by the available RAM (decimal GB), on
// the Gemma entries: under 4 GB only the smallest model, with a warning; 4-8
// GB a 2B model; 8-16 GB a 4B model; 16 GB and more 9B and larger, the highest
// quality tier first. An entry is offered when its min_ram_bytes fits in the
// available RAM; the band's class ranks first, other fitting entries follow.
// Nothing fitting is a warning, not an error.
//
// Ownership: a Recommendation points into the Catalog it was made from (the
// `entry` pointers); keep the catalog alive and unmodified while using it.
// Thread-safety: Recommend() is a pure function of its arguments; it may run
// concurrently as far as the MemoryFn may.
#ifndef HANGAR_FIT_RECOMMEND_H_
#define HANGAR_FIT_RECOMMEND_H_

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "catalog/catalog.h"
#include "config/limits.h"
#include "config/profile.h"
#include "core/status.h"
#include "fit/memory.h"
#include "fit/settings.h"
#include "fit/speed.h"
#include "hardware/hardware.h"

namespace hangar::fit {

// Memory of `entry` run as `request` on `hw`: the host, then one DeviceMemory
// per GPU; with n_gpu_layers = -1 everything that can go to the GPUs is there.
using MemoryFn = std::function<Result<MemoryBreakdown>(const CatalogEntry&, const MemoryRequest&,
                                                       const HardwareInfo&)>;

// --- Scoring ------------------------------------------------------------------
inline constexpr double kRecommendedBonus = 0.25;
inline constexpr double kInstalledBonus = 0.5;
inline constexpr double kSizeWeight = 0.1;           // quality: per doubling of parameters
inline constexpr double kBalancedSpeedWeight = 0.5;  // balanced: per doubling of tokens/s
inline constexpr double kSlowTokensPerSecond = 1.0;
inline constexpr double kSlowPenalty = 1.0;
inline constexpr double kMinSuccessRate = 0.8;
inline constexpr uint32_t kMinUsesForRate = 5;
inline constexpr double kSuccessPenaltyScale = 5.0;

// --- Machine tiers (specs/004) ----------------------------------------------
// kNone      under 8 GB of RAM: only the smallest models;
// kMinimal   8 GB of RAM: 7-8B models, CPU only is fine;
// kStandard  16 GB of RAM, or a GPU with 8 GB and 8 GB of RAM: 13-14B models;
// kAdvanced  40 GB of GPU memory (all GPUs together; 70B at 4 bits) and 32 GB
//            of RAM: any model. Needs a GPU: without one a machine is
//            Standard at most (CPU fallback).
// GB are decimal; RAM is MemoryInfo::usable (else total).
enum class Tier { kNone, kMinimal, kStandard, kAdvanced };

std::string_view TierName(Tier tier);  // "none", "minimal", "standard", "advanced"
Tier ClassifyTier(const HardwareInfo& hw);

struct TierDecision {
  Tier tier = Tier::kNone;
  bool use_gpu = false;  // false: CPU fallback (no GPU memory)
  std::string reason;
};
TierDecision DescribeTier(const HardwareInfo& hw);

// The largest parameter count a tier runs: 4e9, 8.5e9, 15e9, or 0 (no limit)
// for kAdvanced.
double TierMaxParameters(Tier tier);

// --- Machine descriptions (--ram, --vram, --gpus, --cores) -------------------
struct MachineDescription {
  std::optional<uint64_t> ram{};   // bytes: total = available = usable, no cgroup
  std::optional<uint64_t> vram{};  // bytes per GPU
  std::optional<int> gpus{};       // GPU count; 0 = none
  std::optional<int> cores{};      // physical = logical cores
};

// `base` (usually the probed machine) with what `description` sets replaced.
// Described GPUs keep the first base GPU's name and vendor (for the speed
// table) or are called "GPU"; --vram without --gpus gives the base's GPU count,
// at least 1. InvalidArgument when cores < 1, gpus < 0, ram or vram is 0, or
// gpus > 0 with no vram given and no base GPU to take it from.
Result<HardwareInfo> DescribeMachine(const MachineDescription& description,
                                     const HardwareInfo& base);

// --- Usage statistics (recorded by the runtime) ------------------------------
struct ModelUsage {
  double measured_gen_tokens_per_second = 0;  // 0: not measured
  uint32_t uses = 0;
  uint32_t successes = 0;
  uint32_t failures = 0;
};
using UsageStats = std::unordered_map<std::string, ModelUsage>;  // by catalog id

// --- Options and answer ------------------------------------------------------
enum class Policy { kFit, kCoding, kGemma };
std::string_view PolicyName(Policy policy);  // "fit", "coding", "gemma"

inline constexpr uint32_t kDefaultRecommendContext = 4096;
inline constexpr std::string_view kCodingFamily = "qwen2.5-coder";

struct RecommendOptions {
  std::optional<Purpose> purpose{};     // speed | balanced | quality; unset = balanced
  std::string tag{};                    // only entries with this tag
  std::vector<std::string> families{};  // only these families (empty: all)
  std::optional<uint32_t> context{};    // fit at this context (and use it); else 4096
  bool installed_only = false;
  bool recommended_only = false;
  double max_parameter_count = 0;  // 0: no limit (see TierMaxParameters)
  size_t limit = 0;                // candidates returned, best first; 0 = all
  Policy policy = Policy::kFit;
  SettingsOverrides overrides{};  // applied to every candidate's settings
};

// What the recommender needs besides the catalog and the machine.
struct RecommendInputs {
  MemoryFn memory{};                  // required
  double host_bandwidth = 0;          // measured bytes/s; 0: kDefaultHostBandwidth
  const UsageStats* usage = nullptr;  // borrowed; may be null
  // Bytes workers offer (`hangar worker`s that are up), added to the RAM
  // budget: the layers they hold run on their devices.
  uint64_t remote_memory = 0;
};

struct Score {
  double total = 0;
  double quality = 0;  // the quality term of the purpose
  double speed = 0;    // the speed term of the purpose
  double bonus = 0;    // recommended, installed
  double penalty = 0;  // slow, unreliable (a positive number, subtracted)
};

struct Candidate {
  const CatalogEntry* entry = nullptr;  // borrowed from the catalog
  bool installed = false;
  Placement placement;
  SpeedPrediction speed;
  bool measured_speed = false;  // speed.gen_tokens_per_second was measured
  Score score;
  RunSettings settings;
  std::vector<std::string> reasons;  // why it fits and why it ranks here
};

struct Rejection {
  const CatalogEntry* entry = nullptr;  // borrowed from the catalog
  std::string reason;                   // "needs 9.8 GB RAM, budget 6.1 GB"
  uint64_t ram_needed = 0;              // 0 when unknown
  uint64_t ram_budget = 0;
};

struct Recommendation {
  Policy policy = Policy::kFit;
  Purpose purpose = Purpose::kBalanced;
  uint32_t context = kDefaultRecommendContext;
  uint64_t ram_budget = 0;
  std::vector<uint64_t> gpu_budgets;
  std::vector<DeviceSpeed> devices;  // host first, then GPUs
  TierDecision tier;
  ProfileRecommendation profile;
  std::vector<Candidate> candidates;  // best first
  std::vector<Rejection> rejections;  // in catalog order
  std::vector<std::string> warnings;  // e.g. nothing fits: the smallest model's need
};

// Ranks the catalog's entries for `hw` within `limits` (see the file comment).
// `installed` holds catalog ids (case-insensitive). Success: candidates (maybe
// none, with a warning) and rejections.
// InvalidArgument: no MemoryFn, a purpose other than speed/balanced/quality,
// a context of 0, or invalid settings overrides (see RecommendSettings).
// Policy::kCoding only: ResourceExhausted ("insufficient RAM for any coding
// model ...") when none fits, naming the smallest and what it needs; NotFound
// when there is no qwen2.5-coder entry (installed, with installed_only).
// Policy::kGemma only: NotFound when there is no Gemma entry.
Result<Recommendation> Recommend(const Catalog& catalog, std::span<const std::string> installed,
                                 const HardwareInfo& hw, const Limits& limits,
                                 const RecommendOptions& options, const RecommendInputs& inputs);

// For `hangar recommend --json`:
// {"policy": "fit"|"coding"|"gemma", "purpose": "balanced", "context": 4096,
//  "ram_budget": bytes, "gpu_budgets": [bytes...],
//  "devices": [{"device", "bandwidth", "flops", "source"}],
//  "tier": {"name": "standard", "use_gpu": bool, "reason"},
//  "profile": {"name", "reason"},
//  "candidates": [{"rank": 1, "id", "name", "family", "parameter_label",
//     "quantization", "quality_tier", "recommended", "installed",
//     "fit": {"n_gpu_layers", "layer_count", "full_offload", "kv_type",
//             "ram_needed", "ram_budget", "gpu_needed": [..], "gpu_budgets": [..],
//             "memory": <MemoryBreakdown JSON>},
//     "speed": {"gen_tokens_per_second", "prompt_tokens_per_second",
//               "bytes_per_token", "source": "predicted"|"measured"},
//     "score": {"total", "quality", "speed", "bonus", "penalty"},
//     "settings": <RunSettings JSON>, "reasons": [..]}],
//  "rejections": [{"id", "reason", "ram_needed", "ram_budget"}],
//  "warnings": [..]}
nlohmann::json ToJson(const Recommendation& recommendation);

}  // namespace hangar::fit

#endif  // HANGAR_FIT_RECOMMEND_H_
