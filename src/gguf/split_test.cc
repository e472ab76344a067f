#include "gguf/split.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/status_matchers.h"
#include "gguf/summary.h"
#include "gguf/test_util.h"

namespace hangar::gguf {
namespace {

using ::testing::HasSubstr;
using testing::LlamaWriter;
using testing::TempDir;

struct NameCase {
  std::string name;
  std::optional<SplitName> expected;
};

void PrintTo(const NameCase& c, std::ostream* os) { *os << c.name; }

class SplitNameTest : public ::testing::TestWithParam<NameCase> {};

TEST_P(SplitNameTest, Parses) {
  const NameCase& c = GetParam();
  std::optional<SplitName> got = ParseSplitName(c.name);
  ASSERT_EQ(got.has_value(), c.expected.has_value()) << c.name;
  if (got) {
    EXPECT_EQ(got->prefix, c.expected->prefix);
    EXPECT_EQ(got->number, c.expected->number);
    EXPECT_EQ(got->count, c.expected->count);
    EXPECT_EQ(SplitFileName(got->prefix, got->number, got->count), c.name);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Names, SplitNameTest,
    ::testing::Values(NameCase{"model-00001-of-00003.gguf", SplitName{"model", 1, 3}},
                      NameCase{"Qwen-7B-Q4_K_M-00002-of-00010.gguf",
                               SplitName{"Qwen-7B-Q4_K_M", 2, 10}},
                      NameCase{"m-00003-of-00003.gguf", SplitName{"m", 3, 3}},
                      NameCase{"big-123456-of-123456.gguf", SplitName{"big", 123456, 123456}},
                      NameCase{"model-00000-of-00003.gguf", std::nullopt},
                      NameCase{"model-00004-of-00003.gguf", std::nullopt},
                      NameCase{"model-0001-of-0003.gguf", std::nullopt},
                      NameCase{"model-00001-of-00003.bin", std::nullopt},
                      NameCase{"model-0000a-of-00003.gguf", std::nullopt},
                      NameCase{"-00001-of-00003.gguf", std::nullopt},
                      NameCase{"model.gguf", std::nullopt}, NameCase{".gguf", std::nullopt}));

// Writes `count` parts named `prefix`-0000N-of-0000M.gguf, two tensors each,
// with the split keys llama.cpp's gguf-split writes.
void WriteParts(const TempDir& dir, const std::string& prefix, int count,
                int tensors_count_key = -1, int bad_no_part = -1, int bad_count = -1) {
  for (int i = 0; i < count; ++i) {
    LlamaWriter w;
    gguf_context* c = w.ctx();
    if (i == 0) {
      gguf_set_val_str(c, "general.architecture", "llama");
      gguf_set_val_u32(c, "llama.block_count", 3);
      gguf_set_val_i32(c, "split.tensors.count",
                       tensors_count_key >= 0 ? tensors_count_key : 2 * count);
    }
    gguf_set_val_u16(c, "split.no", static_cast<uint16_t>(i == bad_no_part ? i + 1 : i));
    gguf_set_val_u16(c, "split.count", static_cast<uint16_t>(bad_count >= 0 ? bad_count : count));
    w.AddTensor("blk." + std::to_string(i) + ".a", GGML_TYPE_Q4_0, {64, 4});
    w.AddTensor("blk." + std::to_string(i) + ".b", GGML_TYPE_F32, {16});
    w.Write(dir / SplitFileName(prefix, i + 1, count));
  }
}

TEST(SplitTest, ReadsAllPartsAsOneModel) {
  TempDir dir;
  WriteParts(dir, "model", 3);
  for (int start = 1; start <= 3; ++start) {
    Result<std::vector<GgufFile>> parts = ReadSplitModel(dir / SplitFileName("model", start, 3));
    ASSERT_OK(parts);
    ASSERT_EQ(parts->size(), 3u);
    EXPECT_EQ((*parts)[0].name, "model-00001-of-00003.gguf");
    EXPECT_EQ((*parts)[2].tensors[0].part, 2u);

    const ModelSummary s = Summarize(*parts);
    EXPECT_EQ(s.architecture, "llama");
    ASSERT_EQ(s.tensors.size(), 6u);
    EXPECT_EQ(s.tensors[4].name, "blk.2.a");
    EXPECT_EQ(s.tensors[4].part, 2u);
    uint64_t bytes = 0, size = 0;
    for (const GgufFile& p : *parts) {
      bytes += p.tensor_bytes;
      size += p.file_size;
    }
    EXPECT_EQ(s.tensor_bytes, bytes);
    EXPECT_EQ(s.tensor_bytes, 3u * (4 * 2 * 18 + 64));
    EXPECT_EQ(s.file_size, size);
    EXPECT_EQ(s.parameter_count, 3u * (256 + 16));
    EXPECT_EQ(s.files.size(), 3u);
    EXPECT_EQ(ToJson(s, true)["tensors"][5]["part"], 2);
  }
}

TEST(SplitTest, SingleFileIsOnePart) {
  TempDir dir;
  LlamaWriter w;
  gguf_set_val_str(w.ctx(), "general.architecture", "llama");
  w.Write(dir / "single.gguf");
  Result<std::vector<GgufFile>> parts = ReadSplitModel(dir / "single.gguf");
  ASSERT_OK(parts);
  EXPECT_EQ(parts->size(), 1u);
  EXPECT_EQ(SplitPartPaths(dir / "single.gguf").size(), 1u);
}

TEST(SplitTest, PartPaths) {
  const auto paths = SplitPartPaths("/models/x-00002-of-00003.gguf");
  ASSERT_EQ(paths.size(), 3u);
  EXPECT_EQ(paths[0], "/models/x-00001-of-00003.gguf");
  EXPECT_EQ(paths[2], "/models/x-00003-of-00003.gguf");
}

TEST(SplitTest, MissingPartIsNotFound) {
  TempDir dir;
  WriteParts(dir, "model", 3);
  std::filesystem::remove(dir / "model-00002-of-00003.gguf");
  EXPECT_THAT(ReadSplitModel(dir / "model-00001-of-00003.gguf"),
              AllOf(StatusIs(StatusCode::kNotFound),
                    StatusHasMessage(HasSubstr("model-00002-of-00003.gguf"))));
}

TEST(SplitTest, InconsistentPartsAreDataLoss) {
  {
    TempDir dir;
    WriteParts(dir, "m", 3, /*tensors_count_key=*/5);
    EXPECT_THAT(ReadSplitModel(dir / "m-00001-of-00003.gguf"),
                AllOf(StatusIs(StatusCode::kDataLoss),
                      StatusHasMessage(HasSubstr("split.tensors.count is 5"))));
  }
  {
    TempDir dir;
    WriteParts(dir, "m", 3, -1, /*bad_no_part=*/1);
    EXPECT_THAT(ReadSplitModel(dir / "m-00001-of-00003.gguf"),
                AllOf(StatusIs(StatusCode::kDataLoss), StatusHasMessage(HasSubstr("split.no"))));
  }
  {
    TempDir dir;
    WriteParts(dir, "m", 3, -1, -1, /*bad_count=*/4);
    EXPECT_THAT(
        ReadSplitModel(dir / "m-00001-of-00003.gguf"),
        AllOf(StatusIs(StatusCode::kDataLoss), StatusHasMessage(HasSubstr("split.count is 4"))));
  }
  {
    TempDir dir;
    WriteParts(dir, "m", 2);
    // A part of another model with the same tensor names.
    std::filesystem::copy_file(dir / "m-00001-of-00002.gguf", dir / "n-00002-of-00002.gguf");
    std::filesystem::copy_file(dir / "m-00001-of-00002.gguf", dir / "n-00001-of-00002.gguf");
    EXPECT_THAT(ReadSplitModel(dir / "n-00001-of-00002.gguf"), StatusIs(StatusCode::kDataLoss));
  }
}

TEST(SplitTest, SplitFileWithPlainNameIsInvalid) {
  TempDir dir;
  WriteParts(dir, "m", 2);
  std::filesystem::rename(dir / "m-00001-of-00002.gguf", dir / "renamed.gguf");
  EXPECT_THAT(ReadSplitModel(dir / "renamed.gguf"),
              AllOf(StatusIs(StatusCode::kInvalidArgument),
                    StatusHasMessage(HasSubstr("split into 2 files"))));
}

}  // namespace
}  // namespace hangar::gguf
