// Run settings: how to run a chosen model on this machine (threads, context,
// batches, GPU layers, KV cache type, flash attention, mmap/mlock, the answer
// length and the sampling profile), each with the reason it was chosen, and
// each overridable by the user.
//
// The rules (specs/000's settings recommendation, extended to GPUs):
//   threads      physical cores; one is left free when there are more than 4.
//   context      by RAM: under 8 GB 2048, under 16 GB 4096, else 8192 tokens;
//                capped by the model's trained context and, when a placement
//                is known, halved while its budgets lack room for the longer
//                KV cache (not below the context the placement was fitted at).
//   n_batch      2048 (512 on CPU-only machines under 8 GB); n_ubatch 512.
//   batch_size   requests processed together: 2 with 8+ physical cores, else 1.
//   n_gpu_layers from the placement (-1 = all); without one, -1 when there is
//                a GPU (llama.cpp places what fits), else 0.
//   KV type      the placement's (f16, or q8_0 when f16 did not fit).
//   flash_attn   on when GPU layers are used, else auto.
//   mmap on, mlock off.
//   max_tokens   by RAM: under 8 GB 512, under 16 GB 1024, else 2048.
//   profile      config's RecommendProfile(usable RAM, physical cores).
// GB here is decimal (10^9 bytes), as machines are advertised. RAM is the
// memory this process may use (MemoryInfo::usable, else total).
//
// Everything here is a plain value or a pure function: thread-safe.
#ifndef HANGAR_FIT_SETTINGS_H_
#define HANGAR_FIT_SETTINGS_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/catalog_entry.h"
#include "core/status.h"
#include "fit/memory.h"
#include "hardware/hardware.h"

namespace hangar::fit {

// Where a model goes on a machine, as the recommender fitted it.
struct Placement {
  int32_t n_gpu_layers = 0;   // as llama.cpp's -ngl; -1 = every layer
  uint32_t layer_count = 0;   // repeating layers + the output layer
  bool full_offload = false;  // every layer on the GPU(s)
  CacheType kv_type;          // f16, or q8_0 when f16 did not fit
  MemoryBreakdown memory;     // at `memory.n_ctx` tokens of context
  uint64_t ram_needed = 0;    // host bytes (plus unified-memory GPU bytes)
  uint64_t ram_budget = 0;
  std::vector<uint64_t> gpu_needed;  // per GPU, bytes
  std::vector<uint64_t> gpu_budgets;
  friend bool operator==(const Placement&, const Placement&) = default;
};

// Why one setting has its value: {"threads", "8 physical cores, one left free"}.
struct SettingReason {
  std::string setting;
  std::string reason;
  friend bool operator==(const SettingReason&, const SettingReason&) = default;
};

struct RunSettings {
  int threads = 1;
  uint32_t context = 2048;
  uint32_t n_batch = 2048;
  uint32_t n_ubatch = 512;
  int batch_size = 1;  // requests processed together (parallel sequences)
  int32_t n_gpu_layers = 0;
  CacheType type_k;
  CacheType type_v;
  FlashAttention flash_attn = FlashAttention::kAuto;
  bool mmap = true;
  bool mlock = false;
  int max_tokens = 512;
  std::string profile = "fast";
  std::vector<SettingReason> reasons;  // one per setting, in the order above

  // The memory request these settings make (n_seq = batch_size).
  MemoryRequest ToMemoryRequest() const;
  friend bool operator==(const RunSettings&, const RunSettings&) = default;
};

// Values the user set; each one that is present wins over the computed value.
struct SettingsOverrides {
  std::optional<int> threads;
  std::optional<uint32_t> context;
  std::optional<uint32_t> n_batch;
  std::optional<uint32_t> n_ubatch;
  std::optional<int> batch_size;
  std::optional<int32_t> n_gpu_layers;
  std::optional<CacheType> type_k;
  std::optional<CacheType> type_v;
  std::optional<FlashAttention> flash_attn;
  std::optional<bool> mmap;
  std::optional<bool> mlock;
  std::optional<int> max_tokens;
  std::optional<std::string> profile;
  friend bool operator==(const SettingsOverrides&, const SettingsOverrides&) = default;
};

// The settings for running `model` (nullptr: for this machine in general)
// placed as `placement` says (nullptr: placement unknown), per the rules of
// the file comment, with `overrides` applied last.
// InvalidArgument naming the setting and the accepted range when an override
// is out of range: threads, context, n_batch, n_ubatch, batch_size or
// max_tokens below 1, n_ubatch above n_batch, n_gpu_layers below -1, an
// unknown KV cache type, or a profile name that is not a valid name.
Result<RunSettings> RecommendSettings(const HardwareInfo& hw, const CatalogEntry* model,
                                      const Placement* placement,
                                      const SettingsOverrides& overrides = {});

// The context by RAM alone: 2048, 4096 or 8192 tokens.
uint32_t ContextForRam(uint64_t ram_bytes);
// The answer length by RAM alone: 512, 1024 or 2048 tokens.
int MaxTokensForRam(uint64_t ram_bytes);
// Threads for `cpu`: physical cores (else logical, else 4), one left free
// above 4.
int ThreadsForCpu(const CpuInfo& cpu);

// {"threads", "context", "n_batch", "n_ubatch", "batch_size", "n_gpu_layers",
//  "type_k", "type_v", "flash_attn" ("auto"|"on"|"off"), "mmap", "mlock",
//  "max_tokens", "profile", "reasons": {"threads": "...", ...}}
nlohmann::json ToJson(const RunSettings& settings);

}  // namespace hangar::fit

#endif  // HANGAR_FIT_SETTINGS_H_
