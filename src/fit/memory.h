// Memory a llama.cpp model needs: the request (context, batch, cache types,
// offload) and the answer (bytes per device, split by purpose).
//
// These are plain values shared by the estimator (from metadata alone), the
// exact probe (llama.cpp's own allocator with no weight data) and the
// recommender. Copyable; safe to read from any thread.
#ifndef HANGAR_FIT_MEMORY_H_
#define HANGAR_FIT_MEMORY_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace hangar::fit {

enum class FlashAttention { kAuto, kOn, kOff };
std::string_view FlashAttentionName(FlashAttention fa);
Result<FlashAttention> ParseFlashAttention(std::string_view text);  // on/off/auto
// nullopt for kAuto (llama.cpp decides), else whether it is forced on: the
// form llamacpp::FlashAttnType takes.
std::optional<bool> FlashAttentionForced(FlashAttention fa);

// KV cache element type, by ggml name: "f16" (default), "f32", "bf16",
// "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "iq4_nl".
struct CacheType {
  std::string name = "f16";
  friend bool operator==(const CacheType&, const CacheType&) = default;
};

// How the model would be run. Mirrors llama.cpp's model and context params.
struct MemoryRequest {
  uint32_t n_ctx = 4096;    // total context (all sequences)
  uint32_t n_batch = 2048;  // logical batch
  uint32_t n_ubatch = 512;  // physical batch
  uint32_t n_seq = 1;       // parallel sequences
  CacheType type_k;
  CacheType type_v;
  FlashAttention flash_attn = FlashAttention::kAuto;
  // Layers offloaded to the GPU(s) as llama.cpp's -ngl: the last N repeating
  // layers, the output layer counting as one. -1 = all. 0 = CPU only.
  int32_t n_gpu_layers = 0;
  bool mmap = true;  // weights mapped from the file (host RSS grows as pages are touched)
  // Sliding-window layers keep the whole context instead of the window
  // (llama.cpp's --swa-full; off by default in llama-server and llama-cli).
  bool swa_full = false;
  friend bool operator==(const MemoryRequest&, const MemoryRequest&) = default;
};

// Bytes on one device.
struct DeviceMemory {
  std::string device;  // "CPU", "CUDA0", ...
  uint64_t weights = 0;
  uint64_t kv_cache = 0;  // KV cells, recurrent state
  uint64_t compute = 0;   // compute buffers (graph intermediates)
  uint64_t output = 0;    // logits/embeddings output buffer (host)
  uint64_t other = 0;     // runtime overhead not covered above
  uint64_t Total() const { return weights + kv_cache + compute + output + other; }
  friend bool operator==(const DeviceMemory&, const DeviceMemory&) = default;
};

// Where the memory goes: the host first, then each GPU in device order.
struct MemoryBreakdown {
  std::string method;  // "probe" (llama.cpp no-alloc) or "estimate"
  std::vector<DeviceMemory> devices;
  uint32_t n_ctx = 0;        // the context actually used
  int32_t n_gpu_layers = 0;  // layers actually offloaded
  bool flash_attn = false;   // resolved (auto decided)
  const DeviceMemory& host() const { return devices.front(); }
  uint64_t HostTotal() const { return devices.empty() ? 0 : devices.front().Total(); }
  uint64_t GpuTotal() const;
};

// The ggml type id of a cache type (gguf/ggml_types.h), or InvalidArgument
// naming the text and the accepted names.
Result<uint32_t> CacheTypeId(const CacheType& type);
// "f16", "q8_0", ...: the names CacheTypeId accepts, comma-separated.
std::string CacheTypeNames();

// JSON shapes (sizes in bytes):
//   DeviceMemory:    {"device": "CPU", "weights": n, "kv_cache": n, "compute": n,
//                     "output": n, "other": n, "total": n}
//   MemoryBreakdown: {"method": "probe"|"estimate", "n_ctx": n, "n_gpu_layers": n,
//                     "flash_attn": bool, "host_total": n, "gpu_total": n,
//                     "devices": [DeviceMemory, ...]}
nlohmann::json ToJson(const DeviceMemory& d);
nlohmann::json ToJson(const MemoryBreakdown& b);

}  // namespace hangar::fit

#endif  // HANGAR_FIT_MEMORY_H_
