#include "mkmodel/weight_type.h"

#include <cctype>
#include <string>

namespace hangar::mkmodel {
namespace {

// bits_per_weight of the mixes: the main type's block size, raised where
// llama_model_quantize moves attn_v/ffn_down/output to a larger type.
constexpr WeightType kTypes[] = {
    {"f32", LLAMA_FTYPE_ALL_F32, GGML_TYPE_F32, false, 32.0},
    {"f16", LLAMA_FTYPE_MOSTLY_F16, GGML_TYPE_F16, false, 16.0},
    {"bf16", LLAMA_FTYPE_MOSTLY_BF16, GGML_TYPE_BF16, false, 16.0},
    {"q8_0", LLAMA_FTYPE_MOSTLY_Q8_0, GGML_TYPE_Q8_0, false, 8.5},
    {"q5_1", LLAMA_FTYPE_MOSTLY_Q5_1, GGML_TYPE_Q5_1, false, 6.0},
    {"q5_0", LLAMA_FTYPE_MOSTLY_Q5_0, GGML_TYPE_Q5_0, false, 5.5},
    {"q4_1", LLAMA_FTYPE_MOSTLY_Q4_1, GGML_TYPE_Q4_1, false, 5.0},
    {"q4_0", LLAMA_FTYPE_MOSTLY_Q4_0, GGML_TYPE_Q4_0, false, 4.5},
    {"q6_k", LLAMA_FTYPE_MOSTLY_Q6_K, GGML_TYPE_Q6_K, true, 6.5625},
    {"q5_k_m", LLAMA_FTYPE_MOSTLY_Q5_K_M, GGML_TYPE_Q5_K, true, 5.7},
    {"q5_k_s", LLAMA_FTYPE_MOSTLY_Q5_K_S, GGML_TYPE_Q5_K, true, 5.55},
    {"q4_k_m", LLAMA_FTYPE_MOSTLY_Q4_K_M, GGML_TYPE_Q4_K, true, 4.85},
    {"q4_k_s", LLAMA_FTYPE_MOSTLY_Q4_K_S, GGML_TYPE_Q4_K, true, 4.6},
    {"q3_k_l", LLAMA_FTYPE_MOSTLY_Q3_K_L, GGML_TYPE_Q3_K, true, 4.3},
    {"q3_k_m", LLAMA_FTYPE_MOSTLY_Q3_K_M, GGML_TYPE_Q3_K, true, 3.9},
    {"q3_k_s", LLAMA_FTYPE_MOSTLY_Q3_K_S, GGML_TYPE_Q3_K, true, 3.5},
    {"q2_k", LLAMA_FTYPE_MOSTLY_Q2_K, GGML_TYPE_Q2_K, true, 3.0},
};

}  // namespace

std::span<const WeightType> AllWeightTypes() { return kTypes; }

Result<WeightType> ParseWeightType(std::string_view name) {
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const WeightType& t : kTypes) {
    if (t.name == lower) return t;
  }
  return InvalidArgumentError("unknown weight type \"" + std::string(name) + "\"; choose one of " +
                              WeightTypeNames());
}

std::string WeightTypeNames() {
  std::string out;
  for (const WeightType& t : kTypes) {
    if (!out.empty()) out += ", ";
    out += t.name;
  }
  return out;
}

}  // namespace hangar::mkmodel
