// Clock: the time seen through an interface so tests can set it.
// SystemClock reads the real clocks; FakeClock is advanced by hand.
// Both are safe for concurrent use.
#ifndef HANGAR_CORE_CLOCK_H_
#define HANGAR_CORE_CLOCK_H_

#include <atomic>
#include <cstdint>

namespace hangar {

class Clock {
 public:
  virtual ~Clock() = default;
  // Seconds since the Unix epoch (wall time, for timestamps on disk).
  virtual int64_t NowUnixSeconds() const = 0;
  // Monotonic microseconds (for durations and rates).
  virtual int64_t MonotonicMicros() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowUnixSeconds() const override;
  int64_t MonotonicMicros() const override;
  // A process-wide instance (wired in main() and in tools).
  static SystemClock& Default();
};

class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t unix_seconds = 1'700'000'000) : unix_(unix_seconds) {}
  int64_t NowUnixSeconds() const override { return unix_.load(); }
  int64_t MonotonicMicros() const override { return micros_.load(); }
  void AdvanceSeconds(int64_t s) {
    unix_ += s;
    micros_ += s * 1'000'000;
  }
  void AdvanceMicros(int64_t us) { micros_ += us; }

 private:
  std::atomic<int64_t> unix_;
  std::atomic<int64_t> micros_{0};
};

}  // namespace hangar

#endif  // HANGAR_CORE_CLOCK_H_
