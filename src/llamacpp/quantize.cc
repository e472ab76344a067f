#include "llamacpp/quantize.h"

#include <fmt/format.h>

#include <cstdio>

#include "llama.h"
#include "llamacpp/handles.h"
#include "llamacpp/log_capture.h"

namespace hangar::llamacpp {

bool NeedsImportanceMatrix(uint32_t ftype) {
  switch (ftype) {
    case LLAMA_FTYPE_MOSTLY_IQ1_S:
    case LLAMA_FTYPE_MOSTLY_IQ1_M:
    case LLAMA_FTYPE_MOSTLY_IQ2_XXS:
    case LLAMA_FTYPE_MOSTLY_IQ2_XS:
    case LLAMA_FTYPE_MOSTLY_IQ2_S:
    case LLAMA_FTYPE_MOSTLY_Q2_K_S:
      return true;
    default:
      return false;
  }
}

Status Quantize(const QuantizeRequest& r) {
  if (NeedsImportanceMatrix(r.ftype)) {
    return InvalidArgumentError(
        "this type needs an importance matrix (activation statistics from llama-imatrix over "
        "calibration text), which Hangar does not make; pick Q2_K, Q3_K_M, IQ3_XXS or above");
  }
  InitBackend();
  // llama.cpp logs "[  12/ 291]  blk.1.attn_k.weight - ..." for each tensor.
  LogCapture capture([&](ggml_log_level, std::string_view line) {
    unsigned done = 0, total = 0;
    if (r.progress && std::sscanf(std::string(line.substr(0, 24)).c_str(), "[ %u/ %u]", &done, &total) == 2) {
      r.progress(done, total);
    }
  });
  llama_model_quantize_params params = llama_model_quantize_default_params();
  params.ftype = static_cast<llama_ftype>(r.ftype);
  params.nthread = r.threads;
  params.allow_requantize = r.allow_requantize;
  const uint32_t rc = llama_model_quantize(r.input.c_str(), r.output.c_str(), &params);
  if (rc != 0) {
    return InternalError(fmt::format("llama.cpp could not quantize {}: {}", r.input.filename().string(),
                                     capture.Reason()));
  }
  return Status::Ok();
}

}  // namespace hangar::llamacpp
