// libFuzzer target for the safetensors header reader: any bytes as a whole
// file (its size known) and as a prefix (size unknown). Beyond "no crash",
// an accepted header must keep its promises: every tensor inside the data
// region, no overlaps, byte lengths that match the shapes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "checkpoint/safetensors.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  for (bool known_size : {true, false}) {
    auto h = hangar::checkpoint::ParseSafetensorsHeader(
        bytes, known_size ? std::optional<uint64_t>(size) : std::nullopt);
    if (!h.ok()) continue;
    Check(h->data_offset == 8 + h->header_bytes && h->data_offset <= size);
    uint64_t previous_end = 0;
    for (const auto& t : h->tensors) {
      Check(t.begin >= previous_end && t.end >= t.begin);
      Check(t.bytes() == t.elements() * hangar::checkpoint::DtypeBytes(t.dtype));
      if (known_size) Check(h->data_offset + t.end <= size);
      previous_end = t.end;
    }
  }
  return 0;
}
