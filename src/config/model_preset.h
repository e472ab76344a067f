// Model presets: the user's own model entries in config.toml, one table
// [model_presets.NAME] each. They extend and override the built-in catalog
// (the catalog module merges them); every field is optional so that a merger
// can tell "set" from "unset". Paths (weights, tokenizer) are kept as written;
// whoever opens them resolves "~" and relative paths.
//
// Keys (TOML type in brackets):
//   weights, tokenizer, format, quality, use_case [string]
//   size_gb (> 0), avg_tokens_per_sec (>= 0), min_ram_gb (>= 0) [number]
//   context_length (> 0) [integer]
//   hf_repo, hf_file, ollama, quantization, family, purpose, description [string]
//   sha256 [string of 64 hex digits]
//   parameters [number of billions, or a string such as "7B", "1.5B", "500M"]
//   tags [array of strings]
//   layers, embedding, heads, kv_heads, head_dim (> 0) [integer]
//
// Plain values and pure functions: thread-safe.
#ifndef HANGAR_CONFIG_MODEL_PRESET_H_
#define HANGAR_CONFIG_MODEL_PRESET_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/status.h"

namespace hangar {

struct ModelPreset {
  std::string name;  // NAME of [model_presets.NAME]

  // Fields of specs/000.
  std::optional<std::string> weights;
  std::optional<std::string> tokenizer;
  std::optional<std::string> format;
  std::optional<double> size_gb;
  std::optional<double> avg_tokens_per_sec;
  std::optional<std::string> quality;
  std::optional<std::string> use_case;
  std::optional<int64_t> context_length;
  std::optional<double> min_ram_gb;

  // Catalog fields.
  std::optional<std::string> hf_repo;
  std::optional<std::string> hf_file;
  std::optional<std::string> ollama;
  std::optional<std::string> quantization;
  std::optional<std::string> family;
  std::optional<uint64_t> parameters;  // a count: 7B is 7000000000
  std::optional<std::string> purpose;
  std::optional<std::vector<std::string>> tags;
  std::optional<std::string> description;
  std::optional<std::string> sha256;  // lower-case hex

  // Architecture facts.
  std::optional<int64_t> layers;
  std::optional<int64_t> embedding;
  std::optional<int64_t> heads;
  std::optional<int64_t> kv_heads;
  std::optional<int64_t> head_dim;

  // What a chat with this name gets by default (Ollama's /api/create system,
  // template and parameters): a request's own values win.
  std::optional<std::string> system;         // used when a chat has no system message
  std::optional<std::string> chat_template;  // Jinja, replacing the model's
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<int64_t> top_k;
  std::optional<double> min_p;
  std::optional<double> repeat_penalty;
  std::optional<int64_t> seed;
  std::optional<int64_t> max_tokens;
  std::optional<std::vector<std::string>> stop;

  friend bool operator==(const ModelPreset&, const ModelPreset&) = default;
};

// One optional field of ModelPreset, for code that walks all of them (the
// config parser, ToJson). `key` is the TOML key and the JSON name.
struct ModelPresetField {
  using Member =
      std::variant<std::optional<std::string> ModelPreset::*, std::optional<double> ModelPreset::*,
                   std::optional<int64_t> ModelPreset::*, std::optional<uint64_t> ModelPreset::*,
                   std::optional<std::vector<std::string>> ModelPreset::*>;
  std::string_view key;
  Member member;
};
// All fields, in the order of the struct.
std::span<const ModelPresetField> ModelPresetFields();

// Empty when `value` is acceptable for the numeric preset key `key`, else
// what is wrong ("must be greater than 0, got -1").
std::string CheckPresetNumber(std::string_view key, double value);

// Empty when `value` is acceptable for the string preset key `key` (sha256
// must be 64 hex digits; nothing may be empty), else what is wrong.
std::string CheckPresetString(std::string_view key, std::string_view value);

// Empty when `name` may name a preset (1 to 128 of A-Z a-z 0-9 . _ -), else
// what is wrong.
std::string CheckPresetName(std::string_view name);

// A parameter count from "7B", "1.5b", "500M", "135k", "1T" or a bare number
// of billions ("7"). InvalidArgument when malformed, not positive or too large.
Result<uint64_t> ParseParameterCount(std::string_view text);

// {"name": NAME, KEY: value...} with only the fields that are set.
nlohmann::json ToJson(const ModelPreset& preset);

}  // namespace hangar

#endif  // HANGAR_CONFIG_MODEL_PRESET_H_
