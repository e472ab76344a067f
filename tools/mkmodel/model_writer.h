// The model writer: turns a ModelSpec into a GGUF file of random weights that
// llama.cpp loads and runs (finite logits), for tests and benchmarks.
//
// The file holds the architecture's hyper-parameter keys, the tokenizer keys
// of a real vocabulary (tokenizer.*, sized token_embd/output to it), general.*
// keys, and tensors filled with uniform random values of standard deviation
// spec.init_std (norm weights are 1). The values depend only on spec.seed and
// the tensor's name, never on the thread count: the same spec gives a
// byte-identical file. Tensor data is generated in chunks on spec.threads
// threads and streamed to disk, so a model is never held in memory. The file
// is written as "<out>.partial" and renamed onto `out` at the end; on failure
// the partial files are removed.
//
// WriteModel is thread-safe for distinct output paths.
#ifndef HANGAR_TOOLS_MKMODEL_MODEL_WRITER_H_
#define HANGAR_TOOLS_MKMODEL_MODEL_WRITER_H_

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include "core/status.h"
#include "mkmodel/model_spec.h"

namespace hangar::mkmodel {

// What was (or would be) written.
struct ModelFacts {
  std::filesystem::path path;
  std::string arch;   // general.architecture
  std::string type;   // weight type name, e.g. "q4_k_m"
  std::string name;   // general.name
  std::string vocab;  // vocabulary name, e.g. "qwen2"
  std::filesystem::path vocab_path;
  ModelShape shape;
  uint64_t seed = 0;
  uint64_t n_params = 0;  // all tensor elements
  uint64_t n_tensors = 0;
  uint64_t bytes = 0;                       // file size (PlanModel: the estimate)
  std::map<std::string, int> tensor_types;  // ggml type name → tensor count
};

// Resolves `spec` (vocabulary included) without writing anything; bytes is
// the estimated file size and tensor_types the planned ones (F16 for
// K-quant mixes, which llama_model_quantize decides later). Errors as
// Vocab::Open and ResolveShape.
Result<ModelFacts> PlanModel(const ModelSpec& spec);

// Writes the model to `out` (replacing it), creating parent folders.
// Errors: those of PlanModel; Unavailable when a file cannot be written
// (with the errno text); Internal when llama.cpp fails to quantize.
Result<ModelFacts> WriteModel(const ModelSpec& spec, const std::filesystem::path& out);

}  // namespace hangar::mkmodel

#endif  // HANGAR_TOOLS_MKMODEL_MODEL_WRITER_H_
