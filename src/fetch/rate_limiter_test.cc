#include "fetch/rate_limiter.h"

#include <gtest/gtest.h>

namespace hangar {
namespace {

TEST(RateLimiterTest, DebtTurnsIntoWaitAtTheCap) {
  FakeClock clock;
  RateLimiter limiter(1000, clock);  // 1000 B/s
  // Nothing saved up yet: 500 bytes cost half a second.
  EXPECT_EQ(limiter.Reserve(500), 500'000);
  clock.AdvanceMicros(500'000);
  EXPECT_EQ(limiter.Reserve(250), 250'000);
  // Idle time refills the bucket, but not beyond one second's worth.
  clock.AdvanceSeconds(10);
  EXPECT_EQ(limiter.Reserve(1000), 0);
  EXPECT_EQ(limiter.Reserve(100), 100'000);
  EXPECT_EQ(limiter.booked_bytes(), 1850u);
}

TEST(RateLimiterTest, SharedByTwoTransfersSumsTheirBytes) {
  FakeClock clock;
  RateLimiter limiter(1000, clock);
  EXPECT_EQ(limiter.Reserve(400), 400'000);
  EXPECT_EQ(limiter.Reserve(400), 800'000);  // the second transfer waits for both
}

TEST(RateLimiterTest, ZeroMeansNoCapAndRateCanChange) {
  FakeClock clock;
  RateLimiter limiter(0, clock);
  EXPECT_EQ(limiter.Reserve(1 << 30), 0);
  limiter.SetRate(2000);
  EXPECT_EQ(limiter.rate(), 2000u);
  EXPECT_EQ(limiter.Reserve(1000), 500'000);
}

}  // namespace
}  // namespace hangar
