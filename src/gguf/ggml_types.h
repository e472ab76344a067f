// The element types of ggml tensors (F32, Q4_K, IQ2_XS, ...) and the file
// types of llama.cpp models (LLAMA_FTYPE_MOSTLY_Q4_K_M, ...), as stored in
// GGUF files.
//
// A ggml tensor stores its elements in blocks: `block_size` consecutive
// elements of a row take `type_size` bytes. A row of ne0 elements therefore
// takes ne0 / block_size * type_size bytes, and ne0 must be a multiple of
// block_size. Ids and sizes are those of ggml.h / ggml.c (type_traits);
// ids whose type was removed from ggml (4, 5, 31-33, 36-38) are not valid.
//
// Everything here is constant data and pure functions: thread-safe.
#ifndef HANGAR_GGUF_GGML_TYPES_H_
#define HANGAR_GGUF_GGML_TYPES_H_

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace hangar::gguf {

// At most this many dimensions per tensor (GGML_MAX_DIMS).
inline constexpr uint32_t kMaxDims = 4;
// One past the highest ggml type id known here (GGML_TYPE_COUNT).
inline constexpr uint32_t kGgmlTypeCount = 43;

struct GgmlType {
  uint32_t id = 0;
  std::string_view name;    // ggml's name: "f32", "q4_K", "iq2_xxs"
  uint32_t block_size = 0;  // elements per block
  uint32_t type_size = 0;   // bytes per block
  bool quantized = false;
};

// The type with ggml id `id`, or nullptr when the id is unknown or removed.
const GgmlType* FindGgmlType(uint32_t id);

// Every valid type, ordered by id.
std::span<const GgmlType> AllGgmlTypes();

// Bytes of a tensor of type `type` with `n_dims` dimensions `dims` (ne0
// first), as ggml_nbytes computes for a contiguous tensor. nullopt when the
// type is invalid, a dimension is 0 or above INT64_MAX, dims[0] is not a
// multiple of the block size, or the element count or byte size overflows
// int64 (the limits llama.cpp enforces).
std::optional<uint64_t> TensorBytes(const GgmlType& type, std::span<const uint64_t> dims);

// The product of `dims`, or nullopt when it is above INT64_MAX.
std::optional<uint64_t> ElementCount(std::span<const uint64_t> dims);

// A llama.cpp file type (`general.file_type`, enum llama_ftype).
struct FileType {
  uint32_t id = 0;
  std::string_view tag;          // as in file names: "Q4_K_M", "IQ2_XS", "F16", "MXFP4_MOE"
  std::string_view description;  // llama.cpp's words: "Q4_K - Medium", "IQ2_XS - 2.3125 bpw"
};

// The file type with id `id`, or nullptr when unknown.
const FileType* FindFileType(uint32_t id);

// The file type named `tag` ("Q4_K_M", "q8_0"; case does not matter) or one
// of llama-quantize's aliases (Q4_K = Q4_K_M, Q5_K = Q5_K_M, Q3_K = Q3_K_M),
// or nullptr.
const FileType* FindFileTypeByTag(std::string_view tag);

// The file type llama.cpp assumes when `general.file_type` is missing and
// `type_id` is the type of most tensors (LLAMA_FTYPE_GUESSED: Q4_K gives
// Q4_K_M, F32 gives ALL_F32). nullptr for types llama.cpp has no guess for.
const FileType* GuessFileType(uint32_t type_id);

}  // namespace hangar::gguf

#endif  // HANGAR_GGUF_GGML_TYPES_H_
