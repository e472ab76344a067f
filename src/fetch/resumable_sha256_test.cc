#include "fetch/resumable_sha256.h"

#include <gtest/gtest.h>

#include "core/sha256.h"
#include "core/status_matchers.h"

namespace hangar {
namespace {

TEST(ResumableSha256Test, KnownVectors) {
  const struct {
    std::string in;
    const char* hex;
  } cases[] = {
      {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
      {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
      {std::string(1000000, 'a'),
       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
  };
  for (const auto& c : cases) {
    ResumableSha256 h;
    h.Update(c.in);
    EXPECT_EQ(h.FinishHex(), c.hex);
  }
}

TEST(ResumableSha256Test, SavedMidstateContinuesToTheSameDigest) {
  std::string data(3 * 4096 + 123, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 31 + 7);
  Sha256 whole;
  whole.Update(data);
  const std::string expected = whole.FinishHex();
  for (uint64_t cut : {0ull, 64ull, 4096ull, 8192ull + 64, 3ull * 4096}) {
    ResumableSha256 first;
    first.Update(std::string_view(data).substr(0, cut));
    auto mid = first.Midstate();
    ASSERT_TRUE(mid.has_value()) << cut;
    EXPECT_EQ(mid->bytes, cut);
    // Through the text form, as the state file keeps it.
    auto parsed = Sha256Midstate::FromHex(mid->WordsHex(), mid->bytes);
    ASSERT_OK(parsed);
    EXPECT_EQ(*parsed, *mid);
    ResumableSha256 second(*parsed);
    EXPECT_EQ(second.bytes(), cut);
    second.Update(std::string_view(data).substr(cut));
    EXPECT_EQ(second.FinishHex(), expected) << cut;
  }
}

TEST(ResumableSha256Test, NoMidstateInsideABlock) {
  ResumableSha256 h;
  h.Update("abc");
  EXPECT_FALSE(h.Midstate().has_value());
  EXPECT_THAT(Sha256Midstate::FromHex(std::string(64, '0'), 3),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(Sha256Midstate::FromHex(std::string(64, 'g'), 64),
              StatusIs(StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace hangar
