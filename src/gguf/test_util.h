// Test helpers for the gguf module (test code only): GGUF files written with
// llama.cpp's own writer (ggml's gguf.h), GGUF bytes written by hand for what
// that writer cannot produce (arrays of arrays, version 2, corrupt fields),
// and the comparison of this reader with llama.cpp's reader. Not thread-safe.
#ifndef HANGAR_GGUF_TEST_UTIL_H_
#define HANGAR_GGUF_TEST_UTIL_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ggml.h"
#include "gguf.h"
#include "gguf/gguf_file.h"

namespace hangar::gguf::testing {

// A fresh folder under the system temp folder, removed with its content.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(std::string_view name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// Builds a GGUF file with llama.cpp's writer: set key/values on ctx(), add
// tensors, then Write. Tensor data is a deterministic byte pattern.
class LlamaWriter {
 public:
  // `alignment` other than 32 is set as general.alignment (the writer only
  // honours it for a context read from a file, so one is made that way).
  explicit LlamaWriter(uint32_t alignment = 32);
  ~LlamaWriter();
  LlamaWriter(const LlamaWriter&) = delete;
  LlamaWriter& operator=(const LlamaWriter&) = delete;

  gguf_context* ctx() { return ctx_; }
  // Adds tensor `name` of `type` with shape `ne` (ne0 first).
  void AddTensor(const std::string& name, ggml_type type, std::vector<int64_t> ne);
  // Writes the file; only the metadata when `only_meta`. Aborts the test on failure.
  void Write(const std::filesystem::path& path, bool only_meta = false);

 private:
  gguf_context* ctx_ = nullptr;
  std::vector<ggml_context*> tensor_ctxs_;
};

// GGUF bytes written field by field, remembering where each field starts.
class RawWriter {
 public:
  enum class Kind {
    kMagic,
    kVersion,
    kTensorCount,
    kKvCount,
    kKeyLength,
    kKeyBytes,
    kValueType,
    kArrayType,
    kArrayCount,
    kStringLength,
    kStringBytes,
    kScalar,
    kAlignment,
    kNameLength,
    kNameBytes,
    kNDims,
    kDim,
    kTensorType,
    kTensorOffset,
    kPadding,
    kData,
  };
  struct Field {
    Kind kind;
    uint64_t offset;
    uint64_t size;
  };

  void Header(uint32_t version, uint64_t n_tensors, uint64_t n_kvs);
  void Key(std::string_view key);
  void Type(uint32_t type, Kind kind = Kind::kValueType);
  void U8(uint8_t v) { Int(v, 1, Kind::kScalar); }
  void U32(uint32_t v, Kind kind = Kind::kScalar) { Int(v, 4, kind); }
  void U64(uint64_t v, Kind kind = Kind::kScalar) { Int(v, 8, kind); }
  void Str(std::string_view s, Kind length = Kind::kStringLength, Kind bytes = Kind::kStringBytes);
  void ArrayHeader(uint32_t element_type, uint64_t count);
  // A tensor info: name, dims, ggml type, offset.
  void Tensor(std::string_view name, std::vector<uint64_t> dims, uint32_t type, uint64_t offset);
  // Zero padding to `alignment`, then `data_bytes` bytes of 0xEE.
  void PadAndData(uint32_t alignment, uint64_t data_bytes);
  void Int(uint64_t v, int bytes, Kind kind);

  std::string bytes;
  std::vector<Field> fields;
};

std::span<const uint8_t> AsBytes(std::string_view s);
std::string ReadAll(const std::filesystem::path& path);
void WriteAll(const std::filesystem::path& path, std::string_view bytes);

// Every ggml-vocab-*.gguf in HANGAR_VOCAB_DIR, sorted.
std::vector<std::filesystem::path> VocabFiles();

// Adds a gtest failure for every difference between `ours` and what
// gguf_init_from_file(no_alloc) reads from `path`: key/values (key, type,
// scalar value, array type and count, every kept element), tensors (name,
// type, dims, offset, size), version, alignment, data offset.
void ExpectSameAsLlama(const std::filesystem::path& path, const GgufFile& ours);

}  // namespace hangar::gguf::testing

#endif  // HANGAR_GGUF_TEST_UTIL_H_
