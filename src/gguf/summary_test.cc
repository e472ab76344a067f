#include "gguf/summary.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/status_matchers.h"
#include "gguf/ggml_types.h"
#include "gguf/parser.h"
#include "gguf/test_util.h"

namespace hangar::gguf {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using testing::LlamaWriter;
using testing::TempDir;

void SetTokens(gguf_context* ctx, size_t n) {
  std::vector<std::string> tokens(n);
  std::vector<const char*> ptrs(n);
  for (size_t i = 0; i < n; ++i) {
    tokens[i] = "t" + std::to_string(i);
    ptrs[i] = tokens[i].c_str();
  }
  gguf_set_arr_str(ctx, "tokenizer.ggml.tokens", ptrs.data(), n);
}

GgufFile WriteAndRead(LlamaWriter* w, const TempDir& dir, const std::string& name) {
  w->Write(dir / name);
  Result<GgufFile> f = ReadHeader(dir / name);
  EXPECT_OK(f);
  return f.ok() ? *f : GgufFile{};
}

TEST(SummaryTest, LlamaLikeModel) {
  TempDir dir;
  LlamaWriter w;
  gguf_context* c = w.ctx();
  gguf_set_val_str(c, "general.architecture", "llama");
  gguf_set_val_str(c, "general.name", "Tiny Llama");
  gguf_set_val_u32(c, "general.file_type", 15);
  gguf_set_val_u32(c, "llama.context_length", 8192);
  gguf_set_val_u32(c, "llama.block_count", 4);
  gguf_set_val_u32(c, "llama.embedding_length", 256);
  gguf_set_val_u32(c, "llama.feed_forward_length", 512);
  gguf_set_val_u32(c, "llama.attention.head_count", 8);
  const uint32_t kv_heads[] = {2, 2, 4, 4};
  gguf_set_arr_data(c, "llama.attention.head_count_kv", GGUF_TYPE_UINT32, kv_heads, 4);
  gguf_set_val_u32(c, "llama.rope.dimension_count", 32);
  gguf_set_val_str(c, "tokenizer.ggml.model", "gpt2");
  SetTokens(c, 10);
  gguf_set_val_u32(c, "tokenizer.ggml.bos_token_id", 1);
  gguf_set_val_u32(c, "tokenizer.ggml.eos_token_id", 2);
  gguf_set_val_str(c, "tokenizer.chat_template", "{{ messages }}");
  w.AddTensor("token_embd.weight", GGML_TYPE_Q4_K, {256, 10});
  w.AddTensor("blk.0.attn_q.weight", GGML_TYPE_Q4_K, {256, 256});
  w.AddTensor("blk.0.ffn_down.weight", GGML_TYPE_Q6_K, {512, 256});
  w.AddTensor("blk.0.attn_norm.weight", GGML_TYPE_F32, {256});
  const GgufFile f = WriteAndRead(&w, dir, "llama.gguf");

  const ModelSummary s = Summarize(f);
  EXPECT_EQ(s.architecture, "llama");
  EXPECT_EQ(s.name, "Tiny Llama");
  EXPECT_EQ(s.file_type, 15u);
  EXPECT_FALSE(s.file_type_guessed);
  EXPECT_EQ(s.FileTypeTag(), "Q4_K_M");
  EXPECT_EQ(s.parameter_count, 256u * 10 + 256 * 256 + 512 * 256 + 256);
  EXPECT_EQ(s.context_length, 8192u);
  EXPECT_EQ(s.block_count, 4u);
  EXPECT_EQ(s.embedding_length, 256u);
  EXPECT_EQ(s.feed_forward_length, 512u);
  EXPECT_EQ(s.head_count, 8u);
  EXPECT_EQ(s.head_count_kv, 4u);
  EXPECT_THAT(s.head_count_kv_per_layer, ElementsAre(2, 2, 4, 4));
  EXPECT_EQ(s.key_length, 32u);  // 256 / 8
  EXPECT_EQ(s.value_length, 32u);
  EXPECT_EQ(s.rope_dimension_count, 32u);
  EXPECT_EQ(s.sliding_window, std::nullopt);
  EXPECT_TRUE(s.sliding_window_layers.empty());
  EXPECT_EQ(s.vocab_size, 10u);
  EXPECT_EQ(s.tokenizer_model, "gpt2");
  EXPECT_TRUE(s.has_chat_template);
  EXPECT_EQ(s.bos_token_id, 1u);
  EXPECT_EQ(s.eos_token_id, 2u);
  EXPECT_EQ(s.expert_count, std::nullopt);
  ASSERT_EQ(s.types.size(), 3u);
  EXPECT_EQ(s.types.at("q4_K").tensors, 2u);
  EXPECT_EQ(s.types.at("q4_K").bytes, (10u + 256) * 144);
  EXPECT_EQ(s.types.at("q6_K").bytes, 2u * 256 * 210);
  EXPECT_EQ(s.types.at("f32").bytes, 1024u);
  EXPECT_EQ(s.tensor_bytes, f.tensor_bytes);
  EXPECT_EQ(s.file_size, f.file_size);
  EXPECT_EQ(s.data_offset, f.data_offset);
  EXPECT_EQ(s.tensors.size(), 4u);

  const nlohmann::json j = ToJson(s, false);
  EXPECT_EQ(j["architecture"], "llama");
  EXPECT_EQ(j["parameters"], s.parameter_count);
  EXPECT_EQ(j["file_type"]["tag"], "Q4_K_M");
  EXPECT_EQ(j["file_type"]["description"], "Q4_K - Medium");
  EXPECT_EQ(j["hparams"]["head_count_kv_per_layer"], nlohmann::json({2, 2, 4, 4}));
  EXPECT_TRUE(j["hparams"]["sliding_window"].is_null());
  EXPECT_TRUE(j["ssm"].is_null());
  EXPECT_EQ(j["tokenizer"]["vocab_size"], 10);
  EXPECT_EQ(j["tokenizer"]["chat_template"], true);
  EXPECT_EQ(j["types"]["q6_K"]["tensors"], 1);
  EXPECT_EQ(j["layout"]["tensor_count"], 4);
  EXPECT_FALSE(j.contains("tensors"));
  const nlohmann::json jt = ToJson(s, true);
  ASSERT_EQ(jt["tensors"].size(), 4u);
  EXPECT_EQ(jt["tensors"][2]["name"], "blk.0.ffn_down.weight");
  EXPECT_EQ(jt["tensors"][2]["type"], "q6_K");
  EXPECT_EQ(jt["tensors"][2]["dims"], nlohmann::json({512, 256}));
  EXPECT_EQ(jt["tensors"][2]["bytes"], 2 * 256 * 210);
}

struct SwaCase {
  std::string name;
  std::string arch;
  uint32_t layers;
  std::optional<uint32_t> window;
  std::optional<uint32_t> period_key;
  std::vector<bool> flags_key;
  std::vector<bool> expected;
};

void PrintTo(const SwaCase& c, std::ostream* os) { *os << c.name; }

class SlidingWindowTest : public ::testing::TestWithParam<SwaCase> {};

TEST_P(SlidingWindowTest, Layers) {
  const SwaCase& c = GetParam();
  TempDir dir;
  LlamaWriter w;
  const std::string a = c.arch + ".";
  gguf_set_val_str(w.ctx(), "general.architecture", c.arch.c_str());
  gguf_set_val_u32(w.ctx(), (a + "block_count").c_str(), c.layers);
  if (c.window) gguf_set_val_u32(w.ctx(), (a + "attention.sliding_window").c_str(), *c.window);
  if (c.period_key) {
    gguf_set_val_u32(w.ctx(), (a + "attention.sliding_window_pattern").c_str(), *c.period_key);
  }
  if (!c.flags_key.empty()) {
    std::vector<int8_t> flags(c.flags_key.begin(), c.flags_key.end());
    gguf_set_arr_data(w.ctx(), (a + "attention.sliding_window_pattern").c_str(), GGUF_TYPE_BOOL,
                      flags.data(), flags.size());
  }
  const ModelSummary s = Summarize(WriteAndRead(&w, dir, "m.gguf"));
  EXPECT_THAT(s.sliding_window_layers, ElementsAreArray(c.expected));
  EXPECT_EQ(s.sliding_window, c.window);
}

const bool T = true;
const bool F = false;
INSTANTIATE_TEST_SUITE_P(
    Archs, SlidingWindowTest,
    ::testing::Values(
        SwaCase{"gemma3_default", "gemma3", 12, 512, {}, {}, {T, T, T, T, T, F, T, T, T, T, T, F}},
        SwaCase{"gemma2_alternating", "gemma2", 4, 4096, {}, {}, {T, F, T, F}},
        SwaCase{"period_key", "gemma3", 6, 512, 3, {}, {T, T, F, T, T, F}},
        SwaCase{"flags_key", "gemma4", 5, 1024, {}, {F, T, T, F, T}, {F, T, T, F, T}},
        SwaCase{"dense_first", "cohere2moe", 5, 4096, {}, {}, {F, T, T, T, F}},
        SwaCase{"no_window", "gemma3", 6, {}, {}, {}, {}},
        SwaCase{"window_zero", "gemma3", 6, 0, {}, {}, {}},
        SwaCase{"phi3_disabled", "phi3", 4, 2048, {}, {}, {}},
        SwaCase{"unknown_arch", "llama", 4, 4096, {}, {}, {}}),
    [](const auto& info) { return info.param.name; });

TEST(SummaryTest, MoeMlaAndSsmKeys) {
  TempDir dir;
  LlamaWriter w;
  gguf_context* c = w.ctx();
  gguf_set_val_str(c, "general.architecture", "deepseek2");
  gguf_set_val_u32(c, "deepseek2.embedding_length", 2048);
  gguf_set_val_u32(c, "deepseek2.attention.head_count", 16);
  gguf_set_val_u32(c, "deepseek2.attention.key_length", 192);
  gguf_set_val_u32(c, "deepseek2.attention.value_length", 128);
  gguf_set_val_u32(c, "deepseek2.attention.kv_lora_rank", 512);
  gguf_set_val_u32(c, "deepseek2.expert_count", 64);
  gguf_set_val_u32(c, "deepseek2.expert_used_count", 6);
  gguf_set_val_u32(c, "deepseek2.expert_feed_forward_length", 1408);
  gguf_set_val_u32(c, "deepseek2.ssm.conv_kernel", 4);
  gguf_set_val_u32(c, "deepseek2.ssm.state_size", 16);
  gguf_set_val_u32(c, "deepseek2.vocab_size", 102400);
  const ModelSummary s = Summarize(WriteAndRead(&w, dir, "ds.gguf"));
  EXPECT_EQ(s.key_length, 192u);
  EXPECT_EQ(s.value_length, 128u);
  EXPECT_EQ(s.head_count_kv, 16u);  // defaults to head_count
  EXPECT_EQ(s.kv_lora_rank, 512u);
  EXPECT_EQ(s.expert_count, 64u);
  EXPECT_EQ(s.expert_used_count, 6u);
  EXPECT_EQ(s.expert_feed_forward_length, 1408u);
  EXPECT_EQ(s.ssm_conv_kernel, 4u);
  EXPECT_EQ(s.ssm_state_size, 16u);
  EXPECT_EQ(s.ssm_inner_size, std::nullopt);
  EXPECT_EQ(s.vocab_size, 102400u);
  EXPECT_FALSE(s.has_chat_template);
  EXPECT_EQ(s.file_type, std::nullopt);
  const nlohmann::json j = ToJson(s, false);
  EXPECT_EQ(j["ssm"]["conv_kernel"], 4);
  EXPECT_TRUE(j["ssm"]["inner_size"].is_null());
  EXPECT_TRUE(j["file_type"].is_null());
}

TEST(SummaryTest, FileTypeGuessedFromTensors) {
  TempDir dir;
  LlamaWriter w;
  gguf_set_val_str(w.ctx(), "general.architecture", "llama");
  w.AddTensor("a", GGML_TYPE_Q8_0, {32, 4});
  w.AddTensor("b", GGML_TYPE_Q8_0, {32, 4});
  w.AddTensor("c", GGML_TYPE_F32, {4096});
  const ModelSummary s = Summarize(WriteAndRead(&w, dir, "g.gguf"));
  EXPECT_EQ(s.FileTypeTag(), "Q8_0");
  EXPECT_TRUE(s.file_type_guessed);
  EXPECT_EQ(ToJson(s, false)["file_type"]["guessed"], true);
}

TEST(SummaryTest, JsonRepairsInvalidUtf8) {
  TempDir dir;
  LlamaWriter w;
  gguf_set_val_str(w.ctx(), "general.architecture",
                   "ll\xFF"
                   "ama");
  gguf_set_val_str(w.ctx(), "general.name", "caf\xC3\xA9 \xE2\x82");
  const ModelSummary s = Summarize(WriteAndRead(&w, dir, "u.gguf"));
  const nlohmann::json j = ToJson(s, true);
  EXPECT_EQ(j["architecture"],
            "ll\xEF\xBF\xBD"
            "ama");
  EXPECT_EQ(j["name"], "caf\xC3\xA9 \xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_NO_THROW(j.dump());
}

TEST(SummaryTest, MetadataLines) {
  TempDir dir;
  LlamaWriter w;
  gguf_context* c = w.ctx();
  gguf_set_val_str(c, "general.architecture", "llama");
  gguf_set_val_u32(c, "llama.block_count", 32);
  gguf_set_val_f32(c, "llama.rope.freq_base", 500000.0f);
  gguf_set_val_bool(c, "flag", true);
  gguf_set_val_str(c, "quote", "say \"hi\"\n");
  SetTokens(c, 2000);
  const int32_t small[] = {1, -2, 3};
  gguf_set_arr_data(c, "small", GGUF_TYPE_INT32, small, 3);
  gguf_set_val_str(c, "long", std::string(300, 'x').c_str());
  const std::vector<MetadataLine> lines = MetadataLines(WriteAndRead(&w, dir, "p.gguf"));
  ASSERT_EQ(lines.size(), 8u);
  auto find = [&](const std::string& key) {
    for (const MetadataLine& l : lines) {
      if (l.key == key) return l;
    }
    return MetadataLine{};
  };
  EXPECT_EQ(find("general.architecture").type, "str");
  EXPECT_EQ(find("general.architecture").value, "\"llama\"");
  EXPECT_EQ(find("llama.block_count").type, "u32");
  EXPECT_EQ(find("llama.block_count").value, "32");
  EXPECT_EQ(find("llama.rope.freq_base").value, "500000");
  EXPECT_EQ(find("flag").value, "true");
  EXPECT_EQ(find("quote").value, "\"say \\\"hi\\\"\\n\"");
  EXPECT_EQ(find("tokenizer.ggml.tokens").type, "[str; 2000]");
  EXPECT_EQ(find("tokenizer.ggml.tokens").value,
            "[\"t0\", \"t1\", \"t2\", \"t3\", \"t4\", \"t5\", ... (1994 more)]");
  EXPECT_EQ(find("small").type, "[i32; 3]");
  EXPECT_EQ(find("small").value, "[1, -2, 3]");
  EXPECT_THAT(find("long").value, HasSubstr("... (300 bytes)"));
}

TEST(SummaryTest, VocabFiles) {
  for (const auto& path : testing::VocabFiles()) {
    SCOPED_TRACE(path.filename().string());
    Result<GgufFile> f = ReadHeader(path);
    ASSERT_OK(f);
    const ModelSummary s = Summarize(*f);
    EXPECT_FALSE(s.architecture.empty());
    EXPECT_FALSE(s.tokenizer_model.empty());
    ASSERT_TRUE(s.vocab_size.has_value());
    EXPECT_EQ(*s.vocab_size, f->GetArray("tokenizer.ggml.tokens")->count);
    EXPECT_GT(*s.vocab_size, 1000u);
    EXPECT_NO_THROW(ToJson(s, true).dump());
    EXPECT_EQ(MetadataLines(*f).size(), f->kvs.size());
  }
}

}  // namespace
}  // namespace hangar::gguf
