#include "gguf/writer.h"

#include <gtest/gtest.h>

#include <fstream>

#include "gguf/parser.h"
#include "gguf/test_util.h"

namespace hangar::gguf {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

// Writes the data of a tensor as `n` bytes of `fill`.
class Bytes {
 public:
  static Status Fill(TensorSink& sink, uint64_t n, char fill) { return sink.Write(std::string(n, fill)); }
};

TEST(GgufWriterTest, WritesAFileThisParserAndLlamaCppReadBack) {
  TempDir dir;
  GgufWriter w;
  w.SetString("general.architecture", "llama");
  w.SetU32("llama.block_count", 2);
  w.SetF32("llama.rope.freq_base", 10000.0f);
  w.SetBool("tokenizer.ggml.add_bos_token", true);
  const std::vector<std::string> tokens = {"<s>", "a", "b c"};
  w.SetStrings("tokenizer.ggml.tokens", tokens);
  const std::vector<int32_t> types = {3, 1, 1};
  w.SetI32s("tokenizer.ggml.token_type", types);
  w.SetU32("llama.block_count", 3);  // replaced in place, not added twice
  const uint64_t embd[] = {8, 3};
  const uint64_t norm[] = {8};
  ASSERT_TRUE(w.AddTensor("token_embd.weight", embd, 1).ok());  // F16
  ASSERT_TRUE(w.AddTensor("output_norm.weight", norm, 0).ok());  // F32
  EXPECT_EQ(w.data_bytes(), 8 * 3 * 2 + 8 * 4u);
  const fs::path out = dir.path() / "m.gguf";
  ASSERT_TRUE(w.Write(out, [](size_t i, TensorSink& s) { return Bytes::Fill(s, i == 0 ? 48 : 32, static_cast<char>('A' + i)); }).ok());
  EXPECT_FALSE(fs::exists(out.string() + ".partial"));

  Result<GgufFile> f = ReadHeader(out);
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(f->kvs.size(), 6u);
  EXPECT_EQ(*f->GetString("general.architecture"), "llama");
  EXPECT_EQ(f->GetUint("llama.block_count"), 3u);
  EXPECT_EQ(f->GetDouble("llama.rope.freq_base"), 10000.0);
  EXPECT_EQ(f->GetArray("tokenizer.ggml.tokens")->count, 3u);
  EXPECT_EQ(*f->GetArray("tokenizer.ggml.tokens")->elements[2].AsString(), "b c");
  ASSERT_EQ(f->tensors.size(), 2u);
  EXPECT_EQ(f->tensors[0].dims[0], 8u);
  EXPECT_EQ(f->tensors[0].dims[1], 3u);
  EXPECT_EQ(f->tensors[1].offset, 64u);  // 48 bytes padded to 32
  // llama.cpp's own reader agrees.
  gguf_init_params params = {true, nullptr};
  gguf_context* ctx = gguf_init_from_file(out.c_str(), params);
  ASSERT_NE(ctx, nullptr);
  EXPECT_EQ(gguf_get_n_tensors(ctx), 2);
  EXPECT_EQ(gguf_get_val_u32(ctx, gguf_find_key(ctx, "llama.block_count")), 3u);
  EXPECT_EQ(gguf_get_tensor_offset(ctx, 1), 64u);
  gguf_free(ctx);
  std::ifstream in(out, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(bytes.size(), f->data_offset + 64 + 32);
  EXPECT_EQ(bytes.substr(f->data_offset, 48), std::string(48, 'A'));
  EXPECT_EQ(bytes.substr(f->data_offset + 64, 32), std::string(32, 'B'));
}

TEST(GgufWriterTest, AFailedOrShortWriteLeavesNoFile) {
  TempDir dir;
  GgufWriter w;
  w.SetString("general.architecture", "llama");
  const uint64_t ne[] = {4};
  ASSERT_TRUE(w.AddTensor("a.weight", ne, 0).ok());
  ASSERT_TRUE(w.AddTensor("b.weight", ne, 0).ok());
  const fs::path out = dir.path() / "m.gguf";
  Status s = w.Write(out, [](size_t i, TensorSink& sink) {
    if (i == 1) return CancelledError("stop");
    return Bytes::Fill(sink, 16, 'x');
  });
  EXPECT_EQ(s.code(), StatusCode::kCancelled);
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(out.string() + ".partial"));
  s = w.Write(out, [](size_t, TensorSink& sink) { return Bytes::Fill(sink, 15, 'x'); });
  EXPECT_EQ(s.code(), StatusCode::kInternal);
  EXPECT_NE(s.message().find("15 bytes written where it holds 16"), std::string::npos);
  EXPECT_FALSE(fs::exists(out));
}

TEST(GgufWriterTest, RefusesTensorsItCannotDescribe) {
  GgufWriter w;
  const uint64_t odd[] = {33, 2};
  EXPECT_EQ(w.AddTensor("q.weight", odd, 8).code(), StatusCode::kInvalidArgument);  // Q8_0 rows of 32
  const uint64_t ok[] = {32};
  EXPECT_TRUE(w.AddTensor("t", ok, 0).ok());
  EXPECT_EQ(w.AddTensor("t", ok, 0).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(w.AddTensor("u", ok, 4).code(), StatusCode::kInvalidArgument);  // a removed type
}

}  // namespace
}  // namespace hangar::gguf
