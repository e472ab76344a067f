// Split GGUF models: one model stored as several files
// "<prefix>-00001-of-00003.gguf", "<prefix>-00002-of-00003.gguf", ...
// (llama.cpp's gguf-split and llama_split_path: five digits at least, parts
// numbered from 1). Each part is a GGUF file with the keys `split.no` (u16,
// numbered from 0), `split.count` (u16) and, in the first part,
// `split.tensors.count` (i32, the tensors of all parts); the model's other
// metadata is in the first part, each tensor in exactly one part.
//
// Functions are thread-safe; they read files only.
#ifndef HANGAR_GGUF_SPLIT_H_
#define HANGAR_GGUF_SPLIT_H_

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "gguf/gguf_file.h"

namespace hangar::gguf {

struct SplitName {
  std::string prefix;   // "model" for "model-00002-of-00003.gguf" (may hold folders)
  uint32_t number = 0;  // 2: from 1
  uint32_t count = 0;   // 3
};

// The parts of a split file name, or nullopt when `name` is not one
// (also when number is 0 or above count).
std::optional<SplitName> ParseSplitName(std::string_view name);

// True for a "*.gguf" name (any case) that is a model and not one of the
// side files repositories ship beside models: mmproj projectors, imatrix
// data, draft models for speculative decoding (mtp-, eagle3-, dflash-,
// dspark-). Folders in `path` are ignored.
bool IsGgufModelFileName(std::string_view path);

// True for a whole model file or part 1 of a split set (what stands for the
// model in listings).
bool IsFirstPartOrWhole(std::string_view path);

// "<prefix>-00002-of-00003.gguf" for number 2 of 3.
std::string SplitFileName(std::string_view prefix, uint32_t number, uint32_t count);

// The paths of every part of the split set that `path` names a part of, in
// order; just `path` when its name is not a split name. Touches no file.
std::vector<std::filesystem::path> SplitPartPaths(const std::filesystem::path& path);

// Reads the headers of every part of the model that `path` (any part, or a
// single file) belongs to, first part first; TensorInfo::part is set to
// each part's index. NotFound naming the missing parts when some are
// absent; DataLoss when a part's split.no or split.count disagrees with its
// name, when split.tensors.count disagrees with the tensors found, or when
// a tensor name repeats across parts; InvalidArgument when a file says it is
// split but is not named as a part; errors of ReadHeader otherwise.
Result<std::vector<GgufFile>> ReadSplitModel(const std::filesystem::path& path,
                                             bool check_tensor_data = true);

}  // namespace hangar::gguf

#endif  // HANGAR_GGUF_SPLIT_H_
