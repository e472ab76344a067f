#include "checkpoint/onnx.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/status_matchers.h"

namespace hangar::checkpoint {
namespace {

using ::testing::HasSubstr;

// Protocol buffer encoding, enough to write ONNX test models.
std::string Varint(uint64_t v) {
  std::string out;
  do {
    uint8_t b = v & 0x7f;
    v >>= 7;
    out.push_back(static_cast<char>(b | (v ? 0x80 : 0)));
  } while (v);
  return out;
}
std::string Num(uint32_t field, uint64_t v) { return Varint(field << 3) + Varint(v); }
std::string Len(uint32_t field, const std::string& bytes) {
  return Varint((field << 3) | 2) + Varint(bytes.size()) + bytes;
}

std::string Dim(const std::string& param, uint64_t value) {
  return Len(1, param.empty() ? Num(1, value) : Len(2, param));
}
std::string ValueInfo(const std::string& name, uint64_t elem, const std::string& dims) {
  return Len(1, name) + Len(2, Len(1, Num(1, elem) + Len(2, dims)));
}

std::string Model() {
  std::string graph;
  graph += Len(1, Len(4, "MatMul")) + Len(1, Len(4, "Add"));
  graph += Len(2, "main");
  graph += Len(5, Num(1, 4) + Num(1, 3) + Num(2, 1) + Len(8, "w") + Len(9, std::string(48, 'x')));
  graph += Len(5, Len(1, Varint(10)) + Num(2, 1) + Len(8, "big") + Num(14, 1) +
                      Len(13, Len(1, "location") + Len(2, "weights.bin")));
  graph += Len(11, ValueInfo("x", 1, Dim("batch", 0) + Dim("", 4)));
  graph += Len(12, ValueInfo("y", 7, Dim("", 1)));
  return Num(1, 8) + Len(2, "pytorch") + Len(3, "2.1.0") + Num(5, 3) + Len(7, graph) +
         Len(8, Len(1, "") + Num(2, 17)) + Len(8, Len(1, "com.microsoft") + Num(2, 1)) +
         Len(14, Len(1, "author") + Len(2, "tests"));
}

TEST(OnnxTest, MetadataShapesAndParametersWithoutReadingWeights) {
  auto m = ParseOnnxBytes(Model());
  ASSERT_OK(m.status());
  EXPECT_EQ(m->ir_version, 8u);
  EXPECT_EQ(m->producer_name, "pytorch");
  EXPECT_EQ(m->producer_version, "2.1.0");
  EXPECT_EQ(m->model_version, 3u);
  EXPECT_EQ(m->opsets.at(""), 17u);
  EXPECT_EQ(m->opsets.at("com.microsoft"), 1u);
  EXPECT_EQ(m->metadata.at("author"), "tests");
  EXPECT_EQ(m->graph_name, "main");
  EXPECT_EQ(m->nodes, 2u);
  EXPECT_EQ(m->initializers, 2u);
  EXPECT_EQ(m->parameters, 12u + 10u);  // dims plain and packed
  EXPECT_EQ(m->external_files, std::vector<std::string>{"weights.bin"});
  ASSERT_EQ(m->inputs.size(), 1u);
  EXPECT_EQ(m->inputs[0].name, "x");
  EXPECT_EQ(m->inputs[0].elem_type, "float");
  EXPECT_EQ(m->inputs[0].shape, (std::vector<std::string>{"batch", "4"}));
  EXPECT_EQ(m->outputs[0].elem_type, "int64");
}

TEST(OnnxTest, HostileBytesAreRefusedWithTheOffset) {
  const std::string model = Model();
  EXPECT_THAT(ParseOnnxBytes(model.substr(0, model.size() - 5)), StatusHasMessage(HasSubstr("ONNX at byte")));
  EXPECT_THAT(ParseOnnxBytes(Num(1, 8) + Varint((7 << 3) | 2) + Varint(1ull << 40)),
              StatusHasMessage(HasSubstr("runs past its message")));
  EXPECT_THAT(ParseOnnxBytes(Num(1, 8) + Varint((7 << 3) | 3)), StatusHasMessage(HasSubstr("wire type 3")));
  EXPECT_THAT(ParseOnnxBytes(std::string(12, '\xff')), StatusHasMessage(HasSubstr("longer than 10 bytes")));
  EXPECT_THAT(ParseOnnxBytes(Num(1, 8)), StatusHasMessage(HasSubstr("not an ONNX model")));
  EXPECT_THAT(ParseOnnxBytes("GGUF\x03"), StatusIs(StatusCode::kInvalidArgument));
  // Dims that multiply past 64 bits.
  EXPECT_THAT(ParseOnnxBytes(Num(1, 8) + Len(7, Len(5, Num(1, 1ull << 40) + Num(1, 1ull << 40)))),
              StatusHasMessage(HasSubstr("overflow")));
}

}  // namespace
}  // namespace hangar::checkpoint
