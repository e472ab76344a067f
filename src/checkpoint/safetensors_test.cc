#include "checkpoint/safetensors.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "checkpoint/hf_checkpoint.h"
#include "core/status_matchers.h"

namespace hangar::checkpoint {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// A safetensors file: `header` as JSON, then `data` bytes.
std::string File(const nlohmann::json& header, std::string data) {
  const std::string text = header.dump();
  std::string out(8, '\0');
  uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + text + data;
}

nlohmann::json Tensor(std::string dtype, std::vector<uint64_t> shape, uint64_t begin, uint64_t end) {
  return {{"dtype", dtype}, {"shape", shape}, {"data_offsets", {begin, end}}};
}

Result<SafetensorsHeader> Parse(const std::string& file) {
  return ParseSafetensorsHeader(file, file.size());
}

TEST(SafetensorsTest, ReadsTensorsInDataOrderWithTheirMetadata) {
  const std::string f = File({{"b", Tensor("BF16", {2, 3}, 16, 28)},
                              {"a", Tensor("F32", {4}, 0, 16)},
                              {"__metadata__", {{"format", "pt"}}}},
                             std::string(28, 'x'));
  auto h = Parse(f);
  ASSERT_OK(h.status());
  ASSERT_EQ(h->tensors.size(), 2u);
  EXPECT_EQ(h->tensors[0].name, "a");
  EXPECT_EQ(h->tensors[1].name, "b");
  EXPECT_EQ(h->tensors[1].dtype, Dtype::kBF16);
  EXPECT_EQ(h->tensors[1].elements(), 6u);
  EXPECT_EQ(h->metadata.at("format"), "pt");
  EXPECT_EQ(h->data_offset, f.size() - 28);
  EXPECT_EQ(h->data_bytes(), 28u);
}

TEST(SafetensorsTest, HostileHeadersAreRefusedWithTheByteOffset) {
  // Cut short, absurd or past the end.
  EXPECT_THAT(ParseSafetensorsHeader("abc", 3), StatusIs(StatusCode::kDataLoss));
  std::string huge(8, '\xff');
  EXPECT_THAT(ParseSafetensorsHeader(huge, 8), StatusHasMessage(HasSubstr("byte 0")));
  std::string past = File(nlohmann::json::object(), "");
  EXPECT_THAT(ParseSafetensorsHeader(past, 9), StatusIs(StatusCode::kDataLoss));
  // Not JSON: the offset of the fault in the file.
  std::string broken = File({{"a", 1}}, "");
  broken[12] = '!';
  EXPECT_THAT(Parse(broken), StatusHasMessage(HasSubstr("at byte 1")));
  EXPECT_THAT(Parse(File(nlohmann::json::array(), "")), StatusHasMessage(HasSubstr("not a JSON object")));
  // Found by the fuzz target: a number too large for a double.
  const std::string overflow = "{\"w\": {\"dtype\": 4444444E4444444}}";
  EXPECT_THAT(Parse(std::string(1, static_cast<char>(overflow.size())) + std::string(7, '\0') + overflow),
              StatusIs(StatusCode::kInvalidArgument));
  // Tensor entries that lie.
  EXPECT_THAT(Parse(File({{"w", Tensor("Q4", {2}, 0, 2)}}, "xx")), StatusHasMessage(HasSubstr("unknown dtype")));
  EXPECT_THAT(Parse(File({{"w", Tensor("F32", {2, 2}, 0, 8)}}, std::string(8, 'x'))),
              StatusHasMessage(HasSubstr("take 16 bytes")));
  EXPECT_THAT(Parse(File({{"w", Tensor("F32", {4}, 0, 16)}}, std::string(8, 'x'))),
              StatusIs(StatusCode::kDataLoss));
  EXPECT_THAT(Parse(File({{"w", Tensor("F32", {4}, 0, 16)}}, std::string(8, 'x'))),
              StatusHasMessage(HasSubstr("runs past the end")));
  EXPECT_THAT(Parse(File({{"w", Tensor("F32", {2}, 8, 0)}}, std::string(8, 'x'))),
              StatusHasMessage(HasSubstr("end before they begin")));
  EXPECT_THAT(Parse(File({{"a", Tensor("F32", {2}, 0, 8)}, {"b", Tensor("F32", {2}, 4, 12)}},
                         std::string(12, 'x'))),
              StatusHasMessage(HasSubstr("overlap")));
  EXPECT_THAT(Parse(File({{"w", Tensor("F32", {1ull << 32, 1ull << 32, 16}, 0, 0)}}, "")),
              StatusHasMessage(HasSubstr("overflows")));
  EXPECT_THAT(Parse(File({{"w", {{"dtype", "F32"}, {"shape", {-1}}, {"data_offsets", {0, 4}}}}}, "xxxx")),
              StatusHasMessage(HasSubstr("whole number")));
  EXPECT_THAT(Parse(File({{"w", {{"dtype", "F32"}, {"shape", {1}}}}}, "xxxx")),
              StatusHasMessage(HasSubstr("data_offsets")));
  EXPECT_THAT(Parse(File({{"__metadata__", {{"k", 1}}}}, "")), StatusHasMessage(HasSubstr("__metadata__.k")));
}

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::path(::testing::TempDir()) / "hangar_ckpt_XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  void Write(const std::string& name, const std::string& bytes) {
    std::ofstream(dir_ / name, std::ios::binary) << bytes;
  }
  fs::path dir_;
};

TEST_F(CheckpointTest, AShardedCheckpointWithItsIndexAndConfig) {
  Write("config.json", R"({"architectures": ["Qwen3ForCausalLM"], "hidden_size": 64,
                           "text_config": {"num_hidden_layers": 2}})");
  Write("tokenizer.json", "{}");
  Write("tokenizer_config.json", R"({"chat_template": "{{ messages }}"})");
  Write("model-00001-of-00002.safetensors", File({{"a", Tensor("BF16", {4, 2}, 0, 16)}}, std::string(16, 'x')));
  Write("model-00002-of-00002.safetensors", File({{"b", Tensor("F32", {3}, 0, 12)}}, std::string(12, 'x')));
  Write("model.safetensors.index.json", R"({"weight_map": {"a": "model-00001-of-00002.safetensors",
                                                            "b": "model-00002-of-00002.safetensors"}})");
  auto c = OpenCheckpoint(dir_);
  ASSERT_OK(c.status());
  EXPECT_TRUE(c->has_index);
  EXPECT_EQ(c->architecture_class(), "Qwen3ForCausalLM");
  EXPECT_EQ(GgufArchitecture(c->architecture_class()), "qwen3");
  EXPECT_EQ(c->config["num_hidden_layers"], 2);  // from text_config
  EXPECT_EQ(c->parameter_count(), 11u);
  EXPECT_EQ(c->dtypes().at("BF16").second, 16u);
  EXPECT_TRUE(c->has_tokenizer_json);
  EXPECT_TRUE(c->has_chat_template);
  EXPECT_FALSE(c->has_tokenizer_model);
  const Shard* shard = nullptr;
  ASSERT_NE(c->Find("b", &shard), nullptr);
  EXPECT_EQ(shard->path.filename(), "model-00002-of-00002.safetensors");
  nlohmann::json j = ToJson(*c);
  EXPECT_EQ(j["architecture"], "qwen3");
  EXPECT_EQ(j["files"].size(), 2u);
  EXPECT_TRUE(LooksLikeCheckpoint(dir_));

  // An index that disagrees with the shards is refused.
  Write("model.safetensors.index.json", R"({"weight_map": {"a": "model-00002-of-00002.safetensors",
                                                            "b": "model-00002-of-00002.safetensors"}})");
  EXPECT_THAT(OpenCheckpoint(dir_), StatusHasMessage(HasSubstr("which does not hold it")));
  Write("model.safetensors.index.json", R"({"weight_map": {"a": "../evil.safetensors"}})");
  EXPECT_THAT(OpenCheckpoint(dir_), StatusHasMessage(HasSubstr("outside the folder")));
  Write("model.safetensors.index.json", R"({"weight_map": {"a": "model-00001-of-00002.safetensors",
                                                            "b": "model-00002-of-00002.safetensors",
                                                            "c": "model-00003-of-00003.safetensors"}})");
  EXPECT_THAT(OpenCheckpoint(dir_), StatusIs(StatusCode::kNotFound));
  // A single file opens by itself; a broken one names itself.
  auto single = OpenCheckpoint(dir_ / "model-00002-of-00002.safetensors");
  ASSERT_OK(single.status());
  EXPECT_EQ(single->parameter_count(), 3u);
  Write("bad.safetensors", std::string("\x02\0\0\0\0\0\0\0{]", 10));
  EXPECT_THAT(OpenCheckpoint(dir_ / "bad.safetensors"), StatusHasMessage(HasSubstr("bad.safetensors")));
}

TEST_F(CheckpointTest, PickleWeightsAreRefusedNeverLoaded) {
  Write("config.json", R"({"architectures": ["LlamaForCausalLM"]})");
  Write("pytorch_model.bin", "PK\x03\x04 not unpickled");
  EXPECT_TRUE(LooksLikeCheckpoint(dir_));
  EXPECT_THAT(OpenCheckpoint(dir_), StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_THAT(OpenCheckpoint(dir_), StatusHasMessage(HasSubstr("pickle")));
  EXPECT_THAT(OpenCheckpoint(dir_ / "pytorch_model.bin"), StatusHasMessage(HasSubstr("unpickling can run code")));
  fs::remove(dir_ / "pytorch_model.bin");
  EXPECT_THAT(OpenCheckpoint(dir_), StatusIs(StatusCode::kNotFound));
  EXPECT_EQ(GgufArchitecture("MambaForCausalLM"), "");
}

}  // namespace
}  // namespace hangar::checkpoint
