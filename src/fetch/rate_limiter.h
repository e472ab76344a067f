// RateLimiter: a token bucket that caps the bytes per second of every
// transfer sharing it (the `--max-speed` cap across all connections of a
// download, or across the files of one pull).
//
// Each transfer calls Acquire(n) after receiving n bytes; the call sleeps as
// long as needed to keep the total rate at the cap. A burst of up to one
// second's worth of bytes is allowed. Thread-safe: one limiter is meant to be
// shared by many threads. The clock is not owned and must outlive the limiter.
#ifndef HANGAR_FETCH_RATE_LIMITER_H_
#define HANGAR_FETCH_RATE_LIMITER_H_

#include <cstdint>
#include <mutex>

#include "core/clock.h"

namespace hangar {

class RateLimiter {
 public:
  // `bytes_per_second` 0 means no cap.
  explicit RateLimiter(uint64_t bytes_per_second, const Clock& clock = SystemClock::Default());

  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  // Changes the cap (0: none); takes effect for the next bytes.
  void SetRate(uint64_t bytes_per_second);
  uint64_t rate() const;

  // Books `bytes` and returns how many microseconds the caller must wait
  // before taking more (0 when within the cap). Does not sleep.
  int64_t Reserve(uint64_t bytes);

  // Reserve(bytes), then sleeps that long.
  void Acquire(uint64_t bytes);

  // Bytes booked so far by Reserve() and Acquire().
  uint64_t booked_bytes() const;

 private:
  const Clock& clock_;
  mutable std::mutex mu_;
  uint64_t rate_;        // guarded by mu_
  double tokens_ = 0;    // bytes that may still pass; negative is a debt
  int64_t last_us_ = 0;  // monotonic time of the last refill
  uint64_t booked_ = 0;
};

}  // namespace hangar

#endif  // HANGAR_FETCH_RATE_LIMITER_H_
