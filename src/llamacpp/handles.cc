#include "llamacpp/handles.h"

#include <mutex>

#include "llamacpp/log_capture.h"

namespace hangar::llamacpp {

void InitBackend() {
  static std::once_flag once;
  std::call_once(once, [] {
    InstallLog();
    llama_backend_init();
  });
}

ModelPtr LoadModel(const std::filesystem::path& path, const llama_model_params& params) {
  InitBackend();
  return ModelPtr(llama_model_load_from_file(path.c_str(), params));
}

ContextPtr NewContext(llama_model* model, const llama_context_params& params) {
  InitBackend();
  return ContextPtr(llama_init_from_model(model, params));
}

Batch::Batch(int32_t n_tokens, int32_t n_seq_max)
    : batch_(llama_batch_init(n_tokens, 0, n_seq_max)) {}

Batch::~Batch() { llama_batch_free(batch_); }

}  // namespace hangar::llamacpp
