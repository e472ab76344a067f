#include "server/byte_range.h"

#include <gtest/gtest.h>

namespace hangar::server {
namespace {

using Kind = ByteRange::Kind;

TEST(ByteRangeTest, Table) {
  struct Case {
    std::string_view header;
    uint64_t size;
    Kind kind;
    uint64_t first, length;
  };
  const Case cases[] = {
      {"", 1000, Kind::kWhole, 0, 1000},
      {"bytes=0-99", 1000, Kind::kPartial, 0, 100},
      {"bytes=0-0", 1000, Kind::kPartial, 0, 1},
      {"bytes=100-", 1000, Kind::kPartial, 100, 900},
      {"bytes=990-5000", 1000, Kind::kPartial, 990, 10},  // a last byte past the end
      {"bytes=-100", 1000, Kind::kPartial, 900, 100},
      {"bytes=-5000", 1000, Kind::kPartial, 0, 1000},
      {" bytes=5-9 ", 1000, Kind::kPartial, 5, 5},
      {"bytes=1000-", 1000, Kind::kUnsatisfiable, 0, 0},
      {"bytes=2000-3000", 1000, Kind::kUnsatisfiable, 0, 0},
      {"bytes=-0", 1000, Kind::kUnsatisfiable, 0, 0},
      {"bytes=0-", 0, Kind::kUnsatisfiable, 0, 0},
      {"bytes=0-1,5-6", 1000, Kind::kWhole, 0, 1000},  // several ranges: the whole file
      {"items=0-1", 1000, Kind::kWhole, 0, 1000},
      {"bytes=9-3", 1000, Kind::kWhole, 0, 1000},
      {"bytes=x-3", 1000, Kind::kWhole, 0, 1000},
      {"bytes=+1-3", 1000, Kind::kWhole, 0, 1000},
      {"bytes=99999999999999999999-", 1000, Kind::kWhole, 0, 1000},
  };
  for (const Case& c : cases) {
    ByteRange r = ParseByteRange(c.header, c.size);
    EXPECT_EQ(r.kind, c.kind) << c.header;
    EXPECT_EQ(r.first, c.first) << c.header;
    EXPECT_EQ(r.length, c.length) << c.header;
  }
}

TEST(ByteRangeTest, ContentRange) {
  EXPECT_EQ(ParseByteRange("bytes=0-0", 1000).ContentRange(1000), "bytes 0-0/1000");
  EXPECT_EQ(ParseByteRange("bytes=-10", 1000).ContentRange(1000), "bytes 990-999/1000");
  EXPECT_EQ(ParseByteRange("bytes=1000-", 1000).ContentRange(1000), "bytes */1000");
}

}  // namespace
}  // namespace hangar::server
