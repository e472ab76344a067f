#include "core/units.h"

#include <gtest/gtest.h>

#include "core/status_matchers.h"

namespace hangar {
namespace {

TEST(ParseSizeTest, Table) {
  const struct {
    const char* text;
    uint64_t bytes;
  } cases[] = {
      {"0", 0},
      {"512", 512},
      {"512B", 512},
      {"4.7 GB", 4'700'000'000ULL},
      {"4.7GB", 4'700'000'000ULL},
      {"2gb", 2'000'000'000ULL},
      {"2G", 2'000'000'000ULL},
      {"512MiB", 512ULL * 1024 * 1024},
      {"512 mib", 512ULL * 1024 * 1024},
      {"1.5 GiB", 1536ULL * 1024 * 1024},
      {"10kB", 10'000},
      {"1KiB", 1024},
      {"1TB", 1'000'000'000'000ULL},
      {"2TiB", 2ULL << 40},
      {"  3 MB  ", 3'000'000},
  };
  for (const auto& c : cases) {
    auto r = ParseSize(c.text);
    ASSERT_TRUE(r.ok()) << c.text << ": " << r.status().ToString();
    EXPECT_EQ(*r, c.bytes) << c.text;
  }
}

TEST(ParseSizeTest, RejectsMalformed) {
  for (const char* text : {"", "GB", "-1GB", "4.7 XB", "1e3", "1..2GB", "99999999999TB", "80%"}) {
    EXPECT_THAT(ParseSize(text), StatusIs(StatusCode::kInvalidArgument)) << text;
  }
  EXPECT_THAT(ParseSize("4.7 XB"), StatusHasMessage(::testing::HasSubstr("\"4.7 XB\"")));
}

TEST(ParsePercentTest, Table) {
  EXPECT_DOUBLE_EQ(*ParsePercent("80%"), 0.8);
  EXPECT_DOUBLE_EQ(*ParsePercent(" 12.5 % "), 0.125);
  EXPECT_DOUBLE_EQ(*ParsePercent("100%"), 1.0);
  for (const char* text : {"80", "101%", "%", "x%", "-5%"}) {
    EXPECT_THAT(ParsePercent(text), StatusIs(StatusCode::kInvalidArgument)) << text;
  }
}

TEST(ParseAmountTest, SizeOrShare) {
  Amount share = *ParseAmount("80%");
  EXPECT_TRUE(share.is_fraction);
  EXPECT_EQ(share.Of(10 * kGB), 8 * kGB);
  EXPECT_EQ(share.ToString(), "80%");
  Amount size = *ParseAmount("2GB");
  EXPECT_FALSE(size.is_fraction);
  EXPECT_EQ(size.Of(10 * kGB), 2 * kGB);
  EXPECT_THAT(ParseAmount("lots"), StatusIs(StatusCode::kInvalidArgument));
}

TEST(ParseDurationTest, Table) {
  EXPECT_EQ(*ParseDuration("30d"), 30 * 86400);
  EXPECT_EQ(*ParseDuration("12h"), 12 * 3600);
  EXPECT_EQ(*ParseDuration("15m"), 900);
  EXPECT_EQ(*ParseDuration("90s"), 90);
  EXPECT_EQ(*ParseDuration("45"), 45);
  EXPECT_EQ(*ParseDuration("2w"), 14 * 86400);
  EXPECT_THAT(ParseDuration("3y"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseDuration("soon"), StatusIs(StatusCode::kInvalidArgument));
}

TEST(ParseRateTest, Table) {
  EXPECT_EQ(*ParseRate("10MB/s"), 10'000'000u);
  EXPECT_EQ(*ParseRate("10M"), 10'000'000u);
  EXPECT_EQ(*ParseRate("500KiB/s"), 512'000u);
  EXPECT_THAT(ParseRate("fast"), StatusIs(StatusCode::kInvalidArgument));
}

TEST(FormatTest, Bytes) {
  EXPECT_EQ(FormatBytes(999), "999 B");
  EXPECT_EQ(FormatBytes(512 * kMiB), "512 MiB");
  EXPECT_EQ(FormatBytes(4'700'000'000ULL), "4.38 GiB");
  EXPECT_EQ(FormatBytes(24 * kGiB), "24.0 GiB");
  EXPECT_EQ(FormatBytesDecimal(4'700'000'000ULL), "4.70 GB");
  EXPECT_EQ(FormatBytesDecimal(1'900'000'000ULL), "1.90 GB");
}

TEST(FormatTest, Duration) {
  EXPECT_EQ(FormatDuration(12), "12s");
  EXPECT_EQ(FormatDuration(185), "3m 05s");
  EXPECT_EQ(FormatDuration(3720), "1h 02m");
  EXPECT_EQ(FormatDuration(2 * 86400 + 3 * 3600), "2d 03h");
}

}  // namespace
}  // namespace hangar
