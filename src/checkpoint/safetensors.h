// Safetensors: the header of a Hugging Face `.safetensors` file, read and
// checked without trusting any of it.
//
//   [8 bytes: N, little-endian u64][N bytes: JSON][tensor data]
//   JSON: {"NAME": {"dtype": "BF16", "shape": [4096, 4096],
//                   "data_offsets": [BEGIN, END]}, ...,
//          "__metadata__": {"format": "pt", ...}}
//
// Offsets are relative to the data that follows the header. A header is
// accepted only when every tensor's dtype is known, its byte length equals
// its element count times the dtype's size (no overflow), its range lies
// inside the data region, and no two ranges overlap. Errors are
// InvalidArgument (or DataLoss for a file cut short) naming the byte offset
// and, where there is one, the tensor.
//
// Pure functions on bytes and plain values: thread-safe.
#ifndef HANGAR_CHECKPOINT_SAFETENSORS_H_
#define HANGAR_CHECKPOINT_SAFETENSORS_H_

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace hangar::checkpoint {

// The largest header accepted (the format's reference reader allows 100 MB).
inline constexpr uint64_t kMaxSafetensorsHeader = 100ull << 20;

enum class Dtype { kF64, kF32, kF16, kBF16, kF8E4M3, kF8E5M2, kI64, kI32, kI16, kI8, kU8, kBool };
std::string_view DtypeName(Dtype d);   // "F32", "BF16", ...
uint32_t DtypeBytes(Dtype d);          // 8, 4, 2, 1
std::optional<Dtype> ParseDtype(std::string_view name);

struct TensorInfo {
  std::string name;
  Dtype dtype = Dtype::kF32;
  std::vector<uint64_t> shape;  // outermost first (row-major), as PyTorch
  uint64_t begin = 0;           // in the data region
  uint64_t end = 0;
  uint64_t elements() const;
  uint64_t bytes() const { return end - begin; }
};

struct SafetensorsHeader {
  uint64_t header_bytes = 0;  // N
  uint64_t data_offset = 0;   // 8 + N: where the data region starts in the file
  std::vector<TensorInfo> tensors;  // in data order
  std::map<std::string, std::string> metadata;  // __metadata__
  uint64_t data_bytes() const;      // the end of the last tensor
};

// The N of the first 8 bytes, checked against kMaxSafetensorsHeader and
// `file_size` (when known). `prefix` holds at least 8 bytes.
Result<uint64_t> SafetensorsHeaderLength(std::string_view prefix, std::optional<uint64_t> file_size);

// Parses a header from the file's first 8 + N bytes (`prefix` may hold more).
// `file_size`, when known, must hold every tensor.
Result<SafetensorsHeader> ParseSafetensorsHeader(std::string_view prefix,
                                                 std::optional<uint64_t> file_size);

// Reads and parses the header of a file on disk (only the header is read).
// NotFound for a missing file.
Result<SafetensorsHeader> ReadSafetensorsHeader(const std::filesystem::path& path);

}  // namespace hangar::checkpoint

#endif  // HANGAR_CHECKPOINT_SAFETENSORS_H_
