#include "gguf/parser.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <thread>
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

// Two parses of the same bytes agree on every field.
void ExpectSameValue(const Value& a, const Value& b, const std::string& where) {
  ASSERT_EQ(a.type, b.type) << where;
  ASSERT_EQ(a.data.index(), b.data.index()) << where;
  const Array* x = a.AsArray();
  if (x == nullptr) {
    if (a.AsString() != nullptr) {
      EXPECT_EQ(*a.AsString(), *b.AsString()) << where;
    }
    EXPECT_EQ(a.AsUint(), b.AsUint()) << where;
    EXPECT_EQ(a.AsInt(), b.AsInt()) << where;
    EXPECT_EQ(a.AsDouble(), b.AsDouble()) << where;
    EXPECT_EQ(a.AsBool(), b.AsBool()) << where;
    return;
  }
  const Array* y = b.AsArray();
  EXPECT_EQ(x->element_type, y->element_type) << where;
  EXPECT_EQ(x->count, y->count) << where;
  EXPECT_EQ(x->offset, y->offset) << where;
  EXPECT_EQ(x->size, y->size) << where;
  ASSERT_EQ(x->elements.size(), y->elements.size()) << where;
  for (size_t i = 0; i < x->elements.size(); ++i) {
    ExpectSameValue(x->elements[i], y->elements[i], where + "[" + std::to_string(i) + "]");
  }
}

void ExpectSameFile(const GgufFile& a, const GgufFile& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.version, b.version);
  EXPECT_EQ(a.alignment, b.alignment);
  EXPECT_EQ(a.header_size, b.header_size);
  EXPECT_EQ(a.data_offset, b.data_offset);
  EXPECT_EQ(a.tensor_bytes, b.tensor_bytes);
  EXPECT_EQ(a.file_size, b.file_size);
  ASSERT_EQ(a.kvs.size(), b.kvs.size());
  for (size_t i = 0; i < a.kvs.size(); ++i) {
    EXPECT_EQ(a.kvs[i].key, b.kvs[i].key);
    EXPECT_EQ(a.kvs[i].offset, b.kvs[i].offset) << a.kvs[i].key;
    ExpectSameValue(a.kvs[i].value, b.kvs[i].value, a.kvs[i].key);
  }
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    const TensorInfo& x = a.tensors[i];
    const TensorInfo& y = b.tensors[i];
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.dims, y.dims) << x.name;
    EXPECT_EQ(x.type, y.type) << x.name;
    EXPECT_EQ(x.offset, y.offset) << x.name;
    EXPECT_EQ(x.size, y.size) << x.name;
    EXPECT_EQ(x.info_offset, y.info_offset) << x.name;
  }
}

// ReadHeader on a file at `path` holding `bytes` gives what ParseHeader gives
// on them: the same file, or the very same error.
void ExpectReadAsParsed(const std::filesystem::path& path, std::string_view bytes,
                        bool check_tensor_data = true) {
  Result<GgufFile> read = ReadHeader(path, check_tensor_data);
  ParseOptions options;
  options.name = path.filename().string();
  options.check_tensor_data = check_tensor_data;
  Result<GgufFile> parsed = ParseHeader(AsBytes(bytes), options);
  ASSERT_EQ(read.ok(), parsed.ok()) << (read.ok() ? parsed.status() : read.status()).ToString();
  if (parsed.ok()) {
    ExpectSameFile(*read, *parsed);
  } else {
    EXPECT_EQ(read.status(), parsed.status());
  }
}

// A file with a vocabulary big enough that its header spans many read windows.
std::string VocabFileBytes(const TempDir& dir, size_t tokens) {
  LlamaWriter w;
  AddEveryValueType(w.ctx(), tokens);
  AddSomeTensors(&w);
  w.Write(dir / "vocab.gguf");
  return ReadAll(dir / "vocab.gguf");
}

// ReadHeader reads a regular file through a buffer that moves along with
// the parser; wherever the file is cut or corrupt, that gives ParseHeader's
// result on the same bytes.
TEST(ReadHeaderTest, SameAsParseHeaderOnCutFiles) {
  TempDir dir;
  const std::string good = VocabFileBytes(dir, 20000);
  Result<GgufFile> whole = ParseHeader(AsBytes(good));
  ASSERT_OK(whole);
  ASSERT_GT(whole->header_size, 4 * 65536u);  // many windows
  std::vector<uint64_t> cuts = {0,
                                3,
                                4,
                                23,
                                24,
                                65535,
                                65536,
                                65537,
                                131072,
                                whole->header_size - 1,
                                whole->header_size,
                                whole->data_offset,
                                good.size() - 1,
                                good.size()};
  for (uint64_t cut = 1; cut < good.size(); cut += good.size() / 150) cuts.push_back(cut);
  for (uint64_t cut : cuts) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    const std::string bytes = good.substr(0, cut);
    WriteAll(dir / "cut.gguf", bytes);
    ExpectReadAsParsed(dir / "cut.gguf", bytes);
    ExpectReadAsParsed(dir / "cut.gguf", bytes, /*check_tensor_data=*/false);
  }
}

TEST(ReadHeaderTest, SameAsParseHeaderOnCorruptFiles) {
  TempDir dir;
  const std::string good = VocabFileBytes(dir, 20000);
  // The length of a token string in the middle of the vocabulary, and the
  // count of the scores array.
  const size_t token = good.find("tok12345");
  const size_t scores = good.find("tokenizer.ggml.scores");
  ASSERT_NE(token, std::string::npos);
  ASSERT_NE(scores, std::string::npos);
  const size_t length_at = token - 8;
  const size_t count_at = scores + std::strlen("tokenizer.ggml.scores") + 4 + 4;
  struct Patch {
    size_t at;
    uint64_t value;
  };
  for (const Patch& p :
       {Patch{length_at, uint64_t{1} << 40}, Patch{length_at, kMaxStringBytes},
        Patch{length_at, 100000}, Patch{length_at, 3}, Patch{count_at, uint64_t{1} << 29},
        Patch{count_at, 19999}, Patch{count_at, 20001}}) {
    SCOPED_TRACE(std::to_string(p.at) + " set to " + std::to_string(p.value));
    std::string bytes = good;
    for (int i = 0; i < 8; ++i) bytes[p.at + i] = static_cast<char>(p.value >> (8 * i));
    WriteAll(dir / "bad.gguf", bytes);
    ExpectReadAsParsed(dir / "bad.gguf", bytes);
  }
}

// Items longer than the read window: a long string that is kept, a long
// string among the skipped ones, and a long array of numbers.
TEST(ReadHeaderTest, ItemsLongerThanTheReadWindow) {
  TempDir dir;
  LlamaWriter w;
  const std::string template_text(300000, 'x');
  gguf_set_val_str(w.ctx(), "tokenizer.chat_template", template_text.c_str());
  std::vector<std::string> tokens(70000, "t");
  tokens[40000] = std::string(200000, 'y');
  std::vector<const char*> token_ptrs;
  for (const std::string& t : tokens) token_ptrs.push_back(t.c_str());
  gguf_set_arr_str(w.ctx(), "tokenizer.ggml.tokens", token_ptrs.data(), token_ptrs.size());
  std::vector<float> scores(2'000'000, 0.5f);
  gguf_set_arr_data(w.ctx(), "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, scores.data(),
                    scores.size());
  gguf_set_val_u32(w.ctx(), "after", 7);
  AddSomeTensors(&w);
  w.Write(dir / "long.gguf");

  Result<GgufFile> f = ReadHeader(dir / "long.gguf");
  ASSERT_OK(f);
  ExpectSameAsLlama(dir / "long.gguf", *f);
  EXPECT_EQ(*f->GetString("tokenizer.chat_template"), template_text);
  EXPECT_EQ(f->GetArray("tokenizer.ggml.scores")->count, 2'000'000u);
  EXPECT_EQ(f->GetUint("after"), 7u);
  ExpectReadAsParsed(dir / "long.gguf", ReadAll(dir / "long.gguf"));
}

// Many kept values of odd sizes, so that values of every kind straddle the
// edges of the read window at many places.
TEST(ReadHeaderTest, ValuesAcrossReadWindowEdges) {
  TempDir dir;
  LlamaWriter w;
  uint64_t seed = 12345;
  auto next = [&seed] {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    return seed >> 33;
  };
  for (int i = 0; i < 6000; ++i) {
    const std::string key = "k." + std::to_string(i);
    switch (i % 4) {
      case 0: {
        std::string text(next() % 400, ' ');
        for (char& c : text) c = static_cast<char>('a' + next() % 26);
        gguf_set_val_str(w.ctx(), key.c_str(), text.c_str());
        break;
      }
      case 1:
        gguf_set_val_u64(w.ctx(), key.c_str(), next() * 0x9E3779B97F4A7C15ull);
        break;
      case 2:
        gguf_set_val_f64(w.ctx(), key.c_str(), static_cast<double>(next()) / 7.0);
        break;
      default: {
        std::vector<uint32_t> numbers(1 + next() % 40);
        for (uint32_t& n : numbers) n = static_cast<uint32_t>(next());
        gguf_set_arr_data(w.ctx(), key.c_str(), GGUF_TYPE_UINT32, numbers.data(), numbers.size());
      }
    }
  }
  AddSomeTensors(&w);
  w.Write(dir / "odd.gguf");
  Result<GgufFile> f = ReadHeader(dir / "odd.gguf");
  ASSERT_OK(f);
  EXPECT_GT(f->header_size, 8 * 65536u);  // many edges
  ExpectSameAsLlama(dir / "odd.gguf", *f);
  ExpectReadAsParsed(dir / "odd.gguf", ReadAll(dir / "odd.gguf"));
}

// Writes `bytes` into the FIFO at `path` from another thread; a reader that
// stops early makes the writes fail (EPIPE), not the process.
class FifoWriter {
 public:
  FifoWriter(const std::filesystem::path& path, std::string bytes)
      : thread_([path, bytes = std::move(bytes)] {
          sigset_t pipe_signal;
          sigemptyset(&pipe_signal);
          sigaddset(&pipe_signal, SIGPIPE);
          pthread_sigmask(SIG_BLOCK, &pipe_signal, nullptr);
          const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
          if (fd < 0) return;
          size_t done = 0;
          while (done < bytes.size()) {
            const ssize_t r = ::write(fd, bytes.data() + done, bytes.size() - done);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) break;
            done += static_cast<size_t>(r);
          }
          ::close(fd);
        }) {}
  ~FifoWriter() { thread_.join(); }
  FifoWriter(const FifoWriter&) = delete;
  FifoWriter& operator=(const FifoWriter&) = delete;

 private:
  std::thread thread_;
};

// ReadHeader on a pipe (as `hangar inspect /dev/stdin < model.gguf` gives):
// what ParseHeader gives on the bytes that went through it, cut or not.
TEST(ReadHeaderTest, ReadsAPipe) {
  TempDir dir;
  const std::string good = VocabFileBytes(dir, 20000);
  Result<GgufFile> whole = ParseHeader(AsBytes(good));
  ASSERT_OK(whole);
  const auto fifo = dir / "pipe.gguf";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0) << std::strerror(errno);
  for (uint64_t cut : {good.size(), good.size() - 1, whole->data_offset, whole->header_size - 1,
                       uint64_t{100000}, uint64_t{10}}) {
    for (bool check_tensor_data : {true, false}) {
      SCOPED_TRACE("cut at " + std::to_string(cut));
      const std::string bytes = good.substr(0, cut);
      FifoWriter writer(fifo, bytes);
      ExpectReadAsParsed(fifo, bytes, check_tensor_data);
    }
  }
  // A pipe that holds something else is rejected as soon as that shows.
  {
    FifoWriter writer(fifo, "GGML" + good);
    EXPECT_THAT(ReadHeader(fifo), StatusIs(StatusCode::kInvalidArgument));
  }
}

}  // namespace
}  // namespace hangar::gguf
