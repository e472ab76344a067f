#include "gguf/ggml_types.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ggml.h"

namespace hangar::gguf {
namespace {

// Every id ggml knows: same name, block size and bytes per block as ggml.
TEST(GgmlTypesTest, TableEqualsGgml) {
  ASSERT_EQ(kGgmlTypeCount, static_cast<uint32_t>(GGML_TYPE_COUNT));
  size_t valid = 0;
  for (uint32_t id = 0; id < kGgmlTypeCount; ++id) {
    const auto type = static_cast<ggml_type>(id);
    const GgmlType* ours = FindGgmlType(id);
    SCOPED_TRACE("type " + std::to_string(id));
    if (ggml_blck_size(type) == 0) {  // removed from ggml
      EXPECT_EQ(ours, nullptr);
      continue;
    }
    ASSERT_NE(ours, nullptr);
    ++valid;
    EXPECT_EQ(ours->id, id);
    EXPECT_EQ(ours->name, ggml_type_name(type));
    EXPECT_EQ(ours->block_size, static_cast<uint32_t>(ggml_blck_size(type)));
    EXPECT_EQ(ours->type_size, ggml_type_size(type));
    EXPECT_EQ(ours->quantized, ggml_is_quantized(type));
  }
  EXPECT_EQ(valid, AllGgmlTypes().size());
  EXPECT_EQ(FindGgmlType(kGgmlTypeCount), nullptr);
  EXPECT_EQ(FindGgmlType(0xFFFFFFFF), nullptr);
}

TEST(GgmlTypesTest, TensorBytesEqualsGgmlRowSize) {
  for (const GgmlType& t : AllGgmlTypes()) {
    SCOPED_TRACE(std::string(t.name));
    const uint64_t ne0 = t.block_size * 3;
    const std::vector<uint64_t> dims = {ne0, 5, 2};
    EXPECT_EQ(TensorBytes(t, dims),
              ggml_row_size(static_cast<ggml_type>(t.id), static_cast<int64_t>(ne0)) * 10);
  }
}

struct BytesCase {
  uint32_t type;
  std::vector<uint64_t> dims;
  std::optional<uint64_t> bytes;
};

class TensorBytesTest : public ::testing::TestWithParam<BytesCase> {};

TEST_P(TensorBytesTest, Computes) {
  const BytesCase& c = GetParam();
  EXPECT_EQ(TensorBytes(*FindGgmlType(c.type), c.dims), c.bytes);
}

constexpr uint64_t kI64Max = 0x7FFFFFFFFFFFFFFFull;
INSTANTIATE_TEST_SUITE_P(
    Cases, TensorBytesTest,
    ::testing::Values(BytesCase{0, {4096, 4096}, 4096ull * 4096 * 4},
                      BytesCase{12, {4096, 14336}, 4096ull / 256 * 144 * 14336},  // q4_K
                      BytesCase{8, {32}, 34},                                     // q8_0
                      BytesCase{12, {255}, std::nullopt},  // not a whole block
                      BytesCase{0, {0, 4}, std::nullopt},  // empty dimension
                      BytesCase{0, {kI64Max + 1}, std::nullopt},
                      BytesCase{0, {uint64_t{1} << 32, uint64_t{1} << 31}, std::nullopt},
                      BytesCase{24, {uint64_t{1} << 62}, uint64_t{1} << 62},  // i8
                      BytesCase{0, {uint64_t{1} << 62}, std::nullopt},        // f32: bytes
                      BytesCase{1, {}, 2}));                                  // scalar

TEST(GgmlTypesTest, ElementCount) {
  const std::vector<uint64_t> ok = {2, 3, 4};
  EXPECT_EQ(ElementCount(ok), 24u);
  const std::vector<uint64_t> big = {kI64Max, 2};
  EXPECT_EQ(ElementCount(big), std::nullopt);
  const std::vector<uint64_t> edge = {kI64Max, 1};
  EXPECT_EQ(ElementCount(edge), kI64Max);
}

TEST(GgmlTypesTest, FileTypes) {
  ASSERT_NE(FindFileType(15), nullptr);
  EXPECT_EQ(FindFileType(15)->tag, "Q4_K_M");
  EXPECT_EQ(FindFileType(15)->description, "Q4_K - Medium");
  EXPECT_EQ(FindFileType(7)->tag, "Q8_0");
  EXPECT_EQ(FindFileType(0)->tag, "F32");
  EXPECT_EQ(FindFileType(38)->tag, "MXFP4_MOE");
  EXPECT_EQ(FindFileType(4), nullptr);  // removed Q4_1_SOME_F16
  EXPECT_EQ(FindFileType(33), nullptr);
  EXPECT_EQ(FindFileType(1024), nullptr);
  EXPECT_EQ(GuessFileType(GGML_TYPE_Q4_K)->tag, "Q4_K_M");
  EXPECT_EQ(GuessFileType(GGML_TYPE_Q8_0)->tag, "Q8_0");
  EXPECT_EQ(GuessFileType(GGML_TYPE_F32)->tag, "F32");
  EXPECT_EQ(GuessFileType(GGML_TYPE_Q8_K), nullptr);
}

}  // namespace
}  // namespace hangar::gguf
