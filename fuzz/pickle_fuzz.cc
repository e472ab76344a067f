// libFuzzer target for the PyTorch pickle walker (checkpoint/pytorch.h):
// any bytes as a pickle. It must never crash, never call anything, and a
// checkpoint it accepts holds named tensors.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "checkpoint/pytorch.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto c = hangar::checkpoint::ParsePytorchPickle(std::string_view(reinterpret_cast<const char*>(data), size));
  if (c.ok()) {
    if (c->tensors.empty()) std::abort();
  }
  return 0;
}
