// The memory estimator: what llama.cpp will allocate for a model, from its
// metadata alone (ModelFacts, from a GGUF header or a catalog entry), in
// microseconds and without llama.cpp. It follows llama.cpp's own rules:
//
//  - weights: per layer; -ngl N puts the last N repeating layers on the GPUs
//    (the output layer counting as one), split between GPUs in proportion to
//    their free memory; token embeddings stay on the CPU; a tied output
//    matrix is copied to the GPU holding the output layer (or repacked on the
//    CPU for q4_0/q4_K/iq4_nl/mxfp4 on x86-64 with AVX2).
//  - n_ctx is padded to 256 and split into one KV stream per sequence.
//  - KV cache per layer on the layer's device: cells × row_size(type_k,
//    n_head_kv × head_k) + cells × row_size(type_v, n_head_kv × head_v);
//    sliding-window layers hold pad(min(n_ctx_seq, n_swa + n_ubatch), 256)
//    cells per sequence (unless swa_full); MLA layers one latent K of
//    kv_lora_rank + n_rot values and no V; recurrent layers a fixed F32 state
//    per sequence.
//  - compute buffers: the largest set of intermediates alive at once in
//    llama.cpp's worst-case graph (n_ubatch tokens, all of them output):
//    without flash attention the KQ matrix n_kv × n_ubatch × n_head × 4 plus
//    the KQ masks; with it, the FFN intermediates; on the device holding the
//    output layer, the logits n_vocab × n_ubatch × 4. Calibrated against the
//    probe (fit/probe.h) on generated models; see docs/benchmarks.md.
//  - output buffer: n_vocab × n_seq × 4 on the host; `other`: the runtime's
//    own memory (RuntimeOverheadBytes).
// Flash attention `auto` resolves to on (every backend llama.cpp builds here
// supports it for the common head sizes).
//
// Limits: the compute phases were calibrated on llama.cpp's CPU backend; GPU
// devices are given the same phases for the layers they hold (about what
// CUDA allocates, not measured here). With mmap, llama.cpp's own breakdown
// counts CPU weights of repacked types (q4_0, q4_K, ... on AVX2) twice: once
// in the file mapping, once repacked; the estimate counts them once, as the
// probe does (the mapped pages are clean and can be dropped).
//
// Pure functions of their arguments: thread-safe.
#ifndef HANGAR_FIT_ESTIMATOR_H_
#define HANGAR_FIT_ESTIMATOR_H_

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "catalog/catalog_entry.h"
#include "core/status.h"
#include "fit/memory.h"
#include "fit/model_facts.h"
#include "gguf/summary.h"
#include "hardware/gpu.h"

namespace hangar::fit {

// A GPU as the estimator sees it.
struct GpuMemory {
  std::string name;    // "CUDA0"
  uint64_t total = 0;  // bytes
  uint64_t free = 0;   // bytes; llama.cpp splits layers by free memory (total when 0)
};

// The GPUs of a hardware probe, named as llama.cpp names their devices
// (CUDA0.., ROCm0.., Metal), free memory unknown taken as the total.
std::vector<GpuMemory> GpuMemoryOf(std::span<const GpuInfo> gpus);

// Bytes for `request` with `facts` on the host and `gpus` (may be empty: all
// on the CPU). The result has one device for the host and one per GPU; method
// "estimate". InvalidArgument when the request is malformed (an unknown cache
// type, a quantized V cache with flash attention off, zero batch sizes or
// sequences) or the model has no layers.
Result<MemoryBreakdown> Estimate(const ModelFacts& facts, const MemoryRequest& request,
                                 std::span<const GpuMemory> gpus = {});

// The same from a GGUF header or a catalog entry (errors of FactsFrom* too).
Result<MemoryBreakdown> Estimate(const gguf::ModelSummary& summary, const MemoryRequest& request,
                                 std::span<const GpuMemory> gpus = {});
Result<MemoryBreakdown> Estimate(const CatalogEntry& entry, const MemoryRequest& request,
                                 std::span<const GpuMemory> gpus = {});

// The KV cache (and recurrent state) of the whole model for `request`, on
// whichever devices it lies: the sum of Estimate's kv_cache fields.
Result<uint64_t> KvCacheBytes(const ModelFacts& facts, const MemoryRequest& request);

// Memory the llama.cpp runtime takes besides its buffers: vocabulary tables
// (about 300 bytes per token), thread pools, allocator slack. Reported as
// `other` on the host, by the probe too.
uint64_t RuntimeOverheadBytes(uint32_t n_vocab);

}  // namespace hangar::fit

#endif  // HANGAR_FIT_ESTIMATOR_H_
