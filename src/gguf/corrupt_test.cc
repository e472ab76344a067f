// Hostile input: a valid file, truncated at every field boundary and with
// every field overwritten by hostile values, must give a clean error that
// names the file and a byte offset (never a crash or a huge allocation).
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

#include "core/status_matchers.h"
#include "gguf/parser.h"
#include "gguf/test_util.h"

namespace hangar::gguf {
namespace {

using testing::AsBytes;
using ::testing::HasSubstr;
using testing::RawWriter;
using Kind = RawWriter::Kind;

constexpr uint64_t kU64Max = ~uint64_t{0};

struct Base {
  RawWriter raw;
  size_t alignment_type_field = 0;  // index in raw.fields
  size_t key_b_bytes_field = 0;
  size_t tensor_b_name_field = 0;
  size_t tensor_b_offset_field = 0;
  size_t tensor_c_offset_field = 0;
};

// A small valid file with a bit of everything; field positions recorded.
Base MakeBase() {
  Base b;
  RawWriter& r = b.raw;
  r.Header(3, 3, 7);
  r.Key("general.architecture");
  r.Type(GGUF_TYPE_STRING);
  r.Str("llama");
  r.Key("general.alignment");
  b.alignment_type_field = r.fields.size();
  r.Type(GGUF_TYPE_UINT32);
  r.U32(32, Kind::kAlignment);
  r.Key("test.key_a");
  r.Type(GGUF_TYPE_UINT32);
  r.U32(7);
  r.Key("test.key_b");
  b.key_b_bytes_field = r.fields.size() - 1;
  r.Type(GGUF_TYPE_INT8);
  r.U8(0xFF);
  r.Key("test.strs");
  r.ArrayHeader(GGUF_TYPE_STRING, 3);
  r.Str("x");
  r.Str("yy");
  r.Str("");
  r.Key("test.f32s");
  r.ArrayHeader(GGUF_TYPE_FLOAT32, 4);
  for (int i = 0; i < 4; ++i) r.U32(0x3f800000);
  r.Key("test.nested");
  r.ArrayHeader(GGUF_TYPE_ARRAY, 2);
  r.Type(GGUF_TYPE_UINT16, Kind::kArrayType);
  r.U64(2, Kind::kArrayCount);
  r.Int(1, 2, Kind::kScalar);
  r.Int(2, 2, Kind::kScalar);
  r.Type(GGUF_TYPE_STRING, Kind::kArrayType);
  r.U64(1, Kind::kArrayCount);
  r.Str("z");
  r.Tensor("a", {8, 2}, GGML_TYPE_F32, 0);  // 64 bytes
  const size_t before_b = r.fields.size();
  r.Tensor("b", {64, 2}, GGML_TYPE_Q8_0, 64);  // 136 bytes
  b.tensor_b_name_field = before_b + 1;
  b.tensor_b_offset_field = r.fields.size() - 1;
  r.Tensor("c", {256}, GGML_TYPE_Q4_K, 224);  // 144 bytes
  b.tensor_c_offset_field = r.fields.size() - 1;
  r.PadAndData(32, 224 + 144);
  return b;
}

struct CorruptCase {
  std::string name;
  std::string bytes;
  StatusCode code;
  std::string message_part;  // "" for any
};

void Overwrite(std::string* bytes, const RawWriter::Field& f, uint64_t value) {
  for (uint64_t i = 0; i < f.size; ++i)
    (*bytes)[f.offset + i] = static_cast<char>(value >> (8 * i));
}

std::vector<CorruptCase> MakeCases() {
  const Base base = MakeBase();
  const std::string& good = base.raw.bytes;
  std::vector<CorruptCase> cases;
  auto add = [&](std::string name, std::string bytes, StatusCode code, std::string part = "") {
    cases.push_back(
        {std::to_string(cases.size()) + "_" + name, std::move(bytes), code, std::move(part)});
  };

  // Truncated at the start, middle and end of every field.
  std::vector<uint64_t> cuts;
  for (const auto& f : base.raw.fields) {
    cuts.push_back(f.offset);
    if (f.size > 1) cuts.push_back(f.offset + f.size / 2);
    if (f.size > 2) cuts.push_back(f.offset + f.size - 1);
  }
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  for (uint64_t cut : cuts) {
    add("truncated_at_" + std::to_string(cut), good.substr(0, cut), StatusCode::kDataLoss,
        "truncated");
  }

  // Hostile values for every field of a kind.
  struct Hostile {
    Kind kind;
    std::vector<uint64_t> values;
    StatusCode code;
    std::string part;
  };
  const std::vector<Hostile> hostile = {
      {Kind::kVersion, {0, 1, 4, 0x00030000, 0xFFFFFFFF}, StatusCode::kInvalidArgument, "version"},
      {Kind::kTensorCount,
       {kMaxTensors + 1, kU64Max, uint64_t{1} << 40, 200},
       StatusCode::kDataLoss,
       ""},
      {Kind::kKvCount, {kMaxKeyValues + 1, kU64Max, 1000}, StatusCode::kDataLoss, ""},
      {Kind::kKeyLength,
       {0, kU64Max, kMaxStringBytes + 1, uint64_t{1} << 32},
       StatusCode::kDataLoss,
       "key"},
      {Kind::kValueType, {13, 0xFFFFFFFF, 0x80000000}, StatusCode::kDataLoss, "value type"},
      {Kind::kArrayType, {13, 0xFFFFFFFF}, StatusCode::kDataLoss, "element type"},
      {Kind::kArrayCount,
       {kU64Max, kMaxArrayElements + 1, uint64_t{1} << 29},
       StatusCode::kDataLoss,
       "array of"},
      {Kind::kStringLength,
       {kU64Max, kMaxStringBytes + 1, uint64_t{1} << 32},
       StatusCode::kDataLoss,
       ""},
      {Kind::kAlignment, {0, 3, 48, 0xFFFFFFFF, 64, 0x80000000}, StatusCode::kDataLoss, ""},
      {Kind::kNameLength, {64, 1000, kU64Max}, StatusCode::kDataLoss, "tensor name"},
      {Kind::kNDims, {5, 7, 0xFFFFFFFF}, StatusCode::kDataLoss, "dimensions (at most 4)"},
      {Kind::kDim, {0, uint64_t{1} << 63, kU64Max, uint64_t{1} << 62}, StatusCode::kDataLoss, ""},
      {Kind::kTensorType,
       {4, 5, 31, 33, 36, 38, 43, 1000, 0xFFFFFFFF},
       StatusCode::kDataLoss,
       "ggml type"},
      {Kind::kTensorOffset, {1, 16, kU64Max - 31, uint64_t{1} << 40}, StatusCode::kDataLoss, ""},
  };
  for (const Hostile& h : hostile) {
    for (size_t fi = 0; fi < base.raw.fields.size(); ++fi) {
      const auto& f = base.raw.fields[fi];
      if (f.kind != h.kind) continue;
      for (uint64_t v : h.values) {
        std::string bytes = good;
        Overwrite(&bytes, f, v);
        add("field" + std::to_string(fi) + "_set_" + std::to_string(v), std::move(bytes), h.code,
            h.part);
      }
    }
  }

  // Magic.
  for (const char* magic : {"GGUX", "ggml", "\0\0\0\0", "FUGG"}) {
    std::string bytes = good;
    bytes.replace(0, 4, std::string(magic, 4));
    add("magic", std::move(bytes), StatusCode::kInvalidArgument, "not a GGUF file");
  }
  // general.alignment of another type.
  for (uint64_t type : {GGUF_TYPE_INT32, GGUF_TYPE_FLOAT32}) {
    std::string bytes = good;
    Overwrite(&bytes, base.raw.fields[base.alignment_type_field], type);
    add("alignment_type", std::move(bytes), StatusCode::kDataLoss, "must be u32");
  }
  // Duplicate key and tensor name.
  {
    std::string bytes = good;
    const auto& f = base.raw.fields[base.key_b_bytes_field];
    bytes[f.offset + f.size - 1] = 'a';
    add("duplicate_key", std::move(bytes), StatusCode::kDataLoss, "duplicate key");
  }
  {
    std::string bytes = good;
    bytes[base.raw.fields[base.tensor_b_name_field].offset] = 'a';
    add("duplicate_tensor", std::move(bytes), StatusCode::kDataLoss, "duplicate tensor name");
  }
  // Overlapping tensor data.
  {
    std::string bytes = good;
    Overwrite(&bytes, base.raw.fields[base.tensor_b_offset_field], 0);
    add("overlap_b_on_a", std::move(bytes), StatusCode::kDataLoss, "overlaps");
    bytes = good;
    Overwrite(&bytes, base.raw.fields[base.tensor_c_offset_field], 192);
    add("overlap_c_on_b", std::move(bytes), StatusCode::kDataLoss, "overlaps");
  }
  // Arrays nested too deep.
  {
    RawWriter r;
    r.Header(3, 0, 1);
    r.Key("deep");
    r.ArrayHeader(GGUF_TYPE_ARRAY, 1);
    for (uint32_t d = 0; d < kMaxArrayDepth + 2; ++d) {
      r.Type(GGUF_TYPE_ARRAY, Kind::kArrayType);
      r.U64(1, Kind::kArrayCount);
    }
    r.Type(GGUF_TYPE_UINT8, Kind::kArrayType);
    r.U64(0, Kind::kArrayCount);
    add("nested_too_deep", r.bytes, StatusCode::kDataLoss, "nested deeper");
  }
  return cases;
}

void PrintTo(const CorruptCase& c, std::ostream* os) { *os << c.name; }

class CorruptFileTest : public ::testing::TestWithParam<CorruptCase> {};

TEST_P(CorruptFileTest, CleanErrorWithOffset) {
  const CorruptCase& c = GetParam();
  ParseOptions options;
  options.name = "corrupt.gguf";
  Result<GgufFile> parsed = ParseHeader(AsBytes(c.bytes), options);
  ASSERT_FALSE(parsed.ok()) << "parsed without error";
  EXPECT_THAT(parsed, StatusIs(c.code));
  const std::string message = parsed.status().message();
  EXPECT_TRUE(std::regex_search(message, std::regex("^corrupt\\.gguf: offset [0-9]+: ")))
      << message;
  if (!c.message_part.empty()) {
    EXPECT_THAT(message, HasSubstr(c.message_part));
  }

  // The prefix API with the file size known says the same.
  options.file_size = c.bytes.size();
  Result<ParseOutcome> prefix = ParseHeaderPrefix(AsBytes(c.bytes), options);
  EXPECT_EQ(prefix.status(), parsed.status());

  // Without the file size, a prefix may also just need more bytes.
  options.file_size.reset();
  Result<ParseOutcome> open_ended = ParseHeaderPrefix(AsBytes(c.bytes), options);
  if (open_ended.ok()) {
    if (const auto* more = std::get_if<NeedMore>(&*open_ended)) {
      EXPECT_GT(more->bytes_needed_at_least, c.bytes.size());
      EXPECT_GE(more->suggested_bytes, more->bytes_needed_at_least);
    }
  } else {
    EXPECT_THAT(open_ended.status().message(), HasSubstr("offset "));
  }
}

INSTANTIATE_TEST_SUITE_P(Generated, CorruptFileTest, ::testing::ValuesIn(MakeCases()),
                         [](const auto& info) { return info.param.name; });

TEST(CorruptFileTest, AtLeastTwoHundredCases) { EXPECT_GE(MakeCases().size(), 200u); }

TEST(CorruptFileTest, BaseFileIsValid) {
  const Base base = MakeBase();
  Result<GgufFile> f = ParseHeader(AsBytes(base.raw.bytes));
  ASSERT_OK(f);
  EXPECT_EQ(f->tensors.size(), 3u);
  EXPECT_EQ(f->kvs.size(), 7u);
}

TEST(CorruptFileTest, MessageNamesTensorAndOffset) {
  Base base = MakeBase();
  for (size_t i = 0; i < base.raw.fields.size(); ++i) {
    const auto& f = base.raw.fields[i];
    if (f.kind != Kind::kNDims) continue;
    Overwrite(&base.raw.bytes, f, 7);
    ParseOptions options;
    options.name = "model.gguf";
    EXPECT_THAT(ParseHeader(AsBytes(base.raw.bytes), options),
                StatusHasMessage(fmt::format(
                    "model.gguf: offset {}: tensor \"a\" has 7 dimensions (at most 4)", f.offset)));
    break;
  }
}

TEST(CorruptFileTest, TruncatedDataSaysDownloadAgain) {
  const Base base = MakeBase();
  const std::string cut = base.raw.bytes.substr(0, base.raw.bytes.size() - 1);
  EXPECT_THAT(ParseHeader(AsBytes(cut)),
              AllOf(StatusIs(StatusCode::kDataLoss),
                    StatusHasMessage(HasSubstr("tensor \"c\": data ends at offset")),
                    StatusHasMessage(HasSubstr("download it again"))));
}

}  // namespace
}  // namespace hangar::gguf
