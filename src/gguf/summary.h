// ModelSummary: the facts about a GGUF model that the rest of Hangar needs
// (architecture, size, quantization mix, attention shape, vocabulary, ...),
// drawn from a GgufFile's metadata and tensor table, or from all parts of a
// split model. Also the printable form of the metadata for `hangar inspect`.
//
// Architecture keys are read under the `general.architecture` prefix
// ("llama.block_count"). A fact the file does not state is nullopt (null in
// JSON), except head dimensions, which default to embedding / heads as in
// llama.cpp. Values are plain data; functions are pure and thread-safe.
#ifndef HANGAR_GGUF_SUMMARY_H_
#define HANGAR_GGUF_SUMMARY_H_

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"

namespace hangar::gguf {

struct TypeShare {
  uint64_t tensors = 0;
  uint64_t bytes = 0;
};

struct ModelSummary {
  std::vector<std::string> files;  // file names; several for a split model
  uint32_t version = 0;
  std::string architecture;
  std::string name;                        // general.name
  uint64_t parameter_count = 0;            // sum of the tensors' element counts
  std::optional<uint32_t> file_type;       // general.file_type, or guessed
  bool file_type_guessed = false;          // no general.file_type: guessed from the tensors
  std::map<std::string, TypeShare> types;  // by ggml type name ("q4_K"): the quantization mix

  std::optional<uint64_t> context_length;
  std::optional<uint64_t> block_count;  // layers
  std::optional<uint64_t> embedding_length;
  std::optional<uint64_t> feed_forward_length;    // the largest when given per layer
  std::optional<uint64_t> head_count;             // the largest when given per layer
  std::optional<uint64_t> head_count_kv;          // the largest when given per layer
  std::vector<uint64_t> head_count_per_layer;     // when the file gives an array
  std::vector<uint64_t> head_count_kv_per_layer;  // when the file gives an array
  std::vector<uint64_t> feed_forward_length_per_layer;
  std::optional<uint64_t> key_length;    // per head; else embedding / heads
  std::optional<uint64_t> value_length;  // per head; else embedding / heads
  std::optional<uint64_t> sliding_window;
  // One flag per layer: true for sliding-window layers. From the
  // sliding_window_pattern key (an array, or a period n: every n-th layer is
  // full) or from llama.cpp's default for the architecture (gemma2 2,
  // gemma3 6, ...). Empty without a sliding window.
  std::vector<bool> sliding_window_layers;
  std::optional<uint64_t> expert_count;
  std::optional<uint64_t> expert_used_count;
  std::optional<uint64_t> expert_feed_forward_length;
  std::optional<uint64_t> kv_lora_rank;  // MLA (DeepSeek)
  std::optional<uint64_t> rope_dimension_count;
  // SSM / recurrent state (Mamba and hybrids).
  std::optional<uint64_t> ssm_conv_kernel;
  std::optional<uint64_t> ssm_inner_size;
  std::optional<uint64_t> ssm_state_size;
  std::optional<uint64_t> ssm_time_step_rank;
  std::optional<uint64_t> ssm_group_count;

  std::optional<uint64_t> vocab_size;  // tokenizer.ggml.tokens' length, else <arch>.vocab_size
  std::string tokenizer_model;         // tokenizer.ggml.model: "gpt2", "llama", ...
  bool has_chat_template = false;
  std::optional<uint64_t> bos_token_id;
  std::optional<uint64_t> eos_token_id;

  uint32_t alignment = 32;
  uint64_t data_offset = 0;         // of the first file
  uint64_t header_bytes = 0;        // summed over files
  uint64_t tensor_bytes = 0;        // summed over files
  uint64_t file_size = 0;           // summed over files (0 when unknown)
  uint64_t kv_count = 0;            // of the first file
  std::vector<TensorInfo> tensors;  // of every file; TensorInfo::part says which

  // The file type's tag ("Q4_K_M"), "" when unknown.
  std::string FileTypeTag() const;
};

// The summary of one file.
ModelSummary Summarize(const GgufFile& file);
// The summary of a split model: metadata from parts[0], tensors and sizes of
// every part (their TensorInfo::part set to the index). Empty `parts` gives
// an empty summary.
ModelSummary Summarize(std::span<const GgufFile> parts);

// The summary as JSON for `hangar inspect --json`; the tensor table only
// when `with_tensors`. Strings that are not UTF-8 are repaired (U+FFFD), so
// the result can always be dumped. Shape:
//   {"files": [...], "version": 3, "architecture": "llama", "name": "...",
//    "parameters": 8030261248, "file_type": {"id": 15, "tag": "Q4_K_M",
//    "description": "Q4_K - Medium", "guessed": false} | null,
//    "types": {"q4_K": {"tensors": 193, "bytes": ...}, ...},
//    "hparams": {"context_length": 131072, "block_count": 32, ... (null when absent),
//                "head_count_kv_per_layer": [...], "sliding_window_layers": [...]},
//    "ssm": {...} | null,
//    "tokenizer": {"model": "gpt2", "vocab_size": 128256, "bos_token_id": 1,
//                  "eos_token_id": 2, "chat_template": true},
//    "layout": {"alignment": 32, "data_offset": ..., "header_bytes": ...,
//               "tensor_bytes": ..., "file_size": ..., "kv_count": ..., "tensor_count": ...},
//    "tensors": [{"name", "type", "dims": [...], "offset", "bytes", "part"}]}  // with_tensors
nlohmann::json ToJson(const ModelSummary& summary, bool with_tensors);

// One metadata key/value in printable form.
struct MetadataLine {
  std::string key;
  std::string type;   // "u32", "str", "[str; 151936]", "[arr; 4]" for arrays of arrays
  std::string value;  // `42`, `"llama"`, `["!", "\"", "#", ... (151933 more)]`
};

// The file's key/values in file order. Strings are quoted and escaped and
// cut at `max_string` bytes; arrays show their first `max_elements` elements.
std::vector<MetadataLine> MetadataLines(const GgufFile& file, size_t max_elements = 6,
                                        size_t max_string = 120);

// One value as MetadataLines writes it.
std::string FormatValue(const Value& value, size_t max_elements = 6, size_t max_string = 120);

}  // namespace hangar::gguf

#endif  // HANGAR_GGUF_SUMMARY_H_
