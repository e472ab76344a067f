// CatalogEntry: one model the catalog knows — what it is, where its bytes come
// from, how big it is, and the architecture facts (GGUF hyper-parameters) that
// let Hangar estimate its memory before anything is downloaded.
//
// Entries are plain values that own their strings; they are copyable and safe
// to read from any thread. The helpers in this header are pure functions.
//
// Memory figures: `min_ram_bytes` is the weights plus an f16 KV cache for
// kMinRamContextTokens tokens (or the whole context when shorter) plus
// kRuntimeOverheadBytes — what a CPU run with a working context needs.
// `min_vram_bytes` is the weights plus an f16 KV cache for kMinVramContextTokens
// tokens plus kComputeBufferBytes — the least a GPU needs to hold every layer.
// Both are derived by FillDerivedFields() when a table leaves them at zero; the
// fit module computes exact figures from a real GGUF header.
#ifndef HANGAR_CATALOG_CATALOG_ENTRY_H_
#define HANGAR_CATALOG_CATALOG_ENTRY_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/units.h"

namespace hangar {

enum class ModelFormat { kGguf, kOnnx, kSafetensors, kPytorch };

// What an entry is best at: the trade-off a user picks by.
enum class Purpose { kSpeed, kBalanced, kQuality, kSpecialized };

enum class SourceKind { kHuggingFace, kOllama, kUrl };

// "gguf", "onnx", "safetensors". Parsing is case-insensitive; InvalidArgument
// names the text and the accepted values.
std::string_view ModelFormatName(ModelFormat format);
Result<ModelFormat> ParseModelFormat(std::string_view text);

// "speed", "balanced", "quality", "specialized" (case-insensitive to parse).
std::string_view PurposeName(Purpose purpose);
Result<Purpose> ParsePurpose(std::string_view text);

// "huggingface" (also parses "hf"), "ollama", "url".
std::string_view SourceKindName(SourceKind kind);
Result<SourceKind> ParseSourceKind(std::string_view text);

// One place the model's bytes can be fetched from.
struct ModelSource {
  SourceKind kind = SourceKind::kHuggingFace;
  // Hugging Face: "ORG/REPO". Ollama: "[NAMESPACE/]NAME:TAG". URL: the URL.
  std::string repo;
  // Hugging Face: path of the file in the repository; for a split model the
  // first part ("...-00001-of-00003.gguf"). Empty for other kinds.
  std::string file;
  // Number of parts of a split model; 1 for a single file.
  uint32_t split_count = 1;
  // Lowercase hex SHA-256 of `file` when it is a single file and the digest is
  // known; empty otherwise (the hub's own digest is checked then).
  std::string sha256;

  // "hf://ORG/REPO/FILE", "ollama://NAME:TAG" or the URL.
  std::string Reference() const;
  friend bool operator==(const ModelSource&, const ModelSource&) = default;
};

// Hyper-parameters as a GGUF header names them (`<arch>.block_count`, ...).
// Zero means "not applicable" (no experts, no sliding window, no MLA).
struct ModelArchitecture {
  std::string name;                  // general.architecture: "llama", "qwen2", "gemma3", ...
  uint32_t block_count = 0;          // layers
  uint32_t embedding_length = 0;     // hidden size
  uint32_t feed_forward_length = 0;  // dense FFN size (of the dense layers for MoE)
  uint32_t head_count = 0;
  uint32_t head_count_kv = 0;
  uint32_t key_length = 0;    // per-head K size (qk_nope + qk_rope for MLA)
  uint32_t value_length = 0;  // per-head V size
  uint32_t vocab_size = 0;
  // Sliding-window attention: window in tokens and the layer pattern as
  // llama.cpp applies it: layer il slides when pattern == 0 or
  // il % pattern < pattern - 1 (gemma2: 2 = every other layer, gemma3: 6 = five
  // local layers to one global).
  uint32_t sliding_window = 0;
  uint32_t sliding_window_pattern = 0;
  // Mixture of experts.
  uint32_t expert_count = 0;
  uint32_t expert_used_count = 0;
  uint32_t expert_shared_count = 0;
  uint32_t expert_feed_forward_length = 0;
  uint32_t leading_dense_block_count = 0;  // DeepSeek's first_k_dense_replace
  // Multi-head latent attention (DeepSeek-V2/V3): the KV cache holds one latent
  // of kv_lora_rank + rope_dimension_count values per token and layer.
  uint32_t kv_lora_rank = 0;
  uint32_t rope_dimension_count = 0;

  bool IsMoe() const { return expert_count > 0; }
  bool HasSlidingWindow() const { return sliding_window > 0; }
  bool UsesMla() const { return kv_lora_rank > 0; }
  // True when layer `il` attends only to the last `sliding_window` tokens.
  bool IsSlidingWindowLayer(uint32_t il) const;
  friend bool operator==(const ModelArchitecture&, const ModelArchitecture&) = default;
};

struct CatalogEntry {
  std::string id;                     // unique, lowercase: "qwen2.5-coder-7b-q5"
  std::string name;                   // display name: "Qwen2.5 Coder 7B Instruct (Q5_K_M)"
  std::string family;                 // "qwen2.5-coder", "llama3.1", "gemma3", ...
  double parameter_count = 0;         // 7.62e9
  std::string parameter_label;        // "7B"
  double active_parameter_count = 0;  // MoE: parameters used per token; 0 when dense
  std::string quantization;           // "Q4_K_M", "Q8_0", "F16", "BF16", "INT4"
  ModelFormat format = ModelFormat::kGguf;
  uint32_t context_length = 0;   // trained context window, tokens
  uint64_t file_size_bytes = 0;  // all parts together
  bool size_approximate = true;  // false when the size is the published byte count
  uint64_t min_ram_bytes = 0;    // see the header comment; 0 = derive
  uint64_t min_vram_bytes = 0;   // see the header comment; 0 = derive
  Purpose purpose = Purpose::kBalanced;
  int quality_tier = 3;           // 1 (basic) .. 5 (best)
  std::vector<std::string> tags;  // "coding", "chat", "reasoning", "recommended", ...
  bool recommended = false;       // recommended for its size class
  std::string description;
  std::string use_case;
  std::vector<ModelSource> sources;  // preferred first
  std::vector<std::string> aliases;  // other names that resolve to this entry
  ModelArchitecture arch;
  bool builtin = false;  // true for entries of the embedded table

  bool HasTag(std::string_view tag) const;  // case-insensitive
  // The first source of `kind`, or nullptr.
  const ModelSource* FirstSource(SourceKind kind) const;
  friend bool operator==(const CatalogEntry&, const CatalogEntry&) = default;
};

inline constexpr uint32_t kMinRamContextTokens = 16384;
inline constexpr uint32_t kMinVramContextTokens = 4096;
inline constexpr uint64_t kRuntimeOverheadBytes = 1 * kGiB;
inline constexpr uint64_t kComputeBufferBytes = 512 * kMiB;
// Batch size llama.cpp adds to a sliding window's cells (n_ubatch).
inline constexpr uint32_t kSlidingWindowBatchTokens = 512;

// Bytes of an f16 KV cache holding `context_tokens` tokens of one sequence:
// sliding-window layers keep min(context, window + batch) cells, MLA layers one
// latent per token. 0 when the architecture is unknown (block_count == 0).
uint64_t ApproxKvCacheBytes(const ModelArchitecture& arch, uint32_t context_tokens);

// Sets min_ram_bytes / min_vram_bytes from the size and architecture when they
// are 0, and adds the "recommended" tag to a recommended entry (and sets the
// flag when the tag is present). Never fails.
void FillDerivedFields(CatalogEntry& entry);

// The JSON form of an entry. Every field is written, zeros included, so the
// shape is stable:
//   {"id", "name", "family", "parameter_count" (number), "parameter_label",
//    "active_parameter_count", "quantization", "format" ("gguf"|"onnx"|
//    "safetensors"), "context_length", "file_size_bytes", "size_approximate",
//    "min_ram_bytes", "min_vram_bytes", "purpose" ("speed"|"balanced"|"quality"|
//    "specialized"), "quality_tier" (1-5), "tags" [..], "recommended",
//    "description", "use_case",
//    "sources" [{"kind" ("huggingface"|"ollama"|"url"), "repo", "file",
//                "split_count", "sha256", "reference"}],
//    "aliases" [..],
//    "architecture" {"name", "block_count", "embedding_length",
//      "feed_forward_length", "head_count", "head_count_kv", "key_length",
//      "value_length", "vocab_size", "sliding_window", "sliding_window_pattern",
//      "expert_count", "expert_used_count", "expert_shared_count",
//      "expert_feed_forward_length", "leading_dense_block_count",
//      "kv_lora_rank", "rope_dimension_count"},
//    "builtin"}
nlohmann::json ToJson(const CatalogEntry& entry);
nlohmann::json ToJson(const ModelSource& source);
nlohmann::json ToJson(const ModelArchitecture& arch);

// Parses what ToJson writes. Missing optional fields keep their defaults; "id"
// is required. InvalidArgument naming the field when a value has the wrong
// type or an unknown enum name.
Result<CatalogEntry> CatalogEntryFromJson(const nlohmann::json& json);

}  // namespace hangar

#endif  // HANGAR_CATALOG_CATALOG_ENTRY_H_
