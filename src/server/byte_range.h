// ByteRange: the `Range` header of a request for a file (RFC 9110 14.2), as
// the mirror routes answer it: one range of bytes, or the whole file.
//
//   "bytes=0-99"     the first 100 bytes      "bytes=100-"  from 100 to the end
//   "bytes=-100"     the last 100 bytes       a last byte past the end is the end
//
// Several ranges ("bytes=0-1,5-6") and units other than bytes are answered
// with the whole file (200), as RFC 9110 allows; a malformed header too.
//
// Pure functions: thread-safe.
#ifndef HANGAR_SERVER_BYTE_RANGE_H_
#define HANGAR_SERVER_BYTE_RANGE_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace hangar::server {

struct ByteRange {
  enum class Kind {
    kWhole,          // no usable Range: 200 with every byte
    kPartial,        // 206 with bytes [first, first + length)
    kUnsatisfiable,  // 416: the range starts at or past the end
  };
  Kind kind = Kind::kWhole;
  uint64_t first = 0;
  uint64_t length = 0;  // of the answer's body

  // "bytes 0-99/1000" for kPartial, "bytes */1000" for kUnsatisfiable.
  std::string ContentRange(uint64_t size) const;
};

// The answer to `header` (empty: none) for a file of `size` bytes.
ByteRange ParseByteRange(std::string_view header, uint64_t size);

}  // namespace hangar::server

#endif  // HANGAR_SERVER_BYTE_RANGE_H_
