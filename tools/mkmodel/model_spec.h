// ModelSpec and ModelShape: what a generated test model looks like.
//
// A ModelSpec is the request: an architecture, a weight type and any of the
// hyper-parameters, where 0 means "choose for me". ResolveShape turns it into
// a ModelShape with every number fixed: small defaults (2 layers, 128 wide)
// or, when target_bytes is set, the layers/width/feed-forward size that land
// the file near that size. PlanTensors lists the tensors llama.cpp expects for
// the shape (names and ggml dimension order as in llama.cpp's llama-arch.cpp
// and src/models/*.cpp). Everything here is pure and thread-safe.
#ifndef HANGAR_TOOLS_MKMODEL_MODEL_SPEC_H_
#define HANGAR_TOOLS_MKMODEL_MODEL_SPEC_H_

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "mkmodel/weight_type.h"

namespace hangar::mkmodel {

enum class Arch { kLlama, kQwen2, kQwen3, kQwen3Moe, kGemma2, kGemma3, kPhi3 };

// What distinguishes one architecture's tensors and keys from another's.
struct ArchTraits {
  Arch arch;
  std::string_view name;            // general.architecture, e.g. "qwen3moe"
  std::string_view default_vocab;   // ggml-vocab-<name>.gguf used when none is asked for
  bool moe = false;                 // ffn_gate_inp + ffn_{gate,up,down}_exps
  bool qk_norm = false;             // attn_q_norm / attn_k_norm per head
  bool qkv_bias = false;            // attn_{q,k,v}.bias
  bool fused_qkv = false;           // one attn_qkv instead of attn_q/k/v
  bool fused_gate_up = false;       // ffn_up holds gate and up (2 × ff rows), no ffn_gate
  bool post_norms = false;          // post_attention_norm / post_ffw_norm (Gemma)
  bool attn_width_is_embd = false;  // heads × head_dim must equal the embedding width
  bool tied_by_default = false;     // no output.weight: the output reuses token_embd
  bool always_tied = false;         // llama.cpp never reads output.weight
  bool writes_vocab_size = false;   // {arch}.vocab_size (llama's converter writes it)
  bool writes_rope_dims = false;    // {arch}.rope.dimension_count
  uint32_t sliding_window = 0;      // default attention.sliding_window; 0: none
  float attn_softcap = 0;           // attn_logit_softcapping; 0: not written
  float final_softcap = 0;          // final_logit_softcapping; 0: not written
  float rope_freq_base = 10000.0f;
  float rms_eps = 1e-5f;
};

// Every supported architecture.
std::span<const ArchTraits> AllArchs();
// The traits of `name` ("qwen3moe"). InvalidArgument listing the known ones.
Result<const ArchTraits*> FindArch(std::string_view name);
// "llama, qwen2, ..." for help texts.
std::string ArchNames();

// The request. Zero (or empty) fields are chosen by ResolveShape.
struct ModelSpec {
  std::string arch = "llama";
  std::string type = "f16";  // a WeightType name
  std::string name;          // general.name; empty: "mkmodel <arch> <type>"
  std::string chat_template;  // tokenizer.chat_template; empty: the vocabulary's (or a default)
  uint32_t layers = 0;
  uint32_t embd = 0;  // embedding width
  uint32_t ff = 0;    // feed_forward_length
  uint32_t heads = 0;
  uint32_t kv_heads = 0;
  uint32_t head_dim = 0;  // attention.key_length = value_length
  uint32_t ctx = 0;       // context_length (training context)
  uint32_t experts = 0;   // MoE only
  uint32_t experts_used = 0;
  uint32_t expert_ff = 0;              // expert_feed_forward_length
  uint32_t sliding_window = 0;         // architectures with sliding-window attention
  uint32_t swa_pattern = 0;            // written as attention.sliding_window_pattern when set
  std::optional<bool> tie_embeddings;  // unset: the architecture's habit
  uint64_t target_bytes = 0;           // when set, pick the unset sizes to land near this file size
  // Token pairs (exact texts): right after the first, greedy decoding picks
  // the second whenever it is allowed. A random model made to start a tool
  // call after its prompt and to stop after the call, with a grammar
  // choosing everything in between. Needs untied output weights (chosen
  // when the architecture allows).
  std::vector<std::pair<std::string, std::string>> follows;
  std::string vocab;                // "qwen2", "llama-spm", or a path to a .gguf; empty: per arch
  std::filesystem::path vocab_dir;  // where ggml-vocab-*.gguf live; empty: DefaultVocabDir()
  uint64_t seed = 1;
  float init_std = 0.02f;  // standard deviation of the random weights
  int threads = 0;         // 0: all cores
};

// The resolved model: every number fixed.
struct ModelShape {
  const ArchTraits* arch = nullptr;
  WeightType type{};
  uint32_t n_vocab = 0;
  uint32_t layers = 0, embd = 0, ff = 0, heads = 0, kv_heads = 0, head_dim = 0, ctx = 0;
  uint32_t experts = 0, experts_used = 0, expert_ff = 0;
  uint32_t sliding_window = 0, swa_pattern = 0;
  bool tied = false;
  std::vector<std::pair<int64_t, int64_t>> follows;  // ModelSpec::follows as token ids
};

// How a tensor's values are made.
enum class Fill { kOnes, kRandom };

// One tensor of the model, in ggml order (ne[0] is the row length).
struct TensorPlan {
  std::string name;
  std::array<int64_t, 3> ne{1, 1, 1};
  int n_dims = 1;
  Fill fill = Fill::kRandom;
  bool keep_f32 = false;  // norms, biases and the MoE router stay F32

  int64_t elements() const { return ne[0] * ne[1] * ne[2]; }
};

// Fixes every field of `spec` for a vocabulary of `n_vocab` tokens whose
// tokenizer metadata takes `vocab_meta_bytes`. InvalidArgument when the
// architecture or type is unknown, the numbers contradict each other
// (kv_heads not dividing heads, experts on a dense architecture, qwen2 with
// heads × head_dim ≠ embd, ...) or target_bytes is below the smallest model.
Result<ModelShape> ResolveShape(const ModelSpec& spec, uint32_t n_vocab, uint64_t vocab_meta_bytes);

// The tensors llama.cpp expects for `shape`, in file order.
std::vector<TensorPlan> PlanTensors(const ModelShape& shape);

// The type a tensor is stored in when the file is written directly with
// `type`: F32 for keep_f32 tensors, F16 for rows the type's block does not
// divide (as llama.cpp's converter falls back), else the type itself. A
// K-quant mix is written as F16 first, so that is what it returns for one.
ggml_type StoredType(const TensorPlan& tensor, const WeightType& type);

// The file size `shape` gives: exact for plain types (plus metadata), an
// estimate from bits_per_weight for K-quant mixes.
uint64_t EstimateFileBytes(const ModelShape& shape, uint64_t vocab_meta_bytes);

// Number of weights (all tensor elements) of `shape`.
uint64_t CountParams(const ModelShape& shape);

}  // namespace hangar::mkmodel

#endif  // HANGAR_TOOLS_MKMODEL_MODEL_SPEC_H_
