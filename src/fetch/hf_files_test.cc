#include "fetch/hf_files.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/status_matchers.h"

namespace hangar::fetch {
namespace {

using testing::HasSubstr;

std::vector<HfFile> Listing(std::initializer_list<std::string> paths) {
  std::vector<HfFile> files;
  for (const std::string& p : paths) files.push_back({p, 10, "sha1", "sha256-" + p});
  return files;
}

TEST(HfFilesTest, TagChoosesTheFile) {
  auto listing = Listing({"README.md", "m-Q2_K.gguf", "m-Q4_K_M.gguf", "m-Q8_0.gguf",
                          "m-q5_k_m.gguf", "mmproj-m-f16.gguf"});
  struct Case {
    std::string tag, path, quant;
  };
  const Case cases[] = {
      {"Q8_0", "m-Q8_0.gguf", "Q8_0"},       {"q8_0", "m-Q8_0.gguf", "q8_0"},
      {"Q5_K_M", "m-q5_k_m.gguf", "Q5_K_M"}, {"", "m-Q4_K_M.gguf", "Q4_K_M"},  // the default tag
      {"Q2_K", "m-Q2_K.gguf", "Q2_K"},
  };
  for (const Case& c : cases) {
    Result<HfSelection> s = SelectGgufFiles(listing, c.tag, "o/r");
    ASSERT_OK(s) << c.tag;
    ASSERT_EQ(s->files.size(), 1u);
    EXPECT_EQ(s->files[0].path, c.path) << c.tag;
    EXPECT_EQ(s->quant, c.quant) << c.tag;
    ASSERT_EQ(s->extras.size(), 1u);
    EXPECT_EQ(s->extras[0].path, "mmproj-m-f16.gguf");
  }
}

TEST(HfFilesTest, DefaultFallsBackToQ8ThenTheFirstModel) {
  EXPECT_EQ(SelectGgufFiles(Listing({"a-Q6_K.gguf", "a-Q8_0.gguf"}), "", "o/r")->files[0].path,
            "a-Q8_0.gguf");
  Result<HfSelection> first =
      SelectGgufFiles(Listing({"mmproj-x.gguf", "x-IQ4_XS.gguf", "x-Q6_K.gguf"}), "", "o/r");
  ASSERT_OK(first);
  EXPECT_EQ(first->files[0].path, "x-IQ4_XS.gguf");
  EXPECT_EQ(first->quant, "");
}

TEST(HfFilesTest, TagPrefixIsNotAMatch) {
  // "Q4_K" must not pick "Q4_K_M": the tag is followed by '.' or '-'.
  Result<HfSelection> s =
      SelectGgufFiles(Listing({"m-Q4_K_M.gguf", "m-Q4_K_S.gguf"}), "Q4_K", "o/r");
  EXPECT_THAT(s, StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(s, StatusHasMessage(HasSubstr("m-Q4_K_M.gguf")));
}

TEST(HfFilesTest, SplitPartsComeTogether) {
  auto listing =
      Listing({"Q4_K_M/m-Q4_K_M-00002-of-00003.gguf", "Q4_K_M/m-Q4_K_M-00001-of-00003.gguf",
               "Q4_K_M/m-Q4_K_M-00003-of-00003.gguf", "m-Q8_0.gguf"});
  Result<HfSelection> s = SelectGgufFiles(listing, "Q4_K_M", "o/r");
  ASSERT_OK(s);
  ASSERT_EQ(s->files.size(), 3u);
  EXPECT_EQ(s->files[0].path, "Q4_K_M/m-Q4_K_M-00001-of-00003.gguf");
  EXPECT_EQ(s->files[1].path, "Q4_K_M/m-Q4_K_M-00002-of-00003.gguf");
  EXPECT_EQ(s->files[2].path, "Q4_K_M/m-Q4_K_M-00003-of-00003.gguf");
  EXPECT_EQ(s->total_size(), 30u);
  auto missing = Listing({"m-Q4_K_M-00001-of-00002.gguf"});
  EXPECT_THAT(SelectGgufFiles(missing, "", "o/r"), StatusIs(StatusCode::kDataLoss));
}

TEST(HfFilesTest, NoGgufAndPaths) {
  auto listing =
      Listing({"config.json", "model.safetensors", "tokenizer/vocab.json", "tokenizer/merges.txt"});
  EXPECT_THAT(SelectGgufFiles(listing, "", "o/r"), StatusIs(StatusCode::kNotFound));
  EXPECT_EQ(SelectPath(listing, "tokenizer", "o/r")->size(), 2u);
  EXPECT_EQ(SelectPath(listing, "config.json", "o/r")->size(), 1u);
  EXPECT_THAT(SelectPath(listing, "tok", "o/r"), StatusIs(StatusCode::kNotFound));
  EXPECT_EQ(listing[0].blob_id(), "sha256-config.json");
  HfFile plain{"a.txt", 1, "abc", ""};
  EXPECT_EQ(plain.blob_id(), "abc");
}

}  // namespace
}  // namespace hangar::fetch
