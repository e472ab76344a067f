// The prefix API: what a remote reader sees while fetching a header.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/status_matchers.h"
#include "gguf/parser.h"
#include "gguf/test_util.h"

namespace hangar::gguf {
namespace {

using testing::AsBytes;
using testing::LlamaWriter;
using testing::ReadAll;
using testing::TempDir;

// A model-like file: many tokens, merges, a few hundred tensors.
std::string ModelLikeFile(const TempDir& dir, size_t vocab, int layers) {
  LlamaWriter w;
  gguf_set_val_str(w.ctx(), "general.architecture", "llama");
  gguf_set_val_u32(w.ctx(), "llama.block_count", static_cast<uint32_t>(layers));
  std::vector<std::string> tokens(vocab);
  std::vector<const char*> ptrs(vocab);
  for (size_t i = 0; i < vocab; ++i) {
    tokens[i] = "token_" + std::to_string(i * 7919 % 100000);
    ptrs[i] = tokens[i].c_str();
  }
  gguf_set_arr_str(w.ctx(), "tokenizer.ggml.tokens", ptrs.data(), vocab);
  std::vector<int32_t> types(vocab, 1);
  gguf_set_arr_data(w.ctx(), "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types.data(), vocab);
  gguf_set_arr_str(w.ctx(), "tokenizer.ggml.merges", ptrs.data(), vocab);
  for (int l = 0; l < layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    for (const char* t : {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_up", "ffn_down"}) {
      w.AddTensor(p + t + ".weight", GGML_TYPE_Q4_K, {256, 2});
    }
    w.AddTensor(p + "attn_norm.weight", GGML_TYPE_F32, {256});
  }
  const auto path = dir / "model.gguf";
  w.Write(path);
  return ReadAll(path);
}

// Feeds prefixes of growing size: NeedMore with a lower bound that never
// shrinks and never passes the real header end, until the header is complete.
void CheckGrowingPrefixes(const std::string& bytes, uint64_t step, bool with_size) {
  ParseOptions options;
  options.name = "prefix.gguf";
  Result<GgufFile> whole = ParseHeader(AsBytes(bytes), options);
  ASSERT_OK(whole);
  const uint64_t header = whole->header_size;
  if (with_size) options.file_size = bytes.size();
  uint64_t last_bound = 0;
  uint64_t last_suggested = 0;
  for (uint64_t n = 0;; n = std::min<uint64_t>(n < 64 ? n + 1 : n + step, header)) {
    Result<ParseOutcome> out = ParseHeaderPrefix(AsBytes(bytes).first(n), options);
    ASSERT_OK(out) << "prefix of " << n;
    if (n >= header) {
      ASSERT_TRUE(std::holds_alternative<GgufFile>(*out)) << "prefix of " << n;
      const GgufFile& f = std::get<GgufFile>(*out);
      EXPECT_EQ(f.header_size, header);
      EXPECT_EQ(f.kvs.size(), whole->kvs.size());
      EXPECT_EQ(f.tensors.size(), whole->tensors.size());
      EXPECT_EQ(f.data_offset, whole->data_offset);
      break;
    }
    ASSERT_TRUE(std::holds_alternative<NeedMore>(*out)) << "prefix of " << n;
    const NeedMore& more = std::get<NeedMore>(*out);
    EXPECT_GT(more.bytes_needed_at_least, n);
    EXPECT_LE(more.bytes_needed_at_least, header) << "prefix of " << n;
    EXPECT_GE(more.bytes_needed_at_least, last_bound) << "prefix of " << n;
    EXPECT_GE(more.suggested_bytes, more.bytes_needed_at_least);
    EXPECT_GE(more.suggested_bytes, last_suggested);
    if (with_size) {
      EXPECT_LE(more.suggested_bytes, bytes.size());
    }
    last_bound = more.bytes_needed_at_least;
    last_suggested = more.suggested_bytes;
  }
}

// A remote reader that fetches what the parser suggests: requests made.
int SimulateRemoteFetch(const std::string& bytes) {
  ParseOptions options;
  options.file_size = bytes.size();
  uint64_t have = std::min<uint64_t>(kFirstFetchBytes, bytes.size());
  for (int requests = 1; requests < 10; ++requests) {
    Result<ParseOutcome> out = ParseHeaderPrefix(AsBytes(bytes).first(have), options);
    if (!out.ok()) {
      ADD_FAILURE() << out.status().ToString();
      return -1;
    }
    if (std::holds_alternative<GgufFile>(*out)) return requests;
    const uint64_t next = std::get<NeedMore>(*out).suggested_bytes;
    EXPECT_GT(next, have);
    have = std::min<uint64_t>(next, bytes.size());
  }
  return 99;
}

TEST(PrefixTest, GrowingPrefixesOfGeneratedModel) {
  TempDir dir;
  const std::string bytes = ModelLikeFile(dir, 3000, 12);
  CheckGrowingPrefixes(bytes, 97, false);
  CheckGrowingPrefixes(bytes, 1013, true);
}

TEST(PrefixTest, GrowingPrefixesOfVocabFiles) {
  for (const auto& path : testing::VocabFiles()) {
    SCOPED_TRACE(path.filename().string());
    const std::string bytes = ReadAll(path);
    CheckGrowingPrefixes(bytes, std::max<uint64_t>(997, bytes.size() / 13), false);
  }
}

TEST(PrefixTest, AtMostThreeRequests) {
  for (const auto& path : testing::VocabFiles()) {
    const std::string bytes = ReadAll(path);
    EXPECT_LE(SimulateRemoteFetch(bytes), 3) << path.filename().string();
  }
  TempDir dir;
  const std::string big = ModelLikeFile(dir, 200000, 40);
  EXPECT_GT(big.size(), 4 * kFirstFetchBytes);
  EXPECT_LE(SimulateRemoteFetch(big), 3);
  const std::string small = ModelLikeFile(dir, 100, 2);
  EXPECT_EQ(SimulateRemoteFetch(small), 1);
}

TEST(PrefixTest, HeaderLargerThanTheFileIsAnError) {
  TempDir dir;
  const std::string bytes = ModelLikeFile(dir, 3000, 2);
  ParseOptions options;
  options.file_size = 5000;  // the file claims to be shorter than its header
  EXPECT_THAT(ParseHeaderPrefix(AsBytes(bytes).first(4000), options),
              StatusIs(StatusCode::kDataLoss));
}

TEST(PrefixTest, PrefixBeyondHeaderWithoutSizeSkipsDataCheck) {
  TempDir dir;
  const std::string bytes = ModelLikeFile(dir, 100, 2);
  Result<GgufFile> whole = ParseHeader(AsBytes(bytes));
  ASSERT_OK(whole);
  Result<ParseOutcome> out =
      ParseHeaderPrefix(AsBytes(bytes).first(whole->header_size), ParseOptions{});
  ASSERT_OK(out);
  ASSERT_TRUE(std::holds_alternative<GgufFile>(*out));
  EXPECT_EQ(std::get<GgufFile>(*out).file_size, 0u);
}

}  // namespace
}  // namespace hangar::gguf
