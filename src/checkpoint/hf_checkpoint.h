// HfCheckpoint: a Hugging Face checkpoint on disk (a model folder, or one
// `.safetensors` file): its config, its safetensors shards (one file, or
// several with `model.safetensors.index.json`) and which tokenizer files it
// has, read without loading a byte of weights.
//
// PyTorch pickle files (`pytorch_model*.bin`, `*.pth`, `*.pt`) are
// recognised and refused: unpickling can run code, and Hangar never does.
// The index, when present, must name exactly the tensors the shards hold.
//
// Plain values once opened: thread-safe to read.
#ifndef HANGAR_CHECKPOINT_HF_CHECKPOINT_H_
#define HANGAR_CHECKPOINT_HF_CHECKPOINT_H_

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "checkpoint/safetensors.h"
#include "core/status.h"

namespace hangar::checkpoint {

struct Shard {
  std::filesystem::path path;
  uint64_t file_size = 0;
  SafetensorsHeader header;
};

struct HfCheckpoint {
  std::filesystem::path root;  // the folder (the file's folder for a single file)
  // config.json with a multimodal wrapper's text_config merged into the top
  // level (as llama.cpp's converter does); empty when there is none.
  nlohmann::json config;
  nlohmann::json generation_config;  // generation_config.json, or null
  std::vector<Shard> shards;         // sorted by file name
  bool has_index = false;            // model.safetensors.index.json was read
  bool has_tokenizer_json = false;
  bool has_tokenizer_model = false;  // SentencePiece
  bool has_chat_template = false;    // in tokenizer_config.json or chat_template.jinja

  std::string architecture_class() const;  // config.json architectures[0] ("LlamaForCausalLM")
  uint64_t parameter_count() const;        // elements of every tensor
  uint64_t tensor_bytes() const;
  // Bytes and tensors by dtype name ("BF16").
  std::map<std::string, std::pair<uint64_t, uint64_t>> dtypes() const;
  // The tensor `name` and its shard, or nullptr.
  const TensorInfo* Find(std::string_view name, const Shard** shard = nullptr) const;
};

// The GGUF architecture llama.cpp runs for an HF architecture class
// ("LlamaForCausalLM" -> "llama"), or empty when Hangar cannot convert it.
std::string_view GgufArchitecture(std::string_view hf_class);

// True when `path` looks like a Hugging Face checkpoint: a folder with
// config.json or weights, or a .safetensors/.bin/.pth/.pt file.
bool LooksLikeCheckpoint(const std::filesystem::path& path);

// Opens a checkpoint folder or a single .safetensors file. NotFound when it
// holds no weights; FailedPrecondition for PyTorch pickle weights (naming
// them); InvalidArgument / DataLoss for a broken header, config or index
// (naming the file and the byte offset).
Result<HfCheckpoint> OpenCheckpoint(const std::filesystem::path& path);

// {"path", "architecture_class", "architecture" (GGUF; null when not
//  convertible), "parameters", "tensor_bytes", "tensors", "dtypes": {NAME:
//  {"tensors", "bytes"}}, "files": [...], "config": {the hyper-parameters
//  read}, "tokenizer": {"tokenizer_json", "tokenizer_model", "chat_template"}}
nlohmann::json ToJson(const HfCheckpoint& c);

}  // namespace hangar::checkpoint

#endif  // HANGAR_CHECKPOINT_HF_CHECKPOINT_H_
