#include "checkpoint/floats.h"

#include <bit>

namespace hangar::checkpoint {

uint16_t FloatToHalf(float value) {
  // numpy's npy_floatbits_to_halfbits: round to nearest, ties to even.
  const uint32_t f = std::bit_cast<uint32_t>(value);
  const uint16_t sign = static_cast<uint16_t>((f & 0x80000000u) >> 16);
  uint32_t exp = f & 0x7f800000u;
  if (exp >= 0x47800000u) {  // overflow, infinity or NaN
    if (exp == 0x7f800000u) {
      const uint32_t sig = f & 0x007fffffu;
      if (sig != 0) {
        uint16_t ret = static_cast<uint16_t>(0x7c00u + (sig >> 13));
        if (ret == 0x7c00u) ++ret;
        return sign + ret;
      }
      return sign + 0x7c00u;
    }
    return sign + 0x7c00u;
  }
  if (exp <= 0x38000000u) {  // a half subnormal or zero
    if (exp < 0x33000000u) return sign;
    exp >>= 23;
    uint32_t sig = 0x00800000u + (f & 0x007fffffu);
    sig >>= (113 - exp);
    if (((sig & 0x00003fffu) != 0x00001000u) || (f & 0x000007ffu)) sig += 0x00001000u;
    return sign + static_cast<uint16_t>(sig >> 13);
  }
  const uint16_t hexp = static_cast<uint16_t>((exp - 0x38000000u) >> 13);
  uint32_t sig = f & 0x007fffffu;
  if ((sig & 0x00003fffu) != 0x00001000u) sig += 0x00001000u;
  return sign + static_cast<uint16_t>((sig >> 13) + hexp);
}

float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ffu;
  if (exp == 0) {
    if (mant == 0) return std::bit_cast<float>(sign);
    while (!(mant & 0x400u)) {
      mant <<= 1;
      --exp;
    }
    ++exp;
    mant &= 0x3ffu;
  } else if (exp == 31) {
    return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));
  }
  return std::bit_cast<float>(sign | ((exp + 112) << 23) | (mant << 13));
}

uint16_t FloatToBf16(float value) {
  // gguf-py's __compute_fp32_to_bf16: NaN made quiet, then nearest-even.
  uint32_t n = std::bit_cast<uint32_t>(value);
  if ((n & 0x7fffffffu) > 0x7f800000u) n = (n & 0xffff0000u) | (64u << 16);
  return static_cast<uint16_t>((static_cast<uint64_t>(n) + (0x7fffu + ((n >> 16) & 1u))) >> 16);
}

float Bf16ToFloat(uint16_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }

}  // namespace hangar::checkpoint
