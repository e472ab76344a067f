// libFuzzer target for the ONNX metadata reader (checkpoint/onnx.h): any
// bytes as a ModelProto. No crash, no read outside the bytes, and an
// accepted model has a graph and an IR version.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "checkpoint/onnx.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto m = hangar::checkpoint::ParseOnnxBytes(std::string_view(reinterpret_cast<const char*>(data), size));
  if (m.ok() && m->ir_version == 0) std::abort();
  return 0;
}
