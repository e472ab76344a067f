// ModelFacts: what the memory estimator needs to know about a model, in one
// shape whatever the source — a GGUF header (gguf::ModelSummary, exact: the
// weights of every layer are summed from the tensor table) or a catalog entry
// (CatalogEntry: architecture facts and the file size, the weights spread over
// the layers in proportion to their parameter counts).
//
// Layers follow llama.cpp's placement units: the input (token embeddings,
// always on the CPU), the repeating blocks blk.0 .. blk.N-1, and the output
// layer (output norm and output matrix), which counts as one more layer for
// -ngl. Plain values: copyable, thread-safe to read; the functions are pure.
#ifndef HANGAR_FIT_MODEL_FACTS_H_
#define HANGAR_FIT_MODEL_FACTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "catalog/catalog_entry.h"
#include "core/status.h"
#include "gguf/summary.h"

namespace hangar::fit {

// One repeating block.
struct LayerFacts {
  uint64_t weight_bytes = 0;
  uint32_t n_head = 0;
  uint32_t n_head_kv = 0;      // 0: no KV cache (recurrent or attention-free layer)
  uint32_t head_k = 0;         // K width per head
  uint32_t head_v = 0;         // V width per head
  bool swa = false;            // sliding-window attention
  bool recurrent = false;      // holds a recurrent (SSM) state instead of KV cells
  uint32_t n_ff = 0;           // dense feed-forward width (0 for an MoE-only layer)
  uint32_t n_ff_expert = 0;    // width of one expert (MoE layers)
  uint32_t n_expert_used = 0;  // experts per token (MoE layers)
};

struct ModelFacts {
  std::string name;          // file name or catalog id, for messages
  std::string architecture;  // general.architecture
  bool exact = false;        // weights from a tensor table (else spread approximately)
  uint32_t n_embd = 0;
  uint32_t n_vocab = 0;
  uint32_t n_ctx_train = 0;
  uint32_t n_swa = 0;         // sliding window in tokens (0: none)
  uint32_t kv_lora_rank = 0;  // MLA: the cache holds kv_lora_rank + n_rot per token
  uint32_t n_rot = 0;
  // F32 values of recurrent state per sequence and recurrent layer (conv + SSM
  // state, llama.cpp's n_embd_r + n_embd_s).
  uint64_t recurrent_state_elements = 0;
  uint64_t input_bytes = 0;   // token embeddings and other input tensors (CPU)
  uint64_t output_bytes = 0;  // output norm and output matrix
  // The output matrix is the token embedding matrix (tied): llama.cpp copies
  // it when the output layer sits on a GPU, or on the CPU when its type is
  // repacked there for faster matrix products (then `tied_output_repacked`).
  uint64_t tied_output_bytes = 0;
  bool tied_output_repacked = false;
  std::vector<LayerFacts> layers;
  uint64_t file_bytes = 0;  // on disk, all parts (0 when unknown)

  uint32_t n_layer() const { return static_cast<uint32_t>(layers.size()); }
  uint64_t WeightBytes() const;  // input + layers + output
};

// Facts from a GGUF header. InvalidArgument naming the model when the header
// lacks what llama.cpp itself requires (block count, embedding length, head
// count, a tensor table whose blocks match the block count).
Result<ModelFacts> FactsFromSummary(const gguf::ModelSummary& summary);

// Facts from a catalog entry. InvalidArgument naming the entry when its
// architecture facts are missing (block count, embedding length, heads) or it
// is not a GGUF model.
Result<ModelFacts> FactsFromCatalog(const CatalogEntry& entry);

}  // namespace hangar::fit

#endif  // HANGAR_FIT_MODEL_FACTS_H_
