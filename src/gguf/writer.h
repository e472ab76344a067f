// GgufWriter: writes a GGUF v3 file whose tensor data is produced while it is
// written, so that a model many times larger than memory streams through.
//
//   "GGUF" | u32 version 3 | u64 tensors | u64 key-values | key-values |
//   tensor infos (name, dims ne0 first, ggml type, offset) | padding |
//   each tensor's data, padded to `general.alignment` (32)
//
// Keys keep the order of their first Set (a second Set of a key replaces its
// value in place, as gguf-py's writer does); tensors keep the order they were
// added in, which is the order Write() asks for their data.
//
// The file is written as `<out>.partial` beside `out`, flushed to disk and
// renamed onto `out` only when every byte is in: a failed or cancelled write
// leaves no file at `out` and removes the partial one.
//
// One writer is used by one thread.
#ifndef HANGAR_GGUF_WRITER_H_
#define HANGAR_GGUF_WRITER_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace hangar::gguf {

inline constexpr uint64_t kDefaultAlignment = 32;

// Where a tensor's bytes go: Write() them in order, exactly the tensor's size.
class TensorSink {
 public:
  virtual ~TensorSink() = default;
  virtual Status Write(std::string_view bytes) = 0;
};

class GgufWriter {
 public:
  void SetU32(std::string_view key, uint32_t v);
  void SetI32(std::string_view key, int32_t v);
  void SetU64(std::string_view key, uint64_t v);
  void SetF32(std::string_view key, float v);
  void SetBool(std::string_view key, bool v);
  void SetString(std::string_view key, std::string_view v);
  void SetStrings(std::string_view key, std::span<const std::string> v);
  void SetF32s(std::string_view key, std::span<const float> v);
  void SetI32s(std::string_view key, std::span<const int32_t> v);
  void SetU32s(std::string_view key, std::span<const uint32_t> v);
  void SetBools(std::string_view key, std::span<const bool> v);
  bool Has(std::string_view key) const { return index_.count(std::string(key)) != 0; }
  void Remove(std::string_view key);

  // Declares a tensor. `ne` is ggml's order (ne0 = the innermost, the
  // reverse of PyTorch's shape). InvalidArgument for an unknown type, a
  // duplicate name, or dims the type cannot hold.
  Status AddTensor(std::string_view name, std::span<const uint64_t> ne, uint32_t ggml_type);
  size_t tensor_count() const { return tensors_.size(); }
  uint64_t tensor_bytes(size_t i) const { return tensors_[i].bytes; }
  // Every tensor's bytes, padding excluded.
  uint64_t data_bytes() const;

  // Writes the file. `fill(i, sink)` writes tensor i's bytes; an error it
  // returns (Cancelled, ...) ends the write. Internal when the disk refuses
  // (naming the file); InvalidArgument when `fill` wrote the wrong count.
  Status Write(const std::filesystem::path& out,
               const std::function<Status(size_t index, TensorSink& sink)>& fill) const;

 private:
  struct Tensor {
    std::string name;
    std::vector<uint64_t> ne;
    uint32_t type = 0;
    uint64_t bytes = 0;
  };
  void Set(std::string_view key, std::string encoded);
  std::string Header() const;

  std::vector<std::pair<std::string, std::string>> kvs_;  // key, type + value bytes
  std::map<std::string, size_t> index_;
  std::vector<Tensor> tensors_;
};

}  // namespace hangar::gguf

#endif  // HANGAR_GGUF_WRITER_H_
