#include "gguf/test_util.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

namespace hangar::gguf::testing {

TempDir::TempDir() {
  std::random_device rd;
  for (;;) {
    path_ = std::filesystem::temp_directory_path() /
            ("hangar-gguf-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    if (std::filesystem::create_directory(path_)) break;
  }
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::span<const uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string ReadAll(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void WriteAll(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

std::vector<std::filesystem::path> VocabFiles() {
  std::vector<std::filesystem::path> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(HANGAR_VOCAB_DIR, ec)) {
    const std::string name = e.path().filename().string();
    if (name.starts_with("ggml-vocab-") && name.ends_with(".gguf")) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// ---------------------------------------------------------------- LlamaWriter

LlamaWriter::LlamaWriter(uint32_t alignment) {
  if (alignment == 32) {
    ctx_ = gguf_init_empty();
    return;
  }
  // gguf_set_val_u32("general.alignment") does not change the alignment the
  // writer pads with; a context read from a file does use it.
  RawWriter raw;
  raw.Header(3, 0, 1);
  raw.Key("general.alignment");
  raw.Type(GGUF_TYPE_UINT32);
  raw.U32(alignment, RawWriter::Kind::kAlignment);
  const std::filesystem::path seed = std::filesystem::temp_directory_path() /
                                     ("hangar-gguf-seed-" + std::to_string(::getpid()) + ".gguf");
  WriteAll(seed, raw.bytes);
  gguf_init_params params = {/*no_alloc=*/true, /*ctx=*/nullptr};
  ctx_ = gguf_init_from_file(seed.c_str(), params);
  std::filesystem::remove(seed);
  EXPECT_NE(ctx_, nullptr);
  if (ctx_ == nullptr) ctx_ = gguf_init_empty();
}

LlamaWriter::~LlamaWriter() {
  gguf_free(ctx_);
  for (ggml_context* c : tensor_ctxs_) ggml_free(c);
}

void LlamaWriter::AddTensor(const std::string& name, ggml_type type, std::vector<int64_t> ne) {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  const size_t bytes = ggml_row_size(type, n);
  ggml_init_params params = {/*mem_size=*/bytes + ggml_tensor_overhead() + 1024,
                             /*mem_buffer=*/nullptr, /*no_alloc=*/false};
  ggml_context* c = ggml_init(params);
  tensor_ctxs_.push_back(c);
  ggml_tensor* t = ggml_new_tensor(c, type, static_cast<int>(ne.size()), ne.data());
  ggml_set_name(t, name.c_str());
  auto* data = static_cast<uint8_t*>(t->data);
  for (size_t i = 0; i < ggml_nbytes(t); ++i) data[i] = static_cast<uint8_t>(i * 7 + 3);
  gguf_add_tensor(ctx_, t);
}

void LlamaWriter::Write(const std::filesystem::path& path, bool only_meta) {
  ASSERT_TRUE(gguf_write_to_file(ctx_, path.c_str(), only_meta)) << path;
}

// ------------------------------------------------------------------ RawWriter

void RawWriter::Int(uint64_t v, int n, Kind kind) {
  fields.push_back({kind, bytes.size(), static_cast<uint64_t>(n)});
  for (int i = 0; i < n; ++i) bytes.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

void RawWriter::Header(uint32_t version, uint64_t n_tensors, uint64_t n_kvs) {
  fields.push_back({Kind::kMagic, bytes.size(), 4});
  bytes += "GGUF";
  Int(version, 4, Kind::kVersion);
  Int(n_tensors, 8, Kind::kTensorCount);
  Int(n_kvs, 8, Kind::kKvCount);
}

void RawWriter::Str(std::string_view s, Kind length, Kind body) {
  Int(s.size(), 8, length);
  if (!s.empty()) fields.push_back({body, bytes.size(), s.size()});
  bytes += s;
}

void RawWriter::Key(std::string_view key) { Str(key, Kind::kKeyLength, Kind::kKeyBytes); }

void RawWriter::Type(uint32_t type, Kind kind) { Int(type, 4, kind); }

void RawWriter::ArrayHeader(uint32_t element_type, uint64_t count) {
  Int(GGUF_TYPE_ARRAY, 4, Kind::kValueType);
  Int(element_type, 4, Kind::kArrayType);
  Int(count, 8, Kind::kArrayCount);
}

void RawWriter::Tensor(std::string_view name, std::vector<uint64_t> dims, uint32_t type,
                       uint64_t offset) {
  Str(name, Kind::kNameLength, Kind::kNameBytes);
  Int(dims.size(), 4, Kind::kNDims);
  for (uint64_t d : dims) Int(d, 8, Kind::kDim);
  Int(type, 4, Kind::kTensorType);
  Int(offset, 8, Kind::kTensorOffset);
}

void RawWriter::PadAndData(uint32_t alignment, uint64_t data_bytes) {
  const uint64_t pad = (alignment - bytes.size() % alignment) % alignment;
  if (pad > 0) fields.push_back({Kind::kPadding, bytes.size(), pad});
  bytes.append(pad, '\0');
  if (data_bytes > 0) fields.push_back({Kind::kData, bytes.size(), data_bytes});
  bytes.append(data_bytes, '\xEE');
}

// ------------------------------------------------------------- comparison

namespace {

void ExpectScalarEqual(const gguf_context* ctx, int64_t i, const Value& v, const std::string& key) {
  switch (gguf_get_kv_type(ctx, i)) {
    case GGUF_TYPE_UINT8:
      EXPECT_EQ(v.AsUint(), gguf_get_val_u8(ctx, i)) << key;
      break;
    case GGUF_TYPE_INT8:
      EXPECT_EQ(v.AsInt(), gguf_get_val_i8(ctx, i)) << key;
      break;
    case GGUF_TYPE_UINT16:
      EXPECT_EQ(v.AsUint(), gguf_get_val_u16(ctx, i)) << key;
      break;
    case GGUF_TYPE_INT16:
      EXPECT_EQ(v.AsInt(), gguf_get_val_i16(ctx, i)) << key;
      break;
    case GGUF_TYPE_UINT32:
      EXPECT_EQ(v.AsUint(), gguf_get_val_u32(ctx, i)) << key;
      break;
    case GGUF_TYPE_INT32:
      EXPECT_EQ(v.AsInt(), gguf_get_val_i32(ctx, i)) << key;
      break;
    case GGUF_TYPE_FLOAT32:
      EXPECT_EQ(v.AsDouble(), static_cast<double>(gguf_get_val_f32(ctx, i))) << key;
      break;
    case GGUF_TYPE_BOOL:
      EXPECT_EQ(v.AsBool(), gguf_get_val_bool(ctx, i)) << key;
      break;
    case GGUF_TYPE_STRING:
      ASSERT_NE(v.AsString(), nullptr) << key;
      EXPECT_EQ(*v.AsString(), gguf_get_val_str(ctx, i)) << key;
      break;
    case GGUF_TYPE_UINT64:
      EXPECT_EQ(v.AsUint(), gguf_get_val_u64(ctx, i)) << key;
      break;
    case GGUF_TYPE_INT64:
      EXPECT_EQ(v.AsInt(), gguf_get_val_i64(ctx, i)) << key;
      break;
    case GGUF_TYPE_FLOAT64:
      EXPECT_EQ(v.AsDouble(), gguf_get_val_f64(ctx, i)) << key;
      break;
    default:
      ADD_FAILURE() << key << ": unexpected type";
  }
}

template <typename T>
T At(const gguf_context* ctx, int64_t i, size_t k) {
  T x;
  std::memcpy(&x, static_cast<const uint8_t*>(gguf_get_arr_data(ctx, i)) + k * sizeof(T),
              sizeof(T));
  return x;
}

void ExpectElementEqual(const gguf_context* ctx, int64_t i, size_t k, const Value& v,
                        const std::string& key) {
  const std::string where = key + "[" + std::to_string(k) + "]";
  switch (gguf_get_arr_type(ctx, i)) {
    case GGUF_TYPE_UINT8:
      EXPECT_EQ(v.AsUint(), At<uint8_t>(ctx, i, k)) << where;
      break;
    case GGUF_TYPE_INT8:
      EXPECT_EQ(v.AsInt(), At<int8_t>(ctx, i, k)) << where;
      break;
    case GGUF_TYPE_UINT16:
      EXPECT_EQ(v.AsUint(), At<uint16_t>(ctx, i, k)) << where;
      break;
    case GGUF_TYPE_INT16:
      EXPECT_EQ(v.AsInt(), At<int16_t>(ctx, i, k)) << where;
      break;
    case GGUF_TYPE_UINT32:
      EXPECT_EQ(v.AsUint(), At<uint32_t>(ctx, i, k)) << where;
      break;
    case GGUF_TYPE_INT32:
      EXPECT_EQ(v.AsInt(), At<int32_t>(ctx, i, k)) << where;
      break;
    case GGUF_TYPE_FLOAT32:
      EXPECT_EQ(v.AsDouble(), static_cast<double>(At<float>(ctx, i, k))) << where;
      break;
    case GGUF_TYPE_BOOL:
      EXPECT_EQ(v.AsBool(), At<int8_t>(ctx, i, k) != 0) << where;
      break;
    case GGUF_TYPE_STRING:
      ASSERT_NE(v.AsString(), nullptr) << where;
      EXPECT_EQ(*v.AsString(), gguf_get_arr_str(ctx, i, k)) << where;
      break;
    case GGUF_TYPE_UINT64:
      EXPECT_EQ(v.AsUint(), At<uint64_t>(ctx, i, k)) << where;
      break;
    case GGUF_TYPE_INT64:
      EXPECT_EQ(v.AsInt(), At<int64_t>(ctx, i, k)) << where;
      break;
    case GGUF_TYPE_FLOAT64:
      EXPECT_EQ(v.AsDouble(), At<double>(ctx, i, k)) << where;
      break;
    default:
      ADD_FAILURE() << where << ": unexpected element type";
  }
}

}  // namespace

void ExpectSameAsLlama(const std::filesystem::path& path, const GgufFile& ours) {
  gguf_init_params params = {/*no_alloc=*/true, /*ctx=*/nullptr};
  gguf_context* ctx = gguf_init_from_file(path.c_str(), params);
  ASSERT_NE(ctx, nullptr) << "llama.cpp cannot read " << path;
  EXPECT_EQ(ours.version, gguf_get_version(ctx));
  EXPECT_EQ(ours.alignment, gguf_get_alignment(ctx));
  EXPECT_EQ(ours.data_offset, gguf_get_data_offset(ctx));
  const int64_t n_kv = gguf_get_n_kv(ctx);
  EXPECT_EQ(static_cast<int64_t>(ours.kvs.size()), n_kv);
  for (int64_t i = 0; i < n_kv && i < static_cast<int64_t>(ours.kvs.size()); ++i) {
    const KeyValue& kv = ours.kvs[i];
    const std::string key = gguf_get_key(ctx, i);
    EXPECT_EQ(kv.key, key);
    const gguf_type type = gguf_get_kv_type(ctx, i);
    EXPECT_EQ(static_cast<int>(kv.value.type), static_cast<int>(type)) << key;
    if (type != GGUF_TYPE_ARRAY) {
      ExpectScalarEqual(ctx, i, kv.value, key);
      continue;
    }
    const Array* a = kv.value.AsArray();
    ASSERT_NE(a, nullptr) << key;
    EXPECT_EQ(static_cast<int>(a->element_type), static_cast<int>(gguf_get_arr_type(ctx, i)))
        << key;
    EXPECT_EQ(a->count, gguf_get_arr_n(ctx, i)) << key;
    EXPECT_LE(a->elements.size(), a->count) << key;
    for (size_t k = 0; k < a->elements.size() && k < a->count; ++k) {
      ExpectElementEqual(ctx, i, k, a->elements[k], key);
    }
  }
  const int64_t n_tensors = gguf_get_n_tensors(ctx);
  EXPECT_EQ(static_cast<int64_t>(ours.tensors.size()), n_tensors);
  for (int64_t i = 0; i < n_tensors && i < static_cast<int64_t>(ours.tensors.size()); ++i) {
    const TensorInfo& t = ours.tensors[i];
    const std::string name = gguf_get_tensor_name(ctx, i);
    EXPECT_EQ(t.name, name);
    EXPECT_EQ(t.type, static_cast<uint32_t>(gguf_get_tensor_type(ctx, i))) << name;
    const int64_t* ne = gguf_get_tensor_ne(ctx, i);
    for (int d = 0; d < 4; ++d) EXPECT_EQ(t.dims[d], static_cast<uint64_t>(ne[d])) << name;
    EXPECT_EQ(t.offset, gguf_get_tensor_offset(ctx, i)) << name;
    EXPECT_EQ(t.size, gguf_get_tensor_size(ctx, i)) << name;
  }
  gguf_free(ctx);
}

}  // namespace hangar::gguf::testing
