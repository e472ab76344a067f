#include "config/model_preset.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/status_matchers.h"

namespace hangar {
namespace {

struct CountCase {
  const char* text;
  uint64_t count;  // 0: invalid
};

TEST(ParseParameterCountTest, Table) {
  const CountCase cases[] = {
      {"7B", 7'000'000'000},
      {"1.5b", 1'500'000'000},
      {"500M", 500'000'000},
      {"135k", 135'000},
      {"1T", 1'000'000'000'000},
      {"7", 7'000'000'000},
      {" 0.5 B ", 500'000'000},
      {"", 0},
      {"B", 0},
      {"7X", 0},
      {"-7B", 0},
      {"0", 0},
      {"seven", 0},
      {"1e9T", 0},
  };
  for (const CountCase& c : cases) {
    Result<uint64_t> r = ParseParameterCount(c.text);
    if (c.count == 0) {
      EXPECT_THAT(r, StatusIs(StatusCode::kInvalidArgument)) << c.text;
    } else {
      ASSERT_OK(r) << c.text;
      EXPECT_EQ(*r, c.count) << c.text;
    }
  }
}

TEST(CheckPresetTest, Values) {
  EXPECT_EQ(CheckPresetString("sha256", std::string(64, 'a')), "");
  EXPECT_NE(CheckPresetString("sha256", std::string(63, 'a')), "");
  EXPECT_NE(CheckPresetString("sha256", std::string(63, 'a') + "g"), "");
  EXPECT_NE(CheckPresetString("weights", ""), "");
  EXPECT_EQ(CheckPresetNumber("size_gb", 2.5), "");
  EXPECT_NE(CheckPresetNumber("size_gb", 0), "");
  EXPECT_EQ(CheckPresetNumber("min_ram_gb", 0), "");
  EXPECT_NE(CheckPresetNumber("min_ram_gb", -1), "");
  EXPECT_NE(CheckPresetNumber("context_length", 0), "");
  EXPECT_NE(CheckPresetNumber("kv_heads", -8), "");
  EXPECT_EQ(CheckPresetName("qwen2.5-coder-7b_q5"), "");
  EXPECT_NE(CheckPresetName("a/b"), "");
  EXPECT_NE(CheckPresetName(""), "");
}

TEST(ModelPresetFieldsTest, EveryFieldOnce) {
  std::set<std::string_view> keys;
  for (const ModelPresetField& f : ModelPresetFields()) EXPECT_TRUE(keys.insert(f.key).second);
  EXPECT_EQ(keys.size(), 34u);
  EXPECT_TRUE(keys.contains("hf_repo"));
  EXPECT_TRUE(keys.contains("head_dim"));
  EXPECT_TRUE(keys.contains("chat_template"));
}

TEST(ModelPresetJsonTest, OnlySetFields) {
  ModelPreset p;
  p.name = "gemma2-2b-it";
  p.size_gb = 2.5;
  p.context_length = 8192;
  p.tags = std::vector<std::string>{"chat", "small"};
  p.parameters = 2'000'000'000;
  nlohmann::json j = ToJson(p);
  EXPECT_EQ(j, nlohmann::json::parse(R"({"name": "gemma2-2b-it", "size_gb": 2.5,
      "context_length": 8192, "tags": ["chat", "small"], "parameters": 2000000000})"));
}

}  // namespace
}  // namespace hangar
