#include "fit/estimator.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "gguf/ggml_types.h"

namespace hangar::fit {
namespace {

constexpr uint32_t kCtxPad = 256;  // llama.cpp pads n_ctx and SWA caches to this
constexpr uint64_t kAlign = 32;

uint64_t Pad(uint64_t n, uint64_t to) { return (n + to - 1) / to * to; }

// The request with llama.cpp's adjustments applied (llama_context's ctor).
struct Resolved {
  uint32_t n_ctx = 0;      // padded, n_ctx_seq × n_seq
  uint32_t n_ctx_seq = 0;  // cells per KV stream
  uint32_t n_ubatch = 0;   // tokens in the worst-case graph
  uint32_t n_outputs = 0;  // outputs in it
  uint32_t n_seq = 1;
  bool flash_attn = true;
  const gguf::GgmlType* type_k = nullptr;
  const gguf::GgmlType* type_v = nullptr;
};

Result<Resolved> Resolve(const ModelFacts& facts, const MemoryRequest& r) {
  if (r.n_batch == 0 || r.n_ubatch == 0 || r.n_seq == 0) {
    return InvalidArgumentError(fmt::format(
        "memory request with n_batch {}, n_ubatch {}, n_seq {}: each must be at least 1", r.n_batch,
        r.n_ubatch, r.n_seq));
  }
  if (facts.layers.empty()) {
    return InvalidArgumentError(
        fmt::format("{} has no layers; there is nothing to estimate", facts.name));
  }
  ASSIGN_OR_RETURN(const uint32_t k_id, CacheTypeId(r.type_k));
  ASSIGN_OR_RETURN(const uint32_t v_id, CacheTypeId(r.type_v));
  Resolved out;
  out.type_k = gguf::FindGgmlType(k_id);
  out.type_v = gguf::FindGgmlType(v_id);
  out.flash_attn = r.flash_attn != FlashAttention::kOff;
  if (!out.flash_attn && out.type_v->quantized) {
    return InvalidArgumentError(
        fmt::format("a quantized V cache ({}) needs flash attention, which the request turns off; "
                    "use an f16 V cache or flash attention on/auto",
                    r.type_v.name));
  }
  uint64_t n_ctx = r.n_ctx != 0 ? r.n_ctx : facts.n_ctx_train;
  if (n_ctx == 0) n_ctx = 4096;
  n_ctx = Pad(n_ctx, kCtxPad);
  if (n_ctx / r.n_seq == 0) {
    return InvalidArgumentError(fmt::format(
        "a context of {} tokens cannot be split into {} sequences; use a larger context or fewer "
        "sequences",
        n_ctx, r.n_seq));
  }
  out.n_seq = r.n_seq;
  out.n_ctx_seq = static_cast<uint32_t>(Pad(n_ctx / r.n_seq, kCtxPad));
  out.n_ctx = out.n_ctx_seq * r.n_seq;
  const uint32_t n_batch = std::min(out.n_ctx, r.n_batch);
  out.n_ubatch = std::min(n_batch, r.n_ubatch);
  out.n_outputs = std::min(out.n_ubatch, n_batch);
  return out;
}

uint64_t RowBytes(const gguf::GgmlType* type, uint64_t n) {
  return (n + type->block_size - 1) / type->block_size * type->type_size;
}

// Cells per stream of layer `l`.
uint32_t LayerCells(const ModelFacts& facts, const LayerFacts& l, const Resolved& r,
                    bool swa_full) {
  if (!l.swa || swa_full || facts.n_swa == 0) return r.n_ctx_seq;
  return static_cast<uint32_t>(
      Pad(std::min<uint64_t>(r.n_ctx_seq, uint64_t{facts.n_swa} + r.n_ubatch), kCtxPad));
}

// KV (or recurrent state) bytes of one layer.
uint64_t LayerKvBytes(const ModelFacts& facts, const LayerFacts& l, const Resolved& r,
                      bool swa_full, uint64_t v_width_max) {
  if (l.recurrent) return Pad(facts.recurrent_state_elements * 4, kAlign) * r.n_seq;
  if (l.n_head_kv == 0) return 0;
  const uint64_t cells = uint64_t{LayerCells(facts, l, r, swa_full)} * r.n_seq;
  if (facts.kv_lora_rank > 0) {
    return Pad(RowBytes(r.type_k, uint64_t{facts.kv_lora_rank} + facts.n_rot) * cells, kAlign);
  }
  const uint64_t k = RowBytes(r.type_k, uint64_t{l.n_head_kv} * l.head_k) * cells;
  // Without flash attention V is stored transposed, every layer at the widest width.
  const uint64_t v_width = r.flash_attn ? uint64_t{l.n_head_kv} * l.head_v : v_width_max;
  const uint64_t v = RowBytes(r.type_v, v_width) * cells;
  return Pad(k, kAlign) + Pad(v, kAlign);
}

// Which device holds each layer: index 0 = host, 1.. = GPUs; layers
// 0..n_layer-1 are the blocks, n_layer the output layer. llama.cpp's
// load_tensors: the last n_gpu_layers (output included) go to the GPUs, cut
// at the cumulative shares of their free memory.
std::vector<size_t> PlaceLayers(uint32_t n_layer, int32_t n_gpu_layers,
                                std::span<const GpuMemory> gpus, int32_t* offloaded) {
  std::vector<size_t> device(n_layer + 1, 0);
  const int32_t all = static_cast<int32_t>(n_layer) + 1;
  const int32_t ngl = gpus.empty() ? 0 : (n_gpu_layers < 0 ? all : std::min(n_gpu_layers, all));
  *offloaded = ngl;
  if (ngl == 0) return device;
  std::vector<double> split(gpus.size());
  double sum = 0;
  for (size_t i = 0; i < gpus.size(); ++i) {
    const uint64_t share = gpus[i].free ? gpus[i].free : gpus[i].total;
    split[i] = static_cast<double>(share ? share : 1);
    sum += split[i];
  }
  double acc = 0;
  for (double& s : split) {
    acc += s;
    s = acc / sum;
  }
  const int32_t start = all - ngl;
  for (int32_t il = start; il < all; ++il) {
    const float x = static_cast<float>(il - start) / static_cast<float>(ngl);
    const auto it = std::upper_bound(split.begin(), split.end(), x);
    const size_t gpu = std::min<size_t>(it - split.begin(), gpus.size() - 1);
    device[il] = 1 + gpu;
  }
  return device;
}

// Bytes of the largest set of graph intermediates alive at once on a device
// holding `layers` (and the output layer when `has_output`). Phases, after
// llama.cpp's graph and ggml-alloc's reuse of freed tensors, calibrated
// against llama_get_memory_breakdown on generated models:
//   attention without FA: KQ masks + n_kv·T·n_head·4 + 2.5·(n_head·head_v)·T·4 + 3.5·E·T·4
//   attention with FA:    KQ masks (f16) + 2·(n_head·head)·T·4 + 3.5·E·T·4
//   FFN:                  KQ masks + 3·(n_ff + n_ff_expert·n_used)·T·4 + 4·E·T·4
//   output:               n_vocab·n_outputs·4 + 2·E·T·4
// and at least the input embeddings 2·E·T·4 on the host.
uint64_t ComputeBytes(const ModelFacts& facts, const Resolved& r, bool swa_full,
                      std::span<const uint32_t> layers, bool has_output, bool is_host) {
  const double t = r.n_ubatch;
  const double e = facts.n_embd;
  const double mask_elem = r.flash_attn ? 2 : 4;
  bool has_full = false;
  bool has_swa = false;
  for (const LayerFacts& l : facts.layers) {
    if (l.recurrent || l.n_head_kv == 0) continue;
    (l.swa ? has_swa : has_full) = true;
  }
  double masks = 0;
  if (has_full) masks += r.n_ctx_seq * t * mask_elem;
  if (has_swa) {
    LayerFacts swa;
    swa.swa = true;
    masks += LayerCells(facts, swa, r, swa_full) * t * mask_elem;
  }
  double peak = is_host ? 2 * e * t * 4 : 0;
  for (uint32_t il : layers) {
    const LayerFacts& l = facts.layers[il];
    if (l.n_head_kv > 0 && !l.recurrent) {
      const double n_kv = LayerCells(facts, l, r, swa_full);
      const double width = static_cast<double>(l.n_head) * std::max(l.head_k, l.head_v);
      const double attn = r.flash_attn
                              ? masks + 2 * width * t * 4 + 3.5 * e * t * 4
                              : masks + n_kv * t * l.n_head * 4 +
                                    2.5 * static_cast<double>(l.n_head) * l.head_v * t * 4 +
                                    3.5 * e * t * 4;
      peak = std::max(peak, attn);
    }
    const double ff =
        static_cast<double>(l.n_ff) + static_cast<double>(l.n_ff_expert) * l.n_expert_used;
    peak = std::max(peak, masks + 3 * ff * t * 4 + 4 * e * t * 4);
  }
  if (has_output) {
    const double logits = static_cast<double>(facts.n_vocab) * r.n_outputs * 4;
    peak = std::max(peak, logits + 2 * e * t * 4);
  }
  return static_cast<uint64_t>(std::llround(peak));
}

uint64_t WidestV(const ModelFacts& facts) {
  uint64_t w = 0;
  for (const LayerFacts& l : facts.layers) w = std::max(w, uint64_t{l.n_head_kv} * l.head_v);
  return w;
}

}  // namespace

std::vector<GpuMemory> GpuMemoryOf(std::span<const GpuInfo> gpus) {
  std::vector<GpuMemory> out;
  int cuda = 0;
  int rocm = 0;
  for (const GpuInfo& g : gpus) {
    GpuMemory m;
    if (g.vendor == "nvidia") {
      m.name = fmt::format("CUDA{}", cuda++);
    } else if (g.vendor == "amd") {
      m.name = fmt::format("ROCm{}", rocm++);
    } else if (g.vendor == "apple") {
      m.name = "Metal";
    } else {
      m.name = g.name;
    }
    m.total = g.vram_total;
    m.free = g.vram_free.value_or(g.vram_total);
    out.push_back(std::move(m));
  }
  return out;
}

uint64_t RuntimeOverheadBytes(uint32_t n_vocab) { return 4 * kMiB + uint64_t{n_vocab} * 300; }

Result<uint64_t> KvCacheBytes(const ModelFacts& facts, const MemoryRequest& request) {
  ASSIGN_OR_RETURN(const Resolved r, Resolve(facts, request));
  const uint64_t v_max = WidestV(facts);
  uint64_t total = 0;
  for (const LayerFacts& l : facts.layers)
    total += LayerKvBytes(facts, l, r, request.swa_full, v_max);
  return total;
}

Result<MemoryBreakdown> Estimate(const ModelFacts& facts, const MemoryRequest& request,
                                 std::span<const GpuMemory> gpus) {
  ASSIGN_OR_RETURN(const Resolved r, Resolve(facts, request));
  const uint32_t n_layer = facts.n_layer();
  MemoryBreakdown out;
  out.method = "estimate";
  out.n_ctx = r.n_ctx;
  out.flash_attn = r.flash_attn;
  const std::vector<size_t> place =
      PlaceLayers(n_layer, request.n_gpu_layers, gpus, &out.n_gpu_layers);
  out.devices.resize(1 + gpus.size());
  out.devices[0].device = "CPU";
  for (size_t i = 0; i < gpus.size(); ++i) {
    out.devices[1 + i].device = gpus[i].name.empty() ? fmt::format("GPU{}", i) : gpus[i].name;
  }

  const uint64_t v_max = WidestV(facts);
  std::vector<std::vector<uint32_t>> layers_on(out.devices.size());
  for (uint32_t il = 0; il < n_layer; ++il) {
    DeviceMemory& d = out.devices[place[il]];
    d.weights += facts.layers[il].weight_bytes;
    d.kv_cache += LayerKvBytes(facts, facts.layers[il], r, request.swa_full, v_max);
    layers_on[place[il]].push_back(il);
  }
  DeviceMemory& host = out.devices[0];
  host.weights += facts.input_bytes;
  const size_t output_device = place[n_layer];
  out.devices[output_device].weights += facts.output_bytes;
  if (output_device != 0 || facts.tied_output_repacked) {
    out.devices[output_device].weights += facts.tied_output_bytes;
  }
  for (size_t i = 0; i < out.devices.size(); ++i) {
    if (i != 0 && layers_on[i].empty() && output_device != i) continue;
    out.devices[i].compute =
        ComputeBytes(facts, r, request.swa_full, layers_on[i], output_device == i, i == 0);
  }
  host.output = uint64_t{facts.n_vocab} * r.n_seq * 4;
  host.other = RuntimeOverheadBytes(facts.n_vocab);
  return out;
}

Result<MemoryBreakdown> Estimate(const gguf::ModelSummary& summary, const MemoryRequest& request,
                                 std::span<const GpuMemory> gpus) {
  ASSIGN_OR_RETURN(const ModelFacts facts, FactsFromSummary(summary));
  return Estimate(facts, request, gpus);
}

Result<MemoryBreakdown> Estimate(const CatalogEntry& entry, const MemoryRequest& request,
                                 std::span<const GpuMemory> gpus) {
  ASSIGN_OR_RETURN(const ModelFacts facts, FactsFromCatalog(entry));
  return Estimate(facts, request, gpus);
}

}  // namespace hangar::fit
