// WireReader: the protobuf wire format read field by field over a window of
// a file's bytes, for the few messages Hangar reads (ONNX model metadata,
// SentencePiece models) without generated code. Lengths are checked against
// the enclosing message before anything is read; errors name the byte.
//
// A reader is used by one thread; the read function must outlive it.
#ifndef HANGAR_CHECKPOINT_WIRE_H_
#define HANGAR_CHECKPOINT_WIRE_H_

#include <fmt/format.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace hangar::checkpoint {

// Reads `size` bytes at `offset` into `out`; false when the file is shorter.
using WireReadAt = std::function<bool(uint64_t offset, uint64_t size, std::string* out)>;

inline constexpr uint64_t kMaxSmallField = 16ull << 20;  // names, shapes, small messages

// A window [begin, end) of the model's bytes, walked field by field.
class WireReader {
 public:
  WireReader(const WireReadAt& read, uint64_t begin, uint64_t end, std::string_view what)
      : read_(read), pos_(begin), end_(end), what_(what) {}
  bool done() const { return pos_ >= end_; }
  uint64_t pos() const { return pos_; }

  Status Bad(uint64_t at, std::string what) const {
    return InvalidArgumentError(fmt::format("{} at byte {}: {}", what_, at, what));
  }
  Result<uint64_t> Varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= end_) return Bad(pos_, "a number runs past its message");
      std::string b;
      if (!read_(pos_, 1, &b)) return Bad(pos_, "the file ends inside a number");
      ++pos_;
      v |= static_cast<uint64_t>(static_cast<uint8_t>(b[0]) & 0x7f) << shift;
      if (!(static_cast<uint8_t>(b[0]) & 0x80)) return v;
    }
    return Bad(pos_, "a number longer than 10 bytes");
  }
  struct Field {
    uint32_t number = 0;
    uint32_t wire = 0;
    uint64_t value = 0;             // varint / fixed (little-endian bits)
    uint64_t begin = 0, end = 0;    // length-delimited: its bytes
  };
  Result<Field> Next() {
    const uint64_t at = pos_;
    ASSIGN_OR_RETURN(uint64_t key, Varint());
    Field f;
    f.number = static_cast<uint32_t>(key >> 3);
    f.wire = static_cast<uint32_t>(key & 7);
    switch (f.wire) {
      case 0: { ASSIGN_OR_RETURN(f.value, Varint()); break; }
      case 1: case 5: {
        const uint64_t n = f.wire == 1 ? 8 : 4;
        if (n > end_ - pos_) return Bad(at, "a fixed-size field runs past its message");
        std::string b;
        if (!read_(pos_, n, &b)) return Bad(pos_, "the file ends inside a number");
        for (uint64_t i = 0; i < n; ++i) f.value |= static_cast<uint64_t>(static_cast<uint8_t>(b[i])) << (8 * i);
        pos_ += n;
        break;
      }
      case 2: {
        ASSIGN_OR_RETURN(uint64_t n, Varint());
        if (n > end_ - pos_) {
          return Bad(at, fmt::format("field {} of {} bytes runs past its message ({} left)", f.number, n, end_ - pos_));
        }
        f.begin = pos_;
        f.end = pos_ + n;
        pos_ += n;
        break;
      }
      default:
        return Bad(at, fmt::format("wire type {} (groups or garbage) in field {}", f.wire, f.number));
    }
    return f;
  }
  Result<std::string> Bytes(const Field& f) {
    if (f.end - f.begin > kMaxSmallField) return Bad(f.begin, "a name or small field of more than 16 MiB");
    std::string out;
    if (!read_(f.begin, f.end - f.begin, &out)) return Bad(f.begin, "the file ends inside a field");
    return out;
  }
  WireReader Sub(const Field& f) const { return WireReader(read_, f.begin, f.end, what_); }

 private:
  const WireReadAt& read_;
  uint64_t pos_, end_;
  std::string_view what_;
};

}  // namespace hangar::checkpoint

#endif  // HANGAR_CHECKPOINT_WIRE_H_
