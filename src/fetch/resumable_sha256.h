// ResumableSha256: incremental SHA-256 whose state can be saved and restored,
// so a download interrupted after W bytes resumes hashing at W instead of
// reading the first W bytes again.
//
// The saved state is the standard SHA-256 midstate: the eight 32-bit chaining
// words H0..H7 after a whole number of 64-byte blocks, plus that byte count.
// It does not depend on the library version. Computed with OpenSSL (SHA-NI
// where the CPU has it). One object is not thread-safe; separate objects are.
#ifndef HANGAR_FETCH_RESUMABLE_SHA256_H_
#define HANGAR_FETCH_RESUMABLE_SHA256_H_

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace hangar {

struct Sha256Midstate {
  std::array<uint32_t, 8> h{};
  uint64_t bytes = 0;  // a multiple of 64

  // 64 lower-case hex digits of H0..H7 (big-endian words).
  std::string WordsHex() const;
  // InvalidArgument unless `hex` is 64 hex digits and `bytes` a multiple of 64.
  static Result<Sha256Midstate> FromHex(std::string_view hex, uint64_t bytes);
  friend bool operator==(const Sha256Midstate&, const Sha256Midstate&) = default;
};

class ResumableSha256 {
 public:
  ResumableSha256();
  // Continues from a saved midstate.
  explicit ResumableSha256(const Sha256Midstate& state);
  ~ResumableSha256();
  ResumableSha256(ResumableSha256&&) noexcept;
  ResumableSha256& operator=(ResumableSha256&&) noexcept;

  void Update(std::string_view data);
  // Bytes hashed so far.
  uint64_t bytes() const { return bytes_; }
  // The midstate, when bytes() is a multiple of 64; nullopt otherwise.
  std::optional<Sha256Midstate> Midstate() const;
  // Lower-case hex digest. The object must not be used after.
  std::string FinishHex();

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
  uint64_t bytes_ = 0;
};

}  // namespace hangar

#endif  // HANGAR_FETCH_RESUMABLE_SHA256_H_
