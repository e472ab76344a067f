#include "gguf/ggml_types.h"

#include <algorithm>
#include <cctype>
#include <limits>
#include <string>

namespace hangar::gguf {
namespace {

constexpr uint32_t kQkK = 256;  // QK_K: the super-block of the k-quants and i-quants

// From ggml.h (enum ggml_type) and ggml.c (type_traits); block sizes from
// ggml-common.h. Ordered by id.
constexpr GgmlType kGgmlTypes[] = {
    {0, "f32", 1, 4, false},         {1, "f16", 1, 2, false},
    {2, "q4_0", 32, 18, true},       {3, "q4_1", 32, 20, true},
    {6, "q5_0", 32, 22, true},       {7, "q5_1", 32, 24, true},
    {8, "q8_0", 32, 34, true},       {9, "q8_1", 32, 36, true},
    {10, "q2_K", kQkK, 84, true},    {11, "q3_K", kQkK, 110, true},
    {12, "q4_K", kQkK, 144, true},   {13, "q5_K", kQkK, 176, true},
    {14, "q6_K", kQkK, 210, true},   {15, "q8_K", kQkK, 292, true},
    {16, "iq2_xxs", kQkK, 66, true}, {17, "iq2_xs", kQkK, 74, true},
    {18, "iq3_xxs", kQkK, 98, true}, {19, "iq1_s", kQkK, 50, true},
    {20, "iq4_nl", 32, 18, true},    {21, "iq3_s", kQkK, 110, true},
    {22, "iq2_s", kQkK, 82, true},   {23, "iq4_xs", kQkK, 136, true},
    {24, "i8", 1, 1, false},         {25, "i16", 1, 2, false},
    {26, "i32", 1, 4, false},        {27, "i64", 1, 8, false},
    {28, "f64", 1, 8, false},        {29, "iq1_m", kQkK, 56, true},
    {30, "bf16", 1, 2, false},       {34, "tq1_0", kQkK, 54, true},
    {35, "tq2_0", kQkK, 66, true},   {39, "mxfp4", 32, 17, true},
    {40, "nvfp4", 64, 36, true},     {41, "q1_0", 128, 18, true},
    {42, "q2_0", 64, 18, true},
};
static_assert(std::size(kGgmlTypes) > 0 &&
              kGgmlTypes[std::size(kGgmlTypes) - 1].id == kGgmlTypeCount - 1);

// From llama.h (enum llama_ftype) and llama_ftype_name() in llama-model-loader.cpp.
constexpr FileType kFileTypes[] = {
    {0, "F32", "all F32"},
    {1, "F16", "F16"},
    {2, "Q4_0", "Q4_0"},
    {3, "Q4_1", "Q4_1"},
    {7, "Q8_0", "Q8_0"},
    {8, "Q5_0", "Q5_0"},
    {9, "Q5_1", "Q5_1"},
    {10, "Q2_K", "Q2_K - Medium"},
    {11, "Q3_K_S", "Q3_K - Small"},
    {12, "Q3_K_M", "Q3_K - Medium"},
    {13, "Q3_K_L", "Q3_K - Large"},
    {14, "Q4_K_S", "Q4_K - Small"},
    {15, "Q4_K_M", "Q4_K - Medium"},
    {16, "Q5_K_S", "Q5_K - Small"},
    {17, "Q5_K_M", "Q5_K - Medium"},
    {18, "Q6_K", "Q6_K"},
    {19, "IQ2_XXS", "IQ2_XXS - 2.0625 bpw"},
    {20, "IQ2_XS", "IQ2_XS - 2.3125 bpw"},
    {21, "Q2_K_S", "Q2_K - Small"},
    {22, "IQ3_XS", "IQ3_XS - 3.3 bpw"},
    {23, "IQ3_XXS", "IQ3_XXS - 3.0625 bpw"},
    {24, "IQ1_S", "IQ1_S - 1.5625 bpw"},
    {25, "IQ4_NL", "IQ4_NL - 4.5 bpw"},
    {26, "IQ3_S", "IQ3_S - 3.4375 bpw"},
    {27, "IQ3_M", "IQ3_S mix - 3.66 bpw"},
    {28, "IQ2_S", "IQ2_S - 2.5 bpw"},
    {29, "IQ2_M", "IQ2_M - 2.7 bpw"},
    {30, "IQ4_XS", "IQ4_XS - 4.25 bpw"},
    {31, "IQ1_M", "IQ1_M - 1.75 bpw"},
    {32, "BF16", "BF16"},
    {36, "TQ1_0", "TQ1_0 - 1.69 bpw ternary"},
    {37, "TQ2_0", "TQ2_0 - 2.06 bpw ternary"},
    {38, "MXFP4_MOE", "MXFP4 MoE"},
    {39, "NVFP4", "NVFP4"},
    {40, "Q1_0", "Q1_0"},
    {41, "Q2_0", "Q2_0"},
};

constexpr uint64_t kInt64Max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

}  // namespace

const GgmlType* FindGgmlType(uint32_t id) {
  auto it = std::lower_bound(std::begin(kGgmlTypes), std::end(kGgmlTypes), id,
                             [](const GgmlType& t, uint32_t v) { return t.id < v; });
  if (it == std::end(kGgmlTypes) || it->id != id) return nullptr;
  return &*it;
}

std::span<const GgmlType> AllGgmlTypes() { return kGgmlTypes; }

std::optional<uint64_t> ElementCount(std::span<const uint64_t> dims) {
  uint64_t n = 1;
  for (uint64_t d : dims) {
    if (d > kInt64Max) return std::nullopt;
    if (d != 0 && n > kInt64Max / d) return std::nullopt;
    n *= d;
  }
  return n;
}

std::optional<uint64_t> TensorBytes(const GgmlType& type, std::span<const uint64_t> dims) {
  if (type.block_size == 0 || type.type_size == 0) return std::nullopt;
  for (uint64_t d : dims) {
    if (d == 0) return std::nullopt;
  }
  std::optional<uint64_t> elements = ElementCount(dims);
  if (!elements) return std::nullopt;
  const uint64_t ne0 = dims.empty() ? 1 : dims[0];
  if (ne0 % type.block_size != 0) return std::nullopt;
  const uint64_t blocks = *elements / type.block_size;
  if (blocks > kInt64Max / type.type_size) return std::nullopt;
  return blocks * type.type_size;
}

const FileType* FindFileType(uint32_t id) {
  for (const FileType& t : kFileTypes) {
    if (t.id == id) return &t;
  }
  return nullptr;
}

const FileType* FindFileTypeByTag(std::string_view tag) {
  std::string upper(tag);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (upper == "Q4_K") upper = "Q4_K_M";
  if (upper == "Q5_K") upper = "Q5_K_M";
  if (upper == "Q3_K") upper = "Q3_K_M";
  for (const FileType& t : kFileTypes) {
    if (t.tag == upper) return &t;
  }
  return nullptr;
}

const FileType* GuessFileType(uint32_t type_id) {
  // llama_model_loader: the type of most tensors decides.
  static constexpr std::pair<uint32_t, uint32_t> kGuess[] = {
      {0, 0},   {1, 1},   {30, 32}, {2, 2},   {3, 3},   {6, 8},   {7, 9},   {8, 7},   {10, 10},
      {11, 12}, {12, 15}, {13, 17}, {14, 18}, {34, 36}, {35, 37}, {16, 19}, {17, 20}, {22, 28},
      {18, 23}, {19, 24}, {29, 31}, {20, 25}, {23, 30}, {21, 26}, {40, 39}, {41, 40}, {42, 41},
  };
  for (auto [ggml, ftype] : kGuess) {
    if (ggml == type_id) return FindFileType(ftype);
  }
  return nullptr;
}

}  // namespace hangar::gguf
