#include "core/strings.h"

#include <gtest/gtest.h>

namespace hangar {
namespace {

TEST(StringsTest, AsciiLower) {
  EXPECT_EQ(AsciiLower("Qwen2.5-Coder-7B_Q5_K_M"), "qwen2.5-coder-7b_q5_k_m");
  EXPECT_EQ(AsciiLower("é-ÄB"), "é-Äb");  // non-ASCII bytes untouched
  EXPECT_EQ(AsciiLower(""), "");
}

TEST(StringsTest, EqualsIgnoreCase) {
  EXPECT_TRUE(EqualsIgnoreCase("GiB", "gib"));
  EXPECT_FALSE(EqualsIgnoreCase("GiB", "gi"));
  EXPECT_FALSE(EqualsIgnoreCase("q4_0", "q4_1"));
  EXPECT_TRUE(EqualsIgnoreCase("", ""));
}

}  // namespace
}  // namespace hangar
