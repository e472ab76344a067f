#include "llamacpp/types.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "core/status_matchers.h"
#include "fit/memory.h"

namespace hangar::llamacpp {
namespace {

TEST(FlashAttnTypeTest, RoundTripsBothWays) {
  for (std::optional<bool> forced :
       {std::optional<bool>(), std::optional<bool>(true), std::optional<bool>(false)}) {
    EXPECT_EQ(FlashAttnForced(FlashAttnType(forced)), forced);
  }
  for (llama_flash_attn_type t : {LLAMA_FLASH_ATTN_TYPE_AUTO, LLAMA_FLASH_ATTN_TYPE_ENABLED,
                                  LLAMA_FLASH_ATTN_TYPE_DISABLED}) {
    EXPECT_EQ(FlashAttnType(FlashAttnForced(t)), t);
  }
}

// fit's setting, as fit/ and runtime/ hand it to llama.cpp.
TEST(FlashAttnTypeTest, MapsFitsSettingToLlamaCpps) {
  EXPECT_EQ(FlashAttnType(fit::FlashAttentionForced(fit::FlashAttention::kAuto)),
            LLAMA_FLASH_ATTN_TYPE_AUTO);
  EXPECT_EQ(FlashAttnType(fit::FlashAttentionForced(fit::FlashAttention::kOn)),
            LLAMA_FLASH_ATTN_TYPE_ENABLED);
  EXPECT_EQ(FlashAttnType(fit::FlashAttentionForced(fit::FlashAttention::kOff)),
            LLAMA_FLASH_ATTN_TYPE_DISABLED);
  EXPECT_STREQ(llama_flash_attn_type_name(FlashAttnType(true)), "enabled");
}

// Hangar's table and the linked ggml agree on every type, both ways.
TEST(GgmlTypeTest, EveryKnownTypeRoundTripsThroughGgml) {
  for (const gguf::GgmlType& t : gguf::AllGgmlTypes()) {
    Result<ggml_type> type = ToGgmlType(t.id);
    ASSERT_OK(type) << t.name;
    EXPECT_EQ(std::string(ggml_type_name(*type)), t.name);
    EXPECT_EQ(ggml_blck_size(*type), static_cast<int64_t>(t.block_size)) << t.name;
    EXPECT_EQ(ggml_type_size(*type), t.type_size) << t.name;
    const gguf::GgmlType* back = FromGgmlType(*type);
    ASSERT_NE(back, nullptr) << t.name;
    EXPECT_EQ(back->id, t.id);
  }
}

TEST(GgmlTypeTest, UnknownIdsAreInvalidArgument) {
  for (uint32_t id : {4u, 5u, gguf::kGgmlTypeCount, 1000u}) {
    EXPECT_THAT(ToGgmlType(id), StatusIs(StatusCode::kInvalidArgument)) << id;
  }
  EXPECT_EQ(FromGgmlType(GGML_TYPE_COUNT), nullptr);
}

// Every KV cache type fit accepts by name becomes the ggml type of that name.
TEST(GgmlTypeTest, CacheTypeNamesBecomeTheirGgmlType) {
  std::vector<std::string> names;
  const std::string all = fit::CacheTypeNames();  // "f16, f32, ..."
  for (size_t start = 0; start < all.size();) {
    const size_t end = std::min(all.find(", ", start), all.size());
    names.push_back(all.substr(start, end - start));
    start = end + 2;
  }
  ASSERT_GE(names.size(), 2u) << all;
  for (const std::string& name : names) {
    Result<uint32_t> id = fit::CacheTypeId(fit::CacheType{name});
    ASSERT_OK(id) << name;
    Result<ggml_type> type = ToGgmlType(*id);
    ASSERT_OK(type) << name;
    EXPECT_EQ(std::string(ggml_type_name(*type)), name);
  }
}

}  // namespace
}  // namespace hangar::llamacpp
