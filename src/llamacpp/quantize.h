// Quantize: llama.cpp's own quantizer (llama_model_quantize, what
// llama-quantize runs) on a GGUF file, with its progress.
//
// Thread-safe: each call is independent (llama.cpp quantizes with its own
// worker threads); progress is reported on the calling thread.
#ifndef HANGAR_LLAMACPP_QUANTIZE_H_
#define HANGAR_LLAMACPP_QUANTIZE_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "core/status.h"

namespace hangar::llamacpp {

struct QuantizeRequest {
  std::filesystem::path input;   // a GGUF llama.cpp loads
  std::filesystem::path output;  // written by llama.cpp (the caller makes it atomic)
  uint32_t ftype = 15;           // enum llama_ftype (15: Q4_K_M)
  int threads = 0;               // 0: every core
  bool allow_requantize = false; // quantize tensors that are quantized already
  // Called for each tensor llama.cpp has done: (done, total).
  std::function<void(uint32_t, uint32_t)> progress;
};

// True for the types llama.cpp refuses to make without an importance
// matrix (IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, Q2_K_S).
bool NeedsImportanceMatrix(uint32_t ftype);

// Runs llama_model_quantize with llama-quantize's defaults. InvalidArgument
// for a type that needs an importance matrix; Internal with llama.cpp's
// error lines when it fails.
Status Quantize(const QuantizeRequest& request);

}  // namespace hangar::llamacpp

#endif  // HANGAR_LLAMACPP_QUANTIZE_H_
