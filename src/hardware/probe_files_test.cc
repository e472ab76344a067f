#include "hardware/probe_files.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "hardware/test_util.h"

namespace hangar::hardware_internal {
namespace {

TEST(ParseUnsignedTest, Table) {
  struct Case {
    std::string_view text;
    bool hex;
    std::optional<uint64_t> want;
  };
  const Case cases[] = {
      {"4096", false, 4096},
      {" 12\n", false, 12},
      {"0", false, 0},
      {"18446744073709551615", false, 18446744073709551615ULL},
      {"18446744073709551616", false, std::nullopt},  // overflow
      {"max", false, std::nullopt},
      {"", false, std::nullopt},
      {"-1", false, std::nullopt},
      {"12 kB", false, std::nullopt},
      {"0x1002", true, 0x1002},
      {"0x1002", false, std::nullopt},
      {"0x", true, std::nullopt},
      {"0xd40", true, 0xd40},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ParseUnsigned(c.text, c.hex), c.want) << c.text;
  }
}

TEST(ParseDecimalTest, Table) {
  EXPECT_EQ(ParseDecimal("2096.035"), 2096.035);
  EXPECT_EQ(ParseDecimal(" 800 "), 800.0);
  EXPECT_EQ(ParseDecimal("fast"), std::nullopt);
  EXPECT_EQ(ParseDecimal(""), std::nullopt);
}

TEST(ParseSuffixedSizeTest, Table) {
  EXPECT_EQ(ParseSuffixedSize("32K"), 32u * 1024);
  EXPECT_EQ(ParseSuffixedSize("23040K\n"), 23040u * 1024);
  EXPECT_EQ(ParseSuffixedSize("8M"), 8u * 1024 * 1024);
  EXPECT_EQ(ParseSuffixedSize("1G"), 1024ULL * 1024 * 1024);
  EXPECT_EQ(ParseSuffixedSize("512"), 512u);
  EXPECT_EQ(ParseSuffixedSize("K"), std::nullopt);
  EXPECT_EQ(ParseSuffixedSize("big"), std::nullopt);
}

TEST(ForEachKeyValueTest, SplitsTrimsAndReportsBlankLines) {
  std::vector<std::pair<std::string, std::string>> seen;
  ForEachKeyValue("a\t: 1\n\nb: x: y\nno separator\n", ':',
                  [&](std::string_view k, std::string_view v) { seen.emplace_back(k, v); });
  std::vector<std::pair<std::string, std::string>> want = {
      {"a", "1"}, {"", ""}, {"b", "x: y"}, {"", "no separator"}};
  EXPECT_EQ(seen, want);
}

TEST(ReadProbeFileTest, ReadsBelowRootAndAnswersNulloptWhenAbsent) {
  hardware_test::TempTree tree;
  tree.Write("proc/value", " 42\n");
  EXPECT_EQ(ReadProbeFile(tree.root(), "proc/value"), " 42\n");
  EXPECT_EQ(ReadProbeLine(tree.root(), "proc/value"), "42");
  EXPECT_EQ(ReadProbeNumber(tree.root(), "proc/value"), 42u);
  EXPECT_EQ(ReadProbeFile(tree.root(), "proc/missing"), std::nullopt);
  EXPECT_EQ(ReadProbeNumber(tree.root(), "proc/missing"), std::nullopt);
}

}  // namespace
}  // namespace hangar::hardware_internal
