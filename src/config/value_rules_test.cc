#include "config/value_rules.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "config/profile.h"
#include "core/status_matchers.h"

namespace hangar {
namespace {

using ::testing::HasSubstr;

struct Case {
  std::string key;
  double value;
  bool ok;
};

TEST(ValueRulesTest, RangesOfEveryValue) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<Case> cases = {
      {"temperature", 0, true},
      {"temperature", 2, true},
      {"temperature", 2.01, false},
      {"temperature", -0.1, false},
      {"temperature", nan, false},
      {"top_p", 0, false},
      {"top_p", 0.01, true},
      {"top_p", 1, true},
      {"top_p", 1.5, false},
      {"top_k", 0, true},
      {"top_k", 40, true},
      {"top_k", -1, false},
      {"top_k", 1.5, false},
      {"min_p", 0, true},
      {"min_p", 1, true},
      {"min_p", 1.1, false},
      {"repeat_penalty", 0, false},
      {"repeat_penalty", 1, true},
      {"repeat_penalty", 100, true},
      {"repeat_penalty", inf, false},
      {"seed", 0, true},
      {"seed", 4294967295.0, true},
      {"seed", 4294967296.0, false},
      {"max_tokens", 0, false},
      {"max_tokens", 1, true},
      {"ctx", 0, true},
      {"ctx", 16777217, false},
      {"threads", 0, false},
      {"threads", 8, true},
      {"batch", 0, false},
      {"ubatch", 512, true},
      {"gpu_layers", -1, true},
      {"gpu_layers", -2, false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.key + " = " + std::to_string(c.value));
    const ValueRule* rule = FindValueRule(c.key);
    ASSERT_NE(rule, nullptr);
    EXPECT_EQ(CheckValue(*rule, c.value).empty(), c.ok) << CheckValue(*rule, c.value);
    EXPECT_EQ(CheckValue(c.key, c.value).ok(), c.ok);
  }
}

TEST(ValueRulesTest, MessagesNameTheValueAndTheRange) {
  EXPECT_THAT(CheckValue("top_p", 0),
              StatusHasMessage("top_p must be above 0 and at most 1, got 0"));
  EXPECT_THAT(CheckValue("temperature", 3.5),
              StatusHasMessage("temperature must be between 0 and 2, got 3.5"));
  EXPECT_THAT(CheckValue("top_k", 2.5), StatusHasMessage(HasSubstr("whole number")));
  EXPECT_THAT(CheckValue("warmth", 1), StatusIs(StatusCode::kInvalidArgument));
}

TEST(ValueRulesTest, ParsesTheChatsSetValues) {
  EXPECT_EQ(*ParseValue("temperature", "0.5"), 0.5);
  EXPECT_EQ(*ParseValue("top-k", "40"), 40);  // flag spelling too
  EXPECT_THAT(ParseValue("top_k", "x"), StatusHasMessage(HasSubstr("must be a number")));
  EXPECT_THAT(ParseValue("top_k", "4x"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseValue("top_k", ""), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseValue("top_p", "0"), StatusIs(StatusCode::kInvalidArgument));
}

// What config accepts for a profile, the rules accept for a run: one check.
TEST(ValueRulesTest, ProfilesAreCheckedByTheSameRules) {
  for (const ValueRule& rule : SamplingRules()) {
    if (rule.key == "seed") continue;  // not a profile key
    for (double v : {rule.min, rule.max, rule.min - 1, rule.max + 1, (rule.min + rule.max) / 2}) {
      SCOPED_TRACE(std::string(rule.key) + " = " + std::to_string(v));
      EXPECT_EQ(CheckProfileNumber(rule.key, v), CheckValue(rule, v));
    }
  }
  for (const Profile& p : BuiltinProfiles()) {
    SCOPED_TRACE(p.name);
    EXPECT_TRUE(CheckValue("temperature", p.temperature).ok());
    EXPECT_TRUE(CheckValue("top_p", p.top_p).ok());
    EXPECT_TRUE(CheckValue("top_k", p.top_k).ok());
    EXPECT_TRUE(CheckValue("min_p", p.min_p).ok());
    EXPECT_TRUE(CheckValue("repeat_penalty", p.repeat_penalty).ok());
    EXPECT_TRUE(CheckValue("max_tokens", p.max_tokens).ok());
  }
}

}  // namespace
}  // namespace hangar
