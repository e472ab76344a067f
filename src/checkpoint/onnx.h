// ONNX models: the metadata a person needs before running or converting one
// (IR version, opsets, producer, inputs and outputs with their shapes, the
// parameter count, the external-data files), read from the protobuf wire
// format field by field. Weights are skipped by their lengths, never read,
// so a multi-gigabyte file costs a few small reads.
//
// Only the fields named here are interpreted (onnx.proto's numbers); every
// length and offset is checked against the bytes there are, and an error
// names the byte offset. Pure functions: thread-safe.
#ifndef HANGAR_CHECKPOINT_ONNX_H_
#define HANGAR_CHECKPOINT_ONNX_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace hangar::checkpoint {

struct OnnxValue {
  std::string name;
  std::string elem_type;           // "float", "int64", ... ("" when not a tensor)
  std::vector<std::string> shape;  // "1", "512", or a symbolic "batch"
};

struct OnnxModel {
  uint64_t ir_version = 0;
  std::string producer_name, producer_version, domain, graph_name;
  uint64_t model_version = 0;
  std::map<std::string, uint64_t> opsets;  // domain ("" = ai.onnx) -> version
  std::map<std::string, std::string> metadata;
  std::vector<OnnxValue> inputs, outputs;
  uint64_t nodes = 0;
  uint64_t initializers = 0;
  uint64_t parameters = 0;                  // elements of every initializer
  std::vector<std::string> external_files;  // data_location EXTERNAL: the files named
};

// Reads `size` bytes at `offset` into `out`; false when they are not there.
using OnnxReadAt = std::function<bool(uint64_t offset, uint64_t size, std::string* out)>;  // = WireReadAt

// Parses a ModelProto of `size` bytes read through `read`.
Result<OnnxModel> ParseOnnx(const OnnxReadAt& read, uint64_t size);
// The same from bytes in memory, and from a file on disk.
Result<OnnxModel> ParseOnnxBytes(std::string_view bytes);
Result<OnnxModel> ReadOnnx(const std::filesystem::path& path);

}  // namespace hangar::checkpoint

#endif  // HANGAR_CHECKPOINT_ONNX_H_
