#include "checkpoint/pytorch.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>

#include "core/status_matchers.h"

namespace hangar::checkpoint {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using namespace std::string_literals;

std::string U32(uint32_t v) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}
std::string U16(uint16_t v) { return std::string{static_cast<char>(v & 0xff), static_cast<char>(v >> 8)}; }
std::string Str(const std::string& s) { return "X" + U32(static_cast<uint32_t>(s.size())) + s; }

// A tensor as torch.save pickles it: _rebuild_tensor_v2 of a persistent
// storage id, an offset, a size and a stride.
std::string Tensor(const std::string& storage_class, const std::string& key, std::vector<int> size) {
  std::string p = "ctorch._utils\n_rebuild_tensor_v2\n(";
  p += "(" + Str("storage") + "ctorch\n" + storage_class + "\n" + Str(key) + Str("cpu") + "K\x06t" + "Q";
  p += "K\x00"s;
  p += "(";
  for (int d : size) p += "K" + std::string(1, static_cast<char>(d));
  p += "t(";
  for (size_t i = 0; i < size.size(); ++i) p += std::string("K\x01", 2);
  p += "t\x89";
  p += "ccollections\nOrderedDict\n)R";
  p += "tR";
  return p;
}

std::string StateDict() {
  std::string p = "\x80\x02";
  p += "ccollections\nOrderedDict\nq\x00)Rq\x01("s;
  p += Str("model.embed_tokens.weight") + Tensor("BFloat16Storage", "0", {10, 4});
  p += Str("model.norm.weight") + Tensor("FloatStorage", "1", {4});
  p += "u.";
  return p;
}

// A zip of `entries` (name, bytes, deflated?), as torch.save lays it out.
std::string Zip(const std::vector<std::tuple<std::string, std::string, bool>>& entries) {
  std::string out, cd;
  for (const auto& [name, raw, packed] : entries) {
    std::string data = raw;
    if (packed) {
      z_stream z{};
      deflateInit2(&z, 9, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
      data.assign(deflateBound(&z, raw.size()), '\0');
      z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
      z.avail_in = static_cast<uInt>(raw.size());
      z.next_out = reinterpret_cast<Bytef*>(data.data());
      z.avail_out = static_cast<uInt>(data.size());
      deflate(&z, Z_FINISH);
      data.resize(z.total_out);
      deflateEnd(&z);
    }
    const uint32_t offset = static_cast<uint32_t>(out.size());
    const uint16_t method = packed ? 8 : 0;
    out += U32(0x04034b50) + U16(20) + U16(0) + U16(method) + U32(0) + U32(0) + U32(static_cast<uint32_t>(data.size())) +
           U32(static_cast<uint32_t>(raw.size())) + U16(static_cast<uint16_t>(name.size())) + U16(0) + name + data;
    cd += U32(0x02014b50) + U16(20) + U16(20) + U16(0) + U16(method) + U32(0) + U32(0) +
          U32(static_cast<uint32_t>(data.size())) + U32(static_cast<uint32_t>(raw.size())) +
          U16(static_cast<uint16_t>(name.size())) + U16(0) + U16(0) + U16(0) + U16(0) + U32(0) + U32(offset) + name;
  }
  const uint32_t cd_offset = static_cast<uint32_t>(out.size());
  out += cd + U32(0x06054b50) + U16(0) + U16(0) + U16(static_cast<uint16_t>(entries.size())) +
         U16(static_cast<uint16_t>(entries.size())) + U32(static_cast<uint32_t>(cd.size())) + U32(cd_offset) + U16(0);
  return out;
}

class PytorchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::path(::testing::TempDir()) / "hangar_pt_XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path Write(const std::string& name, const std::string& bytes) {
    std::ofstream(dir_ / name, std::ios::binary) << bytes;
    return dir_ / name;
  }
  fs::path dir_;
};

TEST_F(PytorchTest, TensorsComeFromTheIndexWithoutRunningThePickle) {
  const fs::path file = Write("pytorch_model.bin", Zip({{"archive/data.pkl", StateDict(), false},
                                                        {"archive/data/0", std::string(80, 'x'), false},
                                                        {"archive/data/1", std::string(16, 'y'), false}}));
  auto c = ReadPytorchCheckpoint(file);
  ASSERT_OK(c.status());
  ASSERT_EQ(c->tensors.size(), 2u);
  EXPECT_EQ(c->tensors[0].name, "model.embed_tokens.weight");
  EXPECT_EQ(c->tensors[0].dtype, "BF16");
  EXPECT_EQ(c->tensors[0].shape, (std::vector<uint64_t>{10, 4}));
  EXPECT_EQ(c->tensors[0].storage, "0");
  EXPECT_EQ(c->tensors[1].dtype, "F32");
  EXPECT_EQ(c->parameter_count(), 44u);
  // The same pickle deflated reads the same.
  auto deflated = ReadPytorchCheckpoint(Write("deflated.pt", Zip({{"m/data.pkl", StateDict(), true}})));
  ASSERT_OK(deflated.status());
  EXPECT_EQ(deflated->tensors.size(), 2u);
}

TEST_F(PytorchTest, HostileFilesAreRefusedWithTheOffset) {
  // A zip bomb: 100 MB of zeros deflate to about 100 KB.
  auto bomb = ReadPytorchCheckpoint(Write("bomb.bin", Zip({{"a/data.pkl", std::string(100 << 20, '\0'), true}})));
  EXPECT_THAT(bomb, StatusHasMessage(HasSubstr("zip bomb")));
  // Opcodes a tensor index never uses (INST builds an object by calling it).
  EXPECT_THAT(ParsePytorchPickle("\x80\x02(cos\nsystem\nX\x02\x00\x00\x00lsi."s),
              StatusHasMessage(HasSubstr("opcode 0x69")));
  EXPECT_THAT(ParsePytorchPickle(StateDict().substr(0, 40)), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ParsePytorchPickle("h\x05."), StatusHasMessage(HasSubstr("never stored")));
  EXPECT_THAT(ReadPytorchCheckpoint(Write("old.bin", "\x80\x02}q\x00."s)), StatusHasMessage(HasSubstr("before torch 1.6")));
  std::string zip = Zip({{"a/data.pkl", StateDict(), false}});
  zip[zip.size() - 3] = '\x7f';  // the central directory's offset now points past the file
  EXPECT_THAT(ReadPytorchCheckpoint(Write("lies.bin", zip)), StatusHasMessage(HasSubstr("outside the file")));
  EXPECT_THAT(ReadPytorchCheckpoint(Write("nopkl.bin", Zip({{"a/other", "x", false}}))),
              StatusHasMessage(HasSubstr("no data.pkl")));
}

}  // namespace
}  // namespace hangar::checkpoint
