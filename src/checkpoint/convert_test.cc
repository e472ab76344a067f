#include "checkpoint/convert.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <random>

#include "checkpoint/floats.h"
#include "checkpoint/sentencepiece.h"
#include "checkpoint/vocab.h"
#include "ggml.h"

namespace hangar::checkpoint {
namespace {

// ggml's own conversions round to nearest, ties to even, as numpy does.
TEST(ConvertFloatsTest, HalfAndBf16RoundLikeGgml) {
  std::vector<float> values = {0.0f, -0.0f, 1.0f, -2.5f, 65504.0f, 65519.0f, 65520.0f, 1e9f, -1e9f,
                               6.1035156e-05f, 5.9604645e-08f, 2.9802322e-08f, 2.9802326e-08f, 1e-10f,
                               std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                               std::numeric_limits<float>::denorm_min(), 1.00048828125f, 1.000732421875f};
  std::mt19937 rng(7);
  for (int i = 0; i < 200000; ++i) {
    values.push_back(std::bit_cast<float>(static_cast<uint32_t>(rng())));  // every exponent, NaNs too
  }
  for (float v : values) {
    if (std::isnan(v)) {
      EXPECT_TRUE(std::isnan(HalfToFloat(FloatToHalf(v))));
      EXPECT_TRUE(std::isnan(Bf16ToFloat(FloatToBf16(v))));
      continue;
    }
    ASSERT_EQ(FloatToHalf(v), ggml_fp32_to_fp16(v)) << v;
    ASSERT_EQ(FloatToBf16(v), ggml_fp32_to_bf16(v).bits) << v;
  }
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = HalfToFloat(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    ASSERT_EQ(std::bit_cast<uint32_t>(f), std::bit_cast<uint32_t>(ggml_fp16_to_fp32(static_cast<ggml_fp16_t>(h)))) << h;
    ASSERT_EQ(FloatToHalf(f), h);  // exact round trip
  }
}

std::string Varint(uint64_t v) {
  std::string out;
  do {
    uint8_t b = v & 0x7f;
    v >>= 7;
    out.push_back(static_cast<char>(v ? b | 0x80 : b));
  } while (v);
  return out;
}
std::string Field(int number, std::string_view bytes) { return Varint(number << 3 | 2) + Varint(bytes.size()) + std::string(bytes); }
std::string Piece(std::string_view text, float score, int type) {
  const uint32_t bits = std::bit_cast<uint32_t>(score);
  std::string fixed(reinterpret_cast<const char*>(&bits), 4);
  return Field(1, Field(1, text) + Varint(2 << 3 | 5) + fixed + Varint(3 << 3) + Varint(type));
}

TEST(SentencePieceTest, ReadsPiecesScoresAndTypes) {
  const std::string model = Piece("<unk>", 0, 2) + Piece("<s>", 0, 3) + Piece("\xe2\x96\x81the", -1.5f, 1) +
                            Piece("<0x0A>", 0, 6) + Field(2, Varint(3 << 3) + Varint(2)) + Field(3, Varint(3 << 3) + Varint(0));
  Result<SentencePieceModel> m = ParseSentencePiece(model);
  ASSERT_TRUE(m.ok()) << m.status().message();
  ASSERT_EQ(m->pieces.size(), 4u);
  EXPECT_EQ(m->pieces[2].text, "\xe2\x96\x81the");
  EXPECT_EQ(m->pieces[2].score, -1.5f);
  EXPECT_EQ(m->pieces[0].type, PieceType::kUnknown);
  EXPECT_EQ(m->pieces[3].type, PieceType::kByte);
  EXPECT_EQ(m->model_type, 2);
  EXPECT_FALSE(m->add_dummy_prefix);
}

TEST(SentencePieceTest, HostileModelsAreRefusedNamingTheByte) {
  const std::string good = Piece("a", 0, 1);
  Result<SentencePieceModel> cut = ParseSentencePiece(std::string_view(good).substr(0, good.size() - 2));
  EXPECT_EQ(cut.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(cut.status().message().find("at byte"), std::string::npos);
  EXPECT_EQ(ParseSentencePiece(Piece("a", 0, 9)).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseSentencePiece("").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseSentencePiece(Varint(1 << 3 | 2) + Varint(1ull << 40)).status().code(), StatusCode::kInvalidArgument);
}

TEST(PreTokenizerTest, KnownExpressionsGetLlamaCppsNamesAndOthersAreRefused) {
  auto split = [](std::string regex) {
    return nlohmann::json{{"type", "Sequence"},
                          {"pretokenizers", {{{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", "Isolated"}},
                                             {{"type", "ByteLevel"}, {"use_regex", false}}}}};
  };
  const std::string llama3 =
      "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  std::string qwen = llama3;
  qwen.replace(qwen.find("\\p{N}{1,3}"), 10, "\\p{N}");
  EXPECT_EQ(*DetectPreTokenizer(split(llama3)), "llama-bpe");
  EXPECT_EQ(*DetectPreTokenizer(split(qwen)), "qwen2");
  EXPECT_EQ(*DetectPreTokenizer({{"type", "ByteLevel"}, {"add_prefix_space", false}}), "gpt-2");
  Result<std::string> other = DetectPreTokenizer(split("\\p{L}+|\\s+"));
  EXPECT_EQ(other.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(other.status().message().find("\\\\p{L}+|\\\\s+"), std::string::npos);
  EXPECT_EQ(DetectPreTokenizer(nullptr).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace hangar::checkpoint
