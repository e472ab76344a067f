// The metadata of a GGUF file: its key/values and its tensor table, as read
// by gguf/parser.h. Tensor data is never part of it.
//
// On disk (little-endian; versions 2 and 3 share this layout, version 1 used
// 32-bit counts and is not read):
//   magic "GGUF" | u32 version | u64 tensor count | u64 key/value count
//   key/values:  string key | u32 value type | value
//   tensor infos: string name | u32 n_dims | u64 dims[n_dims] (ne0 first)
//                 | u32 ggml type | u64 offset (from the start of the data)
//   zero padding to `general.alignment` (u32, a power of two; default 32)
//   tensor data: each tensor at its offset, which is a multiple of the alignment.
// A string is a u64 byte length and that many bytes (UTF-8, no terminator);
// an array is a u32 element type, a u64 count and the elements; arrays of
// arrays are allowed. Value types: 0 u8, 1 i8, 2 u16, 3 i16, 4 u32, 5 i32,
// 6 f32, 7 bool (one byte), 8 string, 9 array, 10 u64, 11 i64, 12 f64.
//
// Big arrays (a tokenizer's 150k tokens, scores, merges) are not copied: an
// Array records its element type, count and byte range in the file, and keeps
// the first few elements (all of them when the array is small). Scalars and
// strings are kept. A GgufFile is a plain value: copyable, and safe to read
// from several threads.
#ifndef HANGAR_GGUF_GGUF_FILE_H_
#define HANGAR_GGUF_GGUF_FILE_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

namespace hangar::gguf {

enum class ValueType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};
inline constexpr uint32_t kValueTypeCount = 13;

// "u8", "i32", "f32", "bool", "str", "arr", ... (gguf_type_name's spelling).
std::string_view ValueTypeName(ValueType type);
// Bytes of one element on disk; 0 for strings and arrays (variable size).
uint32_t ValueTypeSize(ValueType type);

struct Value;

struct Array {
  ValueType element_type = ValueType::kUint8;
  uint64_t count = 0;
  uint64_t offset = 0;          // file offset of the first element
  uint64_t size = 0;            // bytes the elements take in the file
  std::vector<Value> elements;  // the first elements.size() elements (all when complete())

  bool complete() const;  // all `count` elements are in `elements`
};

// One value. Integers of every width are held as uint64_t (unsigned types) or
// int64_t (signed), floats as double; `type` keeps the type on disk.
struct Value {
  ValueType type = ValueType::kUint8;
  std::variant<uint64_t, int64_t, double, bool, std::string, Array> data;

  // The value as an unsigned integer when it is an integer type and not
  // negative; nullopt otherwise.
  std::optional<uint64_t> AsUint() const;
  std::optional<int64_t> AsInt() const;    // integer types that fit int64_t
  std::optional<double> AsDouble() const;  // any number
  std::optional<bool> AsBool() const;      // bool only
  const std::string* AsString() const;     // string only, else nullptr
  const Array* AsArray() const;            // array only, else nullptr
};

inline bool Array::complete() const { return elements.size() == count; }

struct KeyValue {
  std::string key;
  Value value;
  uint64_t offset = 0;  // file offset of the key
};

struct TensorInfo {
  std::string name;
  uint32_t n_dims = 0;
  std::array<uint64_t, 4> dims = {1, 1, 1, 1};  // ne0..ne3; 1 past n_dims
  uint32_t type = 0;                            // ggml type id (gguf/ggml_types.h)
  uint64_t offset = 0;                          // from the start of the data section
  uint64_t size = 0;                            // bytes of data, without padding
  uint64_t elements = 0;                        // product of dims
  uint64_t info_offset = 0;                     // file offset of this tensor info
  uint32_t part = 0;                            // index of the file in a split set (0 for one file)
};

struct GgufFile {
  std::string name;  // the file name used in messages
  uint32_t version = 3;
  std::vector<KeyValue> kvs;        // in file order
  std::vector<TensorInfo> tensors;  // in file order
  uint32_t alignment = 32;
  uint64_t header_size = 0;   // bytes of magic, counts, key/values and tensor infos
  uint64_t data_offset = 0;   // file offset of the tensor data (header_size aligned up)
  uint64_t tensor_bytes = 0;  // sum of the tensors' sizes
  uint64_t file_size = 0;     // 0 when unknown (a prefix parse without a file size)

  // The key/value named `key`, or nullptr.
  const KeyValue* Find(std::string_view key) const;
  const TensorInfo* FindTensor(std::string_view name) const;

  // Typed lookups: nullopt/nullptr when the key is absent or of another type.
  std::optional<uint64_t> GetUint(std::string_view key) const;
  std::optional<double> GetDouble(std::string_view key) const;
  const std::string* GetString(std::string_view key) const;
  const Array* GetArray(std::string_view key) const;

  // Rebuilds the lookup indexes after `kvs` or `tensors` changed.
  void Reindex();

 private:
  std::unordered_map<std::string, size_t> key_index_;
  std::unordered_map<std::string, size_t> tensor_index_;
};

}  // namespace hangar::gguf

#endif  // HANGAR_GGUF_GGUF_FILE_H_
