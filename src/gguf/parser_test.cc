#include "gguf/parser.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/status_matchers.h"
#include "gguf/ggml_types.h"
#include "gguf/test_util.h"

namespace hangar::gguf {
namespace {

using testing::AsBytes;
using testing::ExpectSameAsLlama;
using ::testing::HasSubstr;
using testing::LlamaWriter;
using testing::RawWriter;
using testing::ReadAll;
using testing::TempDir;
using testing::WriteAll;

// Every scalar type, arrays of every type (empty, small, big), strings with
// odd bytes: the key/values of the generated test files.
void AddEveryValueType(gguf_context* ctx, size_t big) {
  gguf_set_val_str(ctx, "general.architecture", "llama");
  gguf_set_val_str(ctx, "general.name", "Test \"model\" \xC3\xA9\n");
  gguf_set_val_u8(ctx, "t.u8", 250);
  gguf_set_val_i8(ctx, "t.i8", -120);
  gguf_set_val_u16(ctx, "t.u16", 65000);
  gguf_set_val_i16(ctx, "t.i16", -32000);
  gguf_set_val_u32(ctx, "t.u32", 4000000000u);
  gguf_set_val_i32(ctx, "t.i32", -2000000000);
  gguf_set_val_f32(ctx, "t.f32", 0.1f);
  gguf_set_val_bool(ctx, "t.bool_true", true);
  gguf_set_val_bool(ctx, "t.bool_false", false);
  gguf_set_val_str(ctx, "t.str_empty", "");
  gguf_set_val_u64(ctx, "t.u64", 18000000000000000000ull);
  gguf_set_val_i64(ctx, "t.i64", -9000000000000000000ll);
  gguf_set_val_f64(ctx, "t.f64", -1.0e300);
  const uint8_t u8s[] = {0, 1, 255};
  gguf_set_arr_data(ctx, "a.u8", GGUF_TYPE_UINT8, u8s, 3);
  const int8_t i8s[] = {-128, 0, 127};
  gguf_set_arr_data(ctx, "a.i8", GGUF_TYPE_INT8, i8s, 3);
  const uint16_t u16s[] = {1, 65535};
  gguf_set_arr_data(ctx, "a.u16", GGUF_TYPE_UINT16, u16s, 2);
  const int16_t i16s[] = {-1, 2};
  gguf_set_arr_data(ctx, "a.i16", GGUF_TYPE_INT16, i16s, 2);
  const uint32_t u32s[] = {8, 8, 4, 8};
  gguf_set_arr_data(ctx, "a.u32", GGUF_TYPE_UINT32, u32s, 4);
  const int32_t i32s[] = {-5, 5};
  gguf_set_arr_data(ctx, "a.i32", GGUF_TYPE_INT32, i32s, 2);
  const float f32s[] = {1.5f, -0.25f};
  gguf_set_arr_data(ctx, "a.f32", GGUF_TYPE_FLOAT32, f32s, 2);
  const int8_t bools[] = {1, 0, 1};
  gguf_set_arr_data(ctx, "a.bool", GGUF_TYPE_BOOL, bools, 3);
  const uint64_t u64s[] = {0, ~0ull};
  gguf_set_arr_data(ctx, "a.u64", GGUF_TYPE_UINT64, u64s, 2);
  const int64_t i64s[] = {-1};
  gguf_set_arr_data(ctx, "a.i64", GGUF_TYPE_INT64, i64s, 1);
  const double f64s[] = {3.25, 1e-300};
  gguf_set_arr_data(ctx, "a.f64", GGUF_TYPE_FLOAT64, f64s, 2);
  gguf_set_arr_data(ctx, "a.empty", GGUF_TYPE_INT32, nullptr, 0);
  const char* strs[] = {"", "x", "\xFF\xFE not utf-8"};
  gguf_set_arr_str(ctx, "a.str", strs, 3);
  gguf_set_arr_str(ctx, "a.str_empty", strs, 0);
  // Big arrays, as a tokenizer has them.
  std::vector<std::string> tokens(big);
  std::vector<const char*> token_ptrs(big);
  for (size_t i = 0; i < big; ++i) {
    tokens[i] = "tok" + std::to_string(i);
    token_ptrs[i] = tokens[i].c_str();
  }
  gguf_set_arr_str(ctx, "tokenizer.ggml.tokens", token_ptrs.data(), big);
  std::vector<float> scores(big);
  for (size_t i = 0; i < big; ++i) scores[i] = -static_cast<float>(i);
  gguf_set_arr_data(ctx, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, scores.data(), big);
  std::vector<int32_t> token_type(big, 1);
  gguf_set_arr_data(ctx, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, token_type.data(), big);
}

void AddSomeTensors(LlamaWriter* w) {
  w->AddTensor("token_embd.weight", GGML_TYPE_Q4_K, {256, 16});
  w->AddTensor("blk.0.attn_norm.weight", GGML_TYPE_F32, {256});
  w->AddTensor("blk.0.attn_q.weight", GGML_TYPE_Q8_0, {256, 256});
  w->AddTensor("blk.0.attn_k.weight", GGML_TYPE_F16, {256, 3});
  w->AddTensor("blk.0.ffn_up.weight", GGML_TYPE_Q6_K, {256, 5});
  w->AddTensor("blk.0.ffn_down.weight", GGML_TYPE_IQ4_XS, {512, 2});
  w->AddTensor("blk.0.ffn_gate.weight", GGML_TYPE_BF16, {7, 3, 2});
  w->AddTensor("blk.0.exps.weight", GGML_TYPE_MXFP4, {64, 2, 3, 2});
  w->AddTensor("output.weight", GGML_TYPE_Q5_1, {32, 1});
}

struct GeneratedCase {
  std::string name;
  uint32_t alignment;
  bool only_meta;
  bool tensors;
  size_t big;
};

void PrintTo(const GeneratedCase& c, std::ostream* os) { *os << c.name; }

class GeneratedFileTest : public ::testing::TestWithParam<GeneratedCase> {};

TEST_P(GeneratedFileTest, MatchesLlamaCpp) {
  const GeneratedCase& c = GetParam();
  TempDir dir;
  const auto path = dir / (c.name + ".gguf");
  LlamaWriter w(c.alignment);
  AddEveryValueType(w.ctx(), c.big);
  if (c.tensors) AddSomeTensors(&w);
  w.Write(path, c.only_meta);

  Result<GgufFile> file = ReadHeader(path, /*check_tensor_data=*/!c.only_meta);
  ASSERT_OK(file);
  ExpectSameAsLlama(path, *file);
  EXPECT_EQ(file->name, c.name + ".gguf");
  EXPECT_EQ(file->file_size, std::filesystem::file_size(path));
  EXPECT_EQ(file->alignment, c.alignment);

  // The same bytes from memory give the same result.
  const std::string bytes = ReadAll(path);
  ParseOptions options;
  options.check_tensor_data = !c.only_meta;
  Result<GgufFile> from_buffer = ParseHeader(AsBytes(bytes), options);
  ASSERT_OK(from_buffer);
  ExpectSameAsLlama(path, *from_buffer);

  // Big arrays are not copied, small ones are.
  const Array* tokens = file->GetArray("tokenizer.ggml.tokens");
  ASSERT_NE(tokens, nullptr);
  EXPECT_EQ(tokens->count, c.big);
  EXPECT_EQ(tokens->complete(), c.big <= kSmallArrayElements);
  EXPECT_LE(tokens->elements.size(), std::max<uint64_t>(kPreviewElements, kSmallArrayElements));
  EXPECT_TRUE(file->GetArray("a.u32")->complete());
  if (c.tensors && !c.only_meta) {
    // llama.cpp's writer pads the last tensor too.
    const uint64_t end =
        file->data_offset + file->tensors.back().offset + file->tensors.back().size;
    EXPECT_LE(end, file->file_size);
    EXPECT_LT(file->file_size - end, c.alignment);
  }
}

INSTANTIATE_TEST_SUITE_P(Files, GeneratedFileTest,
                         ::testing::Values(GeneratedCase{"meta_only", 32, true, false, 10},
                                           GeneratedCase{"tensors_with_data", 32, false, true, 100},
                                           GeneratedCase{"tensors_only_meta", 32, true, true, 100},
                                           GeneratedCase{"big_vocab", 32, false, true, 150000},
                                           GeneratedCase{"align_1", 1, false, true, 3},
                                           GeneratedCase{"align_8", 8, false, true, 3},
                                           GeneratedCase{"align_64", 64, false, true, 2000},
                                           GeneratedCase{"align_4096", 4096, false, true, 1025},
                                           GeneratedCase{"align_64_meta", 64, true, true, 1024}),
                         [](const auto& info) { return info.param.name; });

TEST(ParserTest, EveryValueDecodedExactly) {
  TempDir dir;
  LlamaWriter w;
  AddEveryValueType(w.ctx(), 3);
  w.Write(dir / "v.gguf", true);
  Result<GgufFile> f = ReadHeader(dir / "v.gguf", false);
  ASSERT_OK(f);
  EXPECT_EQ(f->Find("t.u8")->value.type, ValueType::kUint8);
  EXPECT_EQ(f->GetUint("t.u8"), 250u);
  EXPECT_EQ(f->Find("t.i8")->value.AsInt(), -120);
  EXPECT_EQ(f->GetUint("t.u16"), 65000u);
  EXPECT_EQ(f->Find("t.i16")->value.AsInt(), -32000);
  EXPECT_EQ(f->GetUint("t.u32"), 4000000000u);
  EXPECT_EQ(f->Find("t.i32")->value.AsInt(), -2000000000);
  EXPECT_EQ(f->GetUint("t.i32"), std::nullopt);
  EXPECT_EQ(f->GetDouble("t.f32"), static_cast<double>(0.1f));
  EXPECT_EQ(f->Find("t.bool_true")->value.AsBool(), true);
  EXPECT_EQ(f->Find("t.bool_false")->value.AsBool(), false);
  EXPECT_EQ(*f->GetString("t.str_empty"), "");
  EXPECT_EQ(f->GetUint("t.u64"), 18000000000000000000ull);
  EXPECT_EQ(f->Find("t.i64")->value.AsInt(), -9000000000000000000ll);
  EXPECT_EQ(f->GetDouble("t.f64"), -1.0e300);
  EXPECT_EQ(*f->GetString("general.name"), "Test \"model\" \xC3\xA9\n");
  const Array* strs = f->GetArray("a.str");
  ASSERT_NE(strs, nullptr);
  ASSERT_EQ(strs->elements.size(), 3u);
  EXPECT_EQ(*strs->elements[2].AsString(), "\xFF\xFE not utf-8");
  EXPECT_EQ(f->GetArray("a.empty")->count, 0u);
  EXPECT_EQ(f->GetString("t.u8"), nullptr);
  EXPECT_EQ(f->Find("no.such.key"), nullptr);
}

// Arrays of arrays: allowed by the format, not written by llama.cpp's writer
// (nor read by its reader), so built by hand.
TEST(ParserTest, NestedArrays) {
  RawWriter r;
  r.Header(3, 0, 2);
  r.Key("nested");
  r.ArrayHeader(GGUF_TYPE_ARRAY, 2);
  r.Type(GGUF_TYPE_INT32, RawWriter::Kind::kArrayType);
  r.U64(2, RawWriter::Kind::kArrayCount);
  r.U32(static_cast<uint32_t>(-7));
  r.U32(9);
  r.Type(GGUF_TYPE_STRING, RawWriter::Kind::kArrayType);
  r.U64(1, RawWriter::Kind::kArrayCount);
  r.Str("deep");
  r.Key("after");
  r.Type(GGUF_TYPE_UINT8);
  r.U8(42);
  Result<GgufFile> f = ParseHeader(AsBytes(r.bytes));
  ASSERT_OK(f);
  const Array* outer = f->GetArray("nested");
  ASSERT_NE(outer, nullptr);
  EXPECT_EQ(outer->element_type, ValueType::kArray);
  ASSERT_EQ(outer->elements.size(), 2u);
  const Array* first = outer->elements[0].AsArray();
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->element_type, ValueType::kInt32);
  ASSERT_EQ(first->elements.size(), 2u);
  EXPECT_EQ(first->elements[0].AsInt(), -7);
  EXPECT_EQ(first->elements[1].AsInt(), 9);
  EXPECT_EQ(*outer->elements[1].AsArray()->elements[0].AsString(), "deep");
  EXPECT_EQ(f->GetUint("after"), 42u);
  EXPECT_EQ(outer->size, 4 + 8 + 8 + 4 + 8 + 8 + 4);
}

// Version 2 has the layout of version 3.
TEST(ParserTest, Version2) {
  TempDir dir;
  LlamaWriter w;
  AddEveryValueType(w.ctx(), 5);
  AddSomeTensors(&w);
  w.Write(dir / "v3.gguf");
  std::string bytes = ReadAll(dir / "v3.gguf");
  bytes[4] = 2;
  WriteAll(dir / "v2.gguf", bytes);
  Result<GgufFile> f = ReadHeader(dir / "v2.gguf");
  ASSERT_OK(f);
  EXPECT_EQ(f->version, 2u);
  ExpectSameAsLlama(dir / "v2.gguf", *f);
}

TEST(ParserTest, VocabFilesMatchLlamaCpp) {
  const auto files = testing::VocabFiles();
  ASSERT_GE(files.size(), 5u) << "no ggml-vocab-*.gguf in " << HANGAR_VOCAB_DIR;
  for (const auto& path : files) {
    SCOPED_TRACE(path.filename().string());
    Result<GgufFile> f = ReadHeader(path);
    ASSERT_OK(f);
    ExpectSameAsLlama(path, *f);
    EXPECT_LE(f->header_size, f->file_size);
  }
}

TEST(ParserTest, ReadArrayElementsLazily) {
  TempDir dir;
  LlamaWriter w;
  AddEveryValueType(w.ctx(), 3000);
  w.Write(dir / "v.gguf", true);
  Result<GgufFile> f = ReadHeader(dir / "v.gguf", false);
  ASSERT_OK(f);
  const Array* tokens = f->GetArray("tokenizer.ggml.tokens");
  ASSERT_NE(tokens, nullptr);
  ASSERT_FALSE(tokens->complete());
  Result<std::vector<Value>> some = ReadArrayElements(dir / "v.gguf", *tokens, 2998, 2);
  ASSERT_OK(some);
  ASSERT_EQ(some->size(), 2u);
  EXPECT_EQ(*(*some)[0].AsString(), "tok2998");
  EXPECT_EQ(*(*some)[1].AsString(), "tok2999");
  const Array* scores = f->GetArray("tokenizer.ggml.scores");
  Result<std::vector<Value>> s = ReadArrayElements(dir / "v.gguf", *scores, 1234, 1);
  ASSERT_OK(s);
  EXPECT_EQ((*s)[0].AsDouble(), -1234.0);
  // From bytes in memory.
  const std::string bytes = ReadAll(dir / "v.gguf");
  Result<std::vector<Value>> all = ReadArrayElements(AsBytes(bytes), 0, *tokens, 0, 3000);
  ASSERT_OK(all);
  EXPECT_EQ(all->size(), 3000u);
  EXPECT_EQ(*(*all)[1500].AsString(), "tok1500");

  EXPECT_THAT(ReadArrayElements(dir / "v.gguf", *tokens, 2999, 2),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ReadArrayElements(AsBytes(bytes).first(100), 0, *tokens, 0, 1),
              StatusIs(StatusCode::kInvalidArgument));
}

TEST(ParserTest, MissingFileIsNotFound) {
  TempDir dir;
  EXPECT_THAT(ReadHeader(dir / "absent.gguf"), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(ReadHeader(dir.path()), StatusIs(StatusCode::kInvalidArgument));
}

TEST(ParserTest, EmptyFileIsTruncated) {
  TempDir dir;
  WriteAll(dir / "empty.gguf", "");
  EXPECT_THAT(ReadHeader(dir / "empty.gguf"),
              AllOf(StatusIs(StatusCode::kDataLoss), StatusHasMessage(HasSubstr("empty.gguf"))));
}

TEST(ParserTest, MetadataOnlyFileNeedsTheFlag) {
  TempDir dir;
  LlamaWriter w;
  AddEveryValueType(w.ctx(), 3);
  AddSomeTensors(&w);
  w.Write(dir / "m.gguf", true);
  EXPECT_THAT(ReadHeader(dir / "m.gguf"),
              AllOf(StatusIs(StatusCode::kDataLoss), StatusHasMessage(HasSubstr("truncated"))));
  EXPECT_OK(ReadHeader(dir / "m.gguf", false));
}

}  // namespace
}  // namespace hangar::gguf
