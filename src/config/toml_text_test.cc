#include "config/toml_text.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>
#include <string_view>

namespace hangar {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

toml::table Parse(std::string_view text) { return toml::parse(text, std::string_view("t.toml")); }

constexpr std::string_view kDocument = R"(
# comment
title = "Hangar \"quoted\" \\ back\tslash"
unicode = "Grüße 😀"
control = "bell\u0007"
hex = 0xff
oct = 0o17
bin = 0b101
neg = -42
big = 9223372036854775807
f1 = 0.7
f2 = 1e100
f3 = -0.0
f4 = 3.0
inf = inf
yes = true
date = 2024-05-27
time = 07:32:00
dt = 1979-05-27T07:32:00-08:00
local_dt = 1979-05-27T07:32:00
empty_array = []
mixed = [1, "two", 3.5, [4], { five = 5 }]
inline = { a = 1, "b c" = { d = [1, 2] } }
inline_array = [{ x = 1 }, { x = 2 }]
"key with space" = 1
"dotted.key" = 2

[empty]

[only_sub.inner]
v = 1

[performance_profiles.fast]
temperature = 0.1

[[servers]]
name = "a"
[servers.opts]
port = 80
[[servers.routes]]
path = "/"

[[servers]]
name = "b"
)";

TEST(SerializeTomlTest, RoundTripsEveryKind) {
  toml::table original = Parse(kDocument);
  std::string text = SerializeToml(original);
  toml::table again = Parse(text);
  EXPECT_EQ(again, original) << text;
  // Serialising the re-parsed tree is stable.
  EXPECT_EQ(SerializeToml(again), text);
}

TEST(SerializeTomlTest, ReadableSpellings) {
  std::string text = SerializeToml(Parse(kDocument));
  EXPECT_THAT(text, HasSubstr("f1 = 0.7\n"));
  EXPECT_THAT(text, HasSubstr("f2 = 1e+100\n"));
  EXPECT_THAT(text, HasSubstr("f4 = 3.0\n"));
  EXPECT_THAT(text, HasSubstr("hex = 0xff\n"));
  EXPECT_THAT(text, HasSubstr("oct = 0o17\n"));
  EXPECT_THAT(text, HasSubstr("bin = 0b101\n"));
  EXPECT_THAT(text, HasSubstr("control = \"bell\\u0007\"\n"));
  EXPECT_THAT(text, HasSubstr("\"key with space\" = 1\n"));
  EXPECT_THAT(text, HasSubstr("[empty]\n"));
  EXPECT_THAT(text, HasSubstr("[only_sub.inner]\n"));
  EXPECT_THAT(text, Not(HasSubstr("[only_sub]\n")));
  EXPECT_THAT(text, HasSubstr("[performance_profiles.fast]\ntemperature = 0.1\n"));
  EXPECT_THAT(text, HasSubstr("[[servers]]\nname = \"a\"\n"));
  EXPECT_THAT(text, HasSubstr("inline_array = [ { x = 1 }, { x = 2 } ]\n"));
}

TEST(SerializeTomlTest, BuiltTreesGetShortFloats) {
  toml::table t;
  t.insert("a", 0.1 + 0.2);
  t.insert("b", 0.95);
  t.insert("c", int64_t{2});
  std::string text = SerializeToml(t);
  EXPECT_EQ(text, "a = 0.30000000000000004\nb = 0.95\nc = 2\n");
  EXPECT_EQ(SerializeToml(toml::table{}), "");
  toml::table special;
  special.insert("n", std::numeric_limits<double>::quiet_NaN());
  special.insert("m", -std::numeric_limits<double>::infinity());
  EXPECT_EQ(SerializeToml(special), "m = -inf\nn = nan\n");
}

TEST(TomlKeyPathTest, QuotesWhenNeeded) {
  EXPECT_EQ(TomlKeyPath({"performance_profiles", "fast", "top_k"}),
            "performance_profiles.fast.top_k");
  EXPECT_EQ(TomlKeyPath({"model_presets", "qwen2.5"}), "model_presets.\"qwen2.5\"");
  EXPECT_EQ(TomlKeyPath({"a b", ""}), "\"a b\".\"\"");
}

TEST(TomlValueTextTest, Types) {
  toml::table t = Parse("s = 'x'\ni = 3\nf = 2.5\nb = false\na = [1]\nt = {}\n");
  EXPECT_EQ(TomlValueText(*t.get("s")), "\"x\"");
  EXPECT_EQ(TomlValueText(*t.get("i")), "3");
  EXPECT_EQ(TomlValueText(*t.get("f")), "2.5");
  EXPECT_EQ(TomlValueText(*t.get("a")), "[ 1 ]");
  EXPECT_EQ(TomlTypeName(*t.get("s")), "string");
  EXPECT_EQ(TomlTypeName(*t.get("i")), "integer");
  EXPECT_EQ(TomlTypeName(*t.get("f")), "float");
  EXPECT_EQ(TomlTypeName(*t.get("b")), "boolean");
  EXPECT_EQ(TomlTypeName(*t.get("a")), "array");
  EXPECT_EQ(TomlTypeName(*t.get("t")), "table");
}

}  // namespace
}  // namespace hangar
