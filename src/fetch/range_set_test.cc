#include "fetch/range_set.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace hangar {
namespace {

using Intervals = std::vector<RangeSet::Interval>;

TEST(RangeSetTest, AddMergesOverlappingAndAdjacent) {
  const struct {
    Intervals adds;
    Intervals result;
  } cases[] = {
      {{{0, 10}}, {{0, 10}}},
      {{{0, 10}, {10, 20}}, {{0, 20}}},
      {{{10, 20}, {0, 10}}, {{0, 20}}},
      {{{0, 10}, {20, 30}}, {{0, 10}, {20, 30}}},
      {{{0, 10}, {20, 30}, {5, 25}}, {{0, 30}}},
      {{{5, 6}, {0, 100}}, {{0, 100}}},
      {{{0, 100}, {5, 6}}, {{0, 100}}},
      {{{0, 0}, {7, 7}}, {}},
      {{{30, 40}, {10, 20}, {20, 30}}, {{10, 40}}},
  };
  for (const auto& c : cases) {
    RangeSet s;
    for (auto [b, e] : c.adds) s.Add(b, e);
    EXPECT_EQ(s.Intervals(), c.result);
  }
}

TEST(RangeSetTest, QueriesAgainstABitmap) {
  // Random adds checked against a plain bitmap.
  std::mt19937 rng(7);
  for (int round = 0; round < 50; ++round) {
    RangeSet s;
    std::vector<bool> bits(300, false);
    for (int i = 0; i < 12; ++i) {
      uint64_t b = rng() % 300, len = rng() % 40;
      uint64_t e = std::min<uint64_t>(300, b + len);
      s.Add(b, e);
      for (uint64_t x = b; x < e; ++x) bits[x] = true;
    }
    uint64_t size = 0, prefix = 0;
    for (bool b : bits) size += b;
    while (prefix < 300 && bits[prefix]) ++prefix;
    EXPECT_EQ(s.Size(), size);
    EXPECT_EQ(s.PrefixEnd(), prefix);
    std::vector<bool> missing(300, false);
    for (auto [b, e] : s.Missing(20, 280)) {
      for (uint64_t x = b; x < e; ++x) missing[x] = true;
    }
    for (uint64_t x = 0; x < 300; ++x) {
      EXPECT_EQ(missing[x], x >= 20 && x < 280 && !bits[x]) << x;
    }
    uint64_t b = rng() % 300, e = b + rng() % 20;
    bool all = true;
    for (uint64_t x = b; x < e && x < 300; ++x) all = all && bits[x];
    if (e <= 300) {
      EXPECT_EQ(s.Covers(b, e), all) << b << "-" << e;
    }
  }
}

TEST(RangeSetTest, TruncateAt) {
  RangeSet s;
  s.Add(0, 10);
  s.Add(20, 30);
  s.Add(40, 50);
  s.TruncateAt(25);
  EXPECT_EQ(s.Intervals(), (Intervals{{0, 10}, {20, 25}}));
  s.TruncateAt(20);
  EXPECT_EQ(s.Intervals(), (Intervals{{0, 10}}));
  s.TruncateAt(0);
  EXPECT_TRUE(s.empty());
}

}  // namespace
}  // namespace hangar
