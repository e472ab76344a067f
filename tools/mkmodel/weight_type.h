// WeightType: how the weights of a generated model are stored, named as
// llama.cpp names file types ("f16", "q8_0", "q4_k_m").
//
// Plain types (f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1) are written
// directly: every 2-D/3-D weight in that type, while norms, biases and the
// MoE router stay F32, as llama.cpp's converter does. K-quant mixes (q4_k_m,
// q6_k, ...) are made the way people make them: an F16 file quantized by
// llama.cpp's own llama_model_quantize, which picks the per-tensor types.
// The table is constant data; all functions are pure and thread-safe.
#ifndef HANGAR_TOOLS_MKMODEL_WEIGHT_TYPE_H_
#define HANGAR_TOOLS_MKMODEL_WEIGHT_TYPE_H_

#include <ggml.h>
#include <llama.h>

#include <cstdint>
#include <span>
#include <string_view>

#include "core/status.h"

namespace hangar::mkmodel {

struct WeightType {
  std::string_view name;   // lower case, e.g. "q4_k_m"
  llama_ftype file_type;   // written as general.file_type
  ggml_type tensor_type;   // type of the weight matrices (the main one for a mix)
  bool via_quantize;       // written as F16, then llama_model_quantize
  double bits_per_weight;  // average over the weight matrices (estimate for mixes)
};

// Every supported type, plain ones first.
std::span<const WeightType> AllWeightTypes();

// The type named `name` (case-insensitive: "Q8_0" works). InvalidArgument
// listing the known names otherwise.
Result<WeightType> ParseWeightType(std::string_view name);

// "f32, f16, bf16, q8_0, ..." for help texts and messages.
std::string WeightTypeNames();

}  // namespace hangar::mkmodel

#endif  // HANGAR_TOOLS_MKMODEL_WEIGHT_TYPE_H_
