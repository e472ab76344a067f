// LlamaBackend: models run in this process on llama.cpp (libllama + ggml).
//
// Load(): reads the GGUF header (gguf/), resolves the automatic settings —
// threads from the CPU, GPU layers from the fit planner within the limits
// (0 without a GPU) — and asks the memory guard (runtime/memory_guard.h)
// whether the fit module's estimate fits in the memory available now. It then
// loads the weights (mmap/mlock as asked, with a progress callback that can
// cancel) and creates the context (context size, batch/ubatch, sequences,
// flash attention, KV cache types, threads); when either runs out of memory
// the recovery ladder of runtime/recovery.h retries with fewer GPU layers,
// then on the CPU, then with less context, reporting each step. A warm-up
// decode follows unless turned off.
//
// Generation keeps the tokens of the last request in the KV cache: the next
// request decodes only what follows their common prefix (a chat that grows by
// one turn re-reads one turn). Sampling is llama.cpp's sampler chain:
// repetition penalty, top-k, top-p, min-p, temperature and a seeded
// distribution; temperature 0 is greedy. Pieces are rendered without special
// tokens and assembled into whole UTF-8 characters (TextAssembler), so the
// streamed pieces add up to the non-streamed text.
//
// Embeddings use a second context (created on first use, pooled: the model's
// own pooling, else mean; or mean/cls/last as asked) that packs up to
// kEmbedSequences texts into one batch.
//
// Not thread-safe (see backend.h), but separate backends may load and run on
// separate threads at once. llama.cpp is reached through the llamacpp/
// adapter: its log goes to Hangar's log, and a failed load reports only the
// error lines llama.cpp logged on the loading thread
// (llamacpp/log_capture.h).
#ifndef HANGAR_RUNTIME_LLAMA_BACKEND_H_
#define HANGAR_RUNTIME_LLAMA_BACKEND_H_

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "config/limits.h"
#include "core/status.h"
#include "fit/memory.h"
#include "fit/model_facts.h"
#include "hardware/hardware.h"
#include "runtime/backend.h"

namespace hangar::runtime {

inline constexpr uint32_t kEmbedSequences = 8;
inline constexpr uint32_t kMinRecoveryContext = 512;

Result<std::unique_ptr<Backend>> MakeLlamaBackend(const BackendContext& context);

// How many layers go to the GPU(s), and why.
struct GpuLayerChoice {
  int32_t n_gpu_layers = 0;  // as llama.cpp's -ngl; -1 = all
  bool offload = false;      // GPU layers are possible at all here
  std::string reason;        // "all (planned for this machine: ...)", "0: no GPU on this machine"
};

// `requested` when given (0 without a GPU or a GPU backend in this llama.cpp
// build); else the fit planner's answer for `facts` and `request` on `hw`
// within `limits` (fit/planner.h: all layers when they fit, else the most
// that fit). Errors of PlanFit (a malformed request).
Result<GpuLayerChoice> ChooseGpuLayers(const fit::ModelFacts& facts,
                                       const fit::MemoryRequest& request,
                                       std::optional<int32_t> requested, const HardwareInfo* hw,
                                       const Limits& limits, bool backend_offloads);

}  // namespace hangar::runtime

#endif  // HANGAR_RUNTIME_LLAMA_BACKEND_H_
