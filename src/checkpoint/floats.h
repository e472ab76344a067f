// The 16-bit float formats of checkpoints and GGUF files: IEEE half (F16)
// and bfloat16 (BF16), converted from float with round-to-nearest-even, as
// numpy's astype(float16), gguf-py's BF16 quantizer and ggml do (NaN kept a
// NaN), and back exactly.
//
// Pure functions: thread-safe.
#ifndef HANGAR_CHECKPOINT_FLOATS_H_
#define HANGAR_CHECKPOINT_FLOATS_H_

#include <cstdint>

namespace hangar::checkpoint {

uint16_t FloatToHalf(float f);
float HalfToFloat(uint16_t h);
uint16_t FloatToBf16(float f);
float Bf16ToFloat(uint16_t b);

}  // namespace hangar::checkpoint

#endif  // HANGAR_CHECKPOINT_FLOATS_H_
