// Owning handles of llama.cpp objects, and the one-time start of llama.cpp.
//
// ModelPtr, ContextPtr and SamplerPtr are llama.cpp's own unique_ptr types
// (llama-cpp.h): each frees its object (llama_model_free, llama_free,
// llama_sampler_free) when it goes. A context must go before the model it
// was made from. Batch owns a llama_batch from llama_batch_init.
//
// InitBackend() starts llama.cpp once per process: the log callback
// (log_capture.h) first, so that nothing llama.cpp says reaches stderr, then
// llama_backend_init(). LoadModel and NewContext call it, so code that gets
// its handles from them never calls llama.cpp unstarted.
//
// Thread-safety: InitBackend, LoadModel and NewContext may be called from any
// thread, several at once. Each handle is as thread-safe as llama.cpp makes
// its object: a model may be shared by contexts on several threads; a
// context, a sampler or a batch is used by one thread at a time.
#ifndef HANGAR_LLAMACPP_HANDLES_H_
#define HANGAR_LLAMACPP_HANDLES_H_

#include <cstdint>
#include <filesystem>

#include "llama-cpp.h"
#include "llama.h"

namespace hangar::llamacpp {

using ModelPtr = llama_model_ptr;
using ContextPtr = llama_context_ptr;
using SamplerPtr = llama_sampler_ptr;

// Installs the log callback (InstallLog) and calls llama_backend_init(), the
// first time only; later calls return at once. Thread-safe.
void InitBackend();

// The model at `path` loaded with `params` (llama_model_load_from_file),
// after InitBackend(). nullptr when llama.cpp cannot load it: its reason is
// in the error lines of a LogCapture held around the call.
ModelPtr LoadModel(const std::filesystem::path& path, const llama_model_params& params);

// A context of `model` with `params` (llama_init_from_model), after
// InitBackend(). nullptr when llama.cpp refuses the settings or cannot
// allocate the context: the reason is in the error lines of a LogCapture
// held around the call, and LogCapture::out_of_memory() tells the latter.
ContextPtr NewContext(llama_model* model, const llama_context_params& params);

// A llama_batch of up to `n_tokens` tokens (no embeddings) each in up to
// `n_seq_max` sequences (llama_batch_init), freed with llama_batch_free.
// Its n_tokens starts at 0. Neither copyable nor movable.
class Batch {
 public:
  Batch(int32_t n_tokens, int32_t n_seq_max);
  ~Batch();
  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;

  llama_batch& get() { return batch_; }
  llama_batch* operator->() { return &batch_; }

 private:
  llama_batch batch_;
};

}  // namespace hangar::llamacpp

#endif  // HANGAR_LLAMACPP_HANDLES_H_
