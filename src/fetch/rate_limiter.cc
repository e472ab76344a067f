#include "fetch/rate_limiter.h"

#include <algorithm>
#include <chrono>
#include <thread>

namespace hangar {

RateLimiter::RateLimiter(uint64_t bytes_per_second, const Clock& clock)
    : clock_(clock), rate_(bytes_per_second), last_us_(clock.MonotonicMicros()) {}

void RateLimiter::SetRate(uint64_t bytes_per_second) {
  std::lock_guard lock(mu_);
  rate_ = bytes_per_second;
  tokens_ = std::min(tokens_, static_cast<double>(bytes_per_second));
}

uint64_t RateLimiter::rate() const {
  std::lock_guard lock(mu_);
  return rate_;
}

int64_t RateLimiter::Reserve(uint64_t bytes) {
  std::lock_guard lock(mu_);
  int64_t now = clock_.MonotonicMicros();
  booked_ += bytes;
  if (rate_ == 0) {
    last_us_ = now;
    return 0;
  }
  const double rate = static_cast<double>(rate_);
  tokens_ = std::min(rate, tokens_ + rate * static_cast<double>(now - last_us_) / 1e6);
  last_us_ = now;
  tokens_ -= static_cast<double>(bytes);
  if (tokens_ >= 0) return 0;
  return static_cast<int64_t>(-tokens_ / rate * 1e6);
}

uint64_t RateLimiter::booked_bytes() const {
  std::lock_guard lock(mu_);
  return booked_;
}

void RateLimiter::Acquire(uint64_t bytes) {
  int64_t wait_us = Reserve(bytes);
  if (wait_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(wait_us));
}

}  // namespace hangar
