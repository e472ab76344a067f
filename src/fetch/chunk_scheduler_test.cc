#include "fetch/chunk_scheduler.h"

#include <gtest/gtest.h>

namespace hangar {
namespace {

constexpr uint64_t kMiB = 1 << 20;

TEST(ChunkSchedulerTest, PendingRangesGoOutLowestFirstInChunks) {
  ChunkScheduler s(4 * kMiB, kMiB, 1'000'000);
  s.Add(20 * kMiB, 22 * kMiB, 0, 0);
  s.Add(0, 10 * kMiB, 0, 0);
  int64_t retry = 0;
  std::vector<std::pair<uint64_t, uint64_t>> got;
  while (auto seg = s.Next(0, 0, &retry)) {
    if (seg->cursor >= 22 * kMiB || got.size() > 10) break;
    got.emplace_back(seg->cursor, seg->end);
    if (!s.has_pending()) break;
  }
  EXPECT_EQ(got, (std::vector<std::pair<uint64_t, uint64_t>>{{0, 4 * kMiB},
                                                             {4 * kMiB, 8 * kMiB},
                                                             {8 * kMiB, 10 * kMiB},
                                                             {20 * kMiB, 22 * kMiB}}));
}

TEST(ChunkSchedulerTest, RetriesWaitForTheirTime) {
  ChunkScheduler s(4 * kMiB, kMiB, 1'000'000);
  s.Add(0, kMiB, 2, 5'000);
  int64_t retry = 0;
  EXPECT_EQ(s.Next(1'000, 0, &retry), nullptr);
  EXPECT_EQ(retry, 5'000);
  auto seg = s.Next(5'000, 0, &retry);
  ASSERT_NE(seg, nullptr);
  EXPECT_EQ(seg->attempts, 2);
}

TEST(ChunkSchedulerTest, IdleConnectionTakesTheUpperHalfOfTheLargestRequest) {
  ChunkScheduler s(8 * kMiB, kMiB, 1'000'000);
  auto small = s.Start(0, 3 * kMiB, 0, 0, 0);
  auto big = s.Start(8 * kMiB, 16 * kMiB, 0, 0, 0);
  big->cursor = 10 * kMiB;  // 6 MiB left
  int64_t retry;
  auto half = s.Next(0, 0, &retry);
  ASSERT_NE(half, nullptr);
  EXPECT_EQ(half->cursor, 13 * kMiB);
  EXPECT_EQ(half->end, 16 * kMiB);
  EXPECT_EQ(big->end, 13 * kMiB);
  EXPECT_EQ(big->request_end, 16 * kMiB);  // the request in flight goes on, stops at 13 MiB
  EXPECT_EQ(s.steals(), 1);
  // 3 MiB left in each: still twice the minimum, so another split.
  auto again = s.Next(0, 0, &retry);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(s.steals(), 2);
}

TEST(ChunkSchedulerTest, SmallRemaindersAreNotSplit) {
  ChunkScheduler s(8 * kMiB, kMiB, 1'000'000);
  auto seg = s.Start(0, 2 * kMiB - 1, 0, 0, 0);
  int64_t retry;
  EXPECT_EQ(s.Next(10, 0, &retry), nullptr);
  EXPECT_EQ(retry, 0);
}

TEST(ChunkSchedulerTest, StuckRequestIsTakenOver) {
  ChunkScheduler s(8 * kMiB, kMiB, 1'000'000);
  auto seg = s.Start(0, kMiB, 3, 0, 0);
  seg->cursor = 512 << 10;
  int64_t retry;
  EXPECT_EQ(s.Next(999'999, 0, &retry), nullptr);  // not stuck yet
  auto taken = s.Next(1'000'000, 0, &retry);
  ASSERT_NE(taken, nullptr);
  EXPECT_TRUE(seg->abandoned);
  EXPECT_EQ(taken->cursor, 512u << 10);
  EXPECT_EQ(taken->end, kMiB);
  EXPECT_EQ(taken->attempts, 3);
  // The new request is fresh: nothing is stuck now.
  EXPECT_EQ(s.Next(1'000'001, 0, &retry), nullptr);
}

TEST(ChunkSchedulerTest, OtherEpochsProbesAndStreamsAreLeftAlone) {
  ChunkScheduler s(8 * kMiB, kMiB, 1'000'000);
  auto old = s.Start(0, 8 * kMiB, 0, /*epoch=*/1, 0);
  auto probe = s.Start(8 * kMiB, 16 * kMiB, 0, 2, 0);
  probe->probe = true;
  auto stream = s.Start(16 * kMiB, kUnknownEnd, 0, 2, 0);
  int64_t retry;
  EXPECT_EQ(s.Next(5'000'000, 2, &retry), nullptr);
}

TEST(ChunkSchedulerTest, AddMissingSkipsDoneAndInFlightBytes) {
  ChunkScheduler s(100, 10, 1'000'000);
  RangeSet done;
  done.Add(0, 150);  // includes what the request in flight wrote so far
  auto seg = s.Start(100, 200, 0, 0, 0);
  seg->cursor = 150;
  s.AddMissing(done, 400);
  int64_t retry;
  auto next = s.Next(0, 0, &retry);
  ASSERT_NE(next, nullptr);
  EXPECT_EQ(next->cursor, 200u);
  EXPECT_EQ(next->end, 300u);
}

}  // namespace
}  // namespace hangar
