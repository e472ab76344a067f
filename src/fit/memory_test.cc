#include "fit/memory.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "core/status_matchers.h"

namespace hangar::fit {
namespace {

TEST(FlashAttentionTest, ParsesEveryName) {
  struct Case {
    std::string text;
    FlashAttention want;
  };
  for (const Case& c : {Case{"on", FlashAttention::kOn}, Case{"OFF", FlashAttention::kOff},
                        Case{"auto", FlashAttention::kAuto}, Case{"true", FlashAttention::kOn},
                        Case{"0", FlashAttention::kOff}}) {
    Result<FlashAttention> got = ParseFlashAttention(c.text);
    ASSERT_OK(got) << c.text;
    EXPECT_EQ(*got, c.want) << c.text;
  }
  for (FlashAttention fa : {FlashAttention::kOn, FlashAttention::kOff, FlashAttention::kAuto}) {
    Result<FlashAttention> back = ParseFlashAttention(FlashAttentionName(fa));
    ASSERT_OK(back);
    EXPECT_EQ(*back, fa);
  }
  EXPECT_THAT(ParseFlashAttention("sometimes"), StatusIs(StatusCode::kInvalidArgument));
}

TEST(FlashAttentionTest, ForcedIsNulloptOnlyForAuto) {
  EXPECT_EQ(FlashAttentionForced(FlashAttention::kAuto), std::nullopt);
  EXPECT_EQ(FlashAttentionForced(FlashAttention::kOn), std::optional<bool>(true));
  EXPECT_EQ(FlashAttentionForced(FlashAttention::kOff), std::optional<bool>(false));
}

TEST(CacheTypeTest, MapsNamesToGgmlIds) {
  struct Case {
    std::string name;
    uint32_t id;  // ggml.h's enum ggml_type
  };
  for (const Case& c :
       {Case{"f32", 0}, Case{"f16", 1}, Case{"q4_0", 2}, Case{"q4_1", 3}, Case{"q5_0", 6},
        Case{"q5_1", 7}, Case{"q8_0", 8}, Case{"iq4_nl", 20}, Case{"bf16", 30}, Case{"Q8_0", 8}}) {
    Result<uint32_t> got = CacheTypeId(CacheType{c.name});
    ASSERT_OK(got) << c.name;
    EXPECT_EQ(*got, c.id) << c.name;
  }
  for (const std::string bad : {"q4_K", "fp16", "", "q2_k"}) {
    EXPECT_THAT(CacheTypeId(CacheType{bad}), StatusIs(StatusCode::kInvalidArgument)) << bad;
  }
  EXPECT_THAT(CacheTypeId(CacheType{"q4_K"}), StatusHasMessage(::testing::HasSubstr("q8_0")));
}

TEST(MemoryJsonTest, HasTheDocumentedShape) {
  MemoryBreakdown b;
  b.method = "estimate";
  b.n_ctx = 8192;
  b.n_gpu_layers = 3;
  b.flash_attn = true;
  b.devices.push_back(DeviceMemory{"CPU", 100, 20, 3, 4, 5});
  b.devices.push_back(DeviceMemory{"CUDA0", 1000, 200, 30, 0, 0});
  b.devices.push_back(DeviceMemory{"CUDA1", 7, 0, 0, 0, 0});
  const nlohmann::json j = ToJson(b);
  EXPECT_EQ(j["method"], "estimate");
  EXPECT_EQ(j["n_ctx"], 8192);
  EXPECT_EQ(j["n_gpu_layers"], 3);
  EXPECT_EQ(j["flash_attn"], true);
  EXPECT_EQ(j["host_total"], 132u);
  EXPECT_EQ(j["gpu_total"], 1237u);
  ASSERT_EQ(j["devices"].size(), 3u);
  const nlohmann::json& cpu = j["devices"][0];
  for (const char* key : {"device", "weights", "kv_cache", "compute", "output", "other", "total"}) {
    EXPECT_TRUE(cpu.contains(key)) << key;
  }
  EXPECT_EQ(cpu["total"], 132u);
  EXPECT_EQ(j["devices"][1]["device"], "CUDA0");
  EXPECT_EQ(j["devices"][1]["kv_cache"], 200u);
}

}  // namespace
}  // namespace hangar::fit
