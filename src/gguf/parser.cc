#include "gguf/parser.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <memory>
#include <numeric>
#include <unordered_set>
#include <utility>

#include "core/file_util.h"
#include "gguf/ggml_types.h"

namespace hangar::gguf {
namespace {

constexpr uint64_t kU64Max = std::numeric_limits<uint64_t>::max();
constexpr uint64_t kInt64Max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
// The least a key/value can take: a 1-byte key, a type and a u8 value.
constexpr uint64_t kMinKeyValueBytes = 8 + 1 + 4 + 1;
// The least a tensor info can take: an empty name, n_dims 0, type, offset.
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 4 + 8;
constexpr uint32_t kDefaultAlignment = 32;

uint64_t LoadLe64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

uint64_t SatAdd(uint64_t a, uint64_t b) { return a > kU64Max - b ? kU64Max : a + b; }
uint64_t SatMul(uint64_t a, uint64_t b) {
  if (a != 0 && b > kU64Max / a) return kU64Max;
  return a * b;
}

// The least bytes one element of type `t` takes on disk.
uint64_t MinElementBytes(ValueType t) {
  if (t == ValueType::kString) return 8;
  if (t == ValueType::kArray) return 4 + 8;
  return ValueTypeSize(t);
}

// `text` made safe to quote in a message: control bytes escaped, cut at 80.
std::string Printable(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size() && i < 80; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > 80) out += "...";
  return out;
}

std::string SizeText(uint64_t bytes) {
  if (bytes >= (uint64_t{1} << 30) && bytes % (uint64_t{1} << 30) == 0) {
    return fmt::format("{} GiB", bytes >> 30);
  }
  if (bytes >= (uint64_t{1} << 20) && bytes % (uint64_t{1} << 20) == 0) {
    return fmt::format("{} MiB", bytes >> 20);
  }
  return fmt::format("{} bytes", bytes);
}

// Bytes of a file held in memory: those from offset `base` on.
struct Window {
  uint64_t base = 0;
  std::span<const uint8_t> bytes;
};

// Hands the parser a file's bytes as it walks them, so that a file is parsed
// in one pass however long its header turns out to be.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Bytes that cover [from, need) (from <= need), unless the input ends
  // before `need`: then all the bytes from `from` on. The parser never looks
  // at the bytes before `from` again. A window given before stays valid only
  // until the next call.
  virtual Result<Window> Extend(uint64_t from, uint64_t need) = 0;
  // True when the input certainly holds the bytes up to `offset`, without
  // reading them (a regular file of known size); then the parser skips bytes
  // it need not look at (the elements of a big array) without asking for them.
  virtual bool Holds(uint64_t offset) const = 0;
};

// Walks GGUF bytes held in `data`, which are the file's bytes from offset
// `base` on. Every Read/Parse step returns false when it cannot go on: then
// either status_ holds the error, or short_ says the bytes ran out before
// `need_` (only possible when the file may be longer than the bytes held).
// With a `source`, running out of bytes asks it for more first; short_ then
// means that the input ended.
class Parser {
 public:
  Parser(std::span<const uint8_t> data, uint64_t base, const ParseOptions& options,
         ByteSource* source = nullptr)
      : data_(data),
        base_(base),
        end_(base + data.size()),
        pos_(base),
        options_(options),
        source_(source) {
    limit_ = kMaxHeaderBytes;
    if (options.file_size) limit_ = std::min(limit_, *options.file_size);
  }

  Result<ParseOutcome> ParseFile();
  Result<std::vector<Value>> ReadElements(const Array& array, uint64_t first, uint64_t count);
  // Checks the tensor data of `file`, parsed without knowing the file size,
  // against options.file_size, and records that size in it.
  Status CheckTensorDataOf(GgufFile* file);

 private:
  struct Level {  // an array whose elements are being read
    uint64_t index;
    uint64_t count;
    uint64_t min_bytes;  // of one element
  };

  bool Fail(uint64_t at, std::string what, StatusCode code = StatusCode::kDataLoss) {
    status_ = Status(code, fmt::format("{}: offset {}: {}", options_.name, at, what));
    return false;
  }
  // "key "x": element 3: " for messages about nested values.
  std::string Where() const {
    std::string w = where_;
    for (const Level& l : levels_) w += fmt::format(": element {}", l.index);
    return w;
  }
  // Why `subject`, which needs the file's bytes up to `need`, cannot be read.
  std::string TruncatedText(std::string_view subject, uint64_t need) const {
    if (options_.file_size && need > *options_.file_size) {
      return fmt::format(
          "{} needs bytes up to offset {}, but the file has only {} bytes; the file is "
          "truncated or corrupt (an interrupted download?): download it again",
          subject, need, *options_.file_size);
    }
    return fmt::format("{} needs bytes up to offset {}, past the {} allowed for GGUF metadata",
                       subject, need, SizeText(kMaxHeaderBytes));
  }

  // True when bytes [pos_, pos_ + n) are held. Otherwise false, with an error
  // when the file cannot hold them, else with short_ set.
  bool Have(uint64_t n) {
    if (n <= end_ - pos_) return true;
    return HaveSlow(n);
  }
  bool HaveSlow(uint64_t n);
  // True when the input has bytes [pos_, pos_ + n), held or not; fails as
  // Have. With a source, the bytes are only read when it cannot tell.
  bool Reach(uint64_t n);
  // Moves past n bytes that Reach(n) confirmed.
  void Advance(uint64_t n) {
    pos_ += n;
    if (pos_ > end_) {  // past the bytes held: none are held now
      base_ = end_ = pos_;
      data_ = {};
    }
  }
  // Reads a little-endian unsigned integer of sizeof(T) bytes.
  template <typename T>
  bool Read(T* v) {
    if (!Have(sizeof(T))) return false;
    T x = 0;
    const uint8_t* p = &data_[pos_ - base_];
    for (size_t i = 0; i < sizeof(T); ++i) x |= static_cast<T>(static_cast<T>(p[i]) << (8 * i));
    *v = x;
    pos_ += sizeof(T);
    return true;
  }
  // A string of at most `max_len` bytes; skipped when `out` is null.
  bool ReadString(std::string* out, uint64_t max_len, std::string_view noun);
  bool ReadValue(ValueType type, uint32_t depth, bool keep, Value* out);
  bool ReadArray(uint32_t depth, bool keep, Value* out);
  // Skips well-formed strings of an array from element `i` while the bytes
  // held cover them; returns the index of the first one not skipped.
  uint64_t SkipStrings(uint64_t i, uint64_t count);
  void DecodeFixed(ValueType type, const uint8_t* p, Value* out) const;
  bool ParseKeyValue(uint64_t index, GgufFile* file, std::unordered_set<std::string>* keys);
  bool ParseTensorInfo(uint64_t index, GgufFile* file, std::unordered_set<std::string>* names);
  bool CheckTensorData(GgufFile* file);
  // Converts a stop into the result: the error, or NeedMore.
  Result<ParseOutcome> Stopped();

  std::span<const uint8_t> data_;
  uint64_t base_;
  uint64_t end_;
  uint64_t pos_;
  uint64_t limit_;  // no header byte lies at or past this offset
  const ParseOptions& options_;
  ByteSource* source_;
  Status status_;
  bool short_ = false;
  uint64_t need_ = 0;
  // What remains to be read after the current item, for NeedMore's bound.
  uint64_t kvs_after_ = 0;
  uint64_t tensors_after_ = 0;
  std::vector<Level> levels_;
  std::string where_ = "the header";
  uint32_t alignment_ = kDefaultAlignment;
  uint64_t kept_ = 0;  // array elements kept so far
};

bool Parser::HaveSlow(uint64_t n) {
  const uint64_t need = SatAdd(pos_, n);
  if (need > limit_) return Fail(pos_, TruncatedText(Where(), need));
  if (source_ != nullptr) {
    Result<Window> more = source_->Extend(pos_, need);
    if (!more.ok()) {
      status_ = more.status();
      return false;
    }
    base_ = more->base;
    data_ = more->bytes;
    end_ = base_ + data_.size();
    if (base_ <= pos_ && n <= end_ - pos_) return true;
    if (base_ > pos_) {
      return Fail(pos_, "the byte source skipped bytes", StatusCode::kInternal);
    }
  }
  short_ = true;
  need_ = need;
  return false;
}

bool Parser::Reach(uint64_t n) {
  if (n <= end_ - pos_) return true;
  if (source_ != nullptr && SatAdd(pos_, n) <= limit_ && source_->Holds(pos_ + n)) return true;
  return Have(n);
}

bool Parser::ReadString(std::string* out, uint64_t max_len, std::string_view noun) {
  const uint64_t at = pos_;
  uint64_t len = 0;
  if (!Read(&len)) return false;
  if (len > max_len) {
    return Fail(at, fmt::format("{}: {} is {} bytes long (at most {})", Where(), noun, len,
                                SizeText(max_len)));
  }
  if (out != nullptr ? !Have(len) : !Reach(len)) return false;
  if (out) out->assign(reinterpret_cast<const char*>(&data_[pos_ - base_]), len);
  Advance(len);
  return true;
}

void Parser::DecodeFixed(ValueType type, const uint8_t* p, Value* out) const {
  uint64_t raw = 0;
  const uint32_t size = ValueTypeSize(type);
  for (uint32_t i = 0; i < size; ++i) raw |= static_cast<uint64_t>(p[i]) << (8 * i);
  out->type = type;
  switch (type) {
    case ValueType::kUint8:
    case ValueType::kUint16:
    case ValueType::kUint32:
    case ValueType::kUint64:
      out->data = raw;
      break;
    case ValueType::kInt8:
      out->data = static_cast<int64_t>(static_cast<int8_t>(raw));
      break;
    case ValueType::kInt16:
      out->data = static_cast<int64_t>(static_cast<int16_t>(raw));
      break;
    case ValueType::kInt32:
      out->data = static_cast<int64_t>(static_cast<int32_t>(raw));
      break;
    case ValueType::kInt64:
      out->data = static_cast<int64_t>(raw);
      break;
    case ValueType::kFloat32: {
      float f;
      const auto bits = static_cast<uint32_t>(raw);
      std::memcpy(&f, &bits, sizeof f);
      out->data = static_cast<double>(f);
      break;
    }
    case ValueType::kFloat64: {
      double d;
      std::memcpy(&d, &raw, sizeof d);
      out->data = d;
      break;
    }
    case ValueType::kBool:
      out->data = raw != 0;
      break;
    case ValueType::kString:
    case ValueType::kArray:
      break;
  }
}

bool Parser::ReadValue(ValueType type, uint32_t depth, bool keep, Value* out) {
  out->type = type;
  if (type == ValueType::kArray) return ReadArray(depth, keep, out);
  if (type == ValueType::kString) {
    std::string s;
    if (!ReadString(keep ? &s : nullptr, kMaxStringBytes, "string")) return false;
    if (keep) out->data = std::move(s);
    return true;
  }
  const uint32_t size = ValueTypeSize(type);
  if (!Have(size)) return false;
  if (keep) DecodeFixed(type, &data_[pos_ - base_], out);
  pos_ += size;
  return true;
}

bool Parser::ReadArray(uint32_t depth, bool keep, Value* out) {
  const uint64_t type_at = pos_;
  uint32_t raw_type = 0;
  if (!Read(&raw_type)) return false;
  if (raw_type >= kValueTypeCount) {
    return Fail(type_at, fmt::format("{}: array element type {} is not a GGUF value type (0-{})",
                                     Where(), raw_type, kValueTypeCount - 1));
  }
  const auto type = static_cast<ValueType>(raw_type);
  if (type == ValueType::kArray && depth + 1 >= kMaxArrayDepth) {
    return Fail(type_at, fmt::format("{}: arrays are nested deeper than {} levels", Where(),
                                     kMaxArrayDepth));
  }
  const uint64_t count_at = pos_;
  uint64_t count = 0;
  if (!Read(&count)) return false;
  if (count > kMaxArrayElements) {
    return Fail(count_at, fmt::format("{}: array of {} elements exceeds the limit of {}", Where(),
                                      count, kMaxArrayElements));
  }
  const uint64_t min_bytes = SatMul(count, MinElementBytes(type));
  if (min_bytes > limit_ - std::min(limit_, pos_)) {
    return Fail(count_at, TruncatedText(fmt::format("{}: an array of {} {} elements", Where(),
                                                    count, ValueTypeName(type)),
                                        SatAdd(pos_, min_bytes)));
  }
  Array array;
  array.element_type = type;
  array.count = count;
  array.offset = pos_;
  uint64_t keep_n = 0;
  if (keep) {
    keep_n = count <= kSmallArrayElements ? count : std::min(count, kPreviewElements);
    keep_n = std::min(keep_n, kMaxKeptElements - kept_);
  }
  const uint32_t size = ValueTypeSize(type);
  if (size != 0) {
    // Only the elements kept are looked at.
    if (!Reach(min_bytes) || !Have(keep_n * size)) return false;
    array.elements.resize(keep_n);
    for (uint64_t i = 0; i < keep_n; ++i) {
      DecodeFixed(type, &data_[pos_ - base_ + i * size], &array.elements[i]);
    }
    kept_ += keep_n;
    Advance(min_bytes);
  } else {
    levels_.push_back({0, count, MinElementBytes(type)});
    for (uint64_t i = 0; i < count; ++i) {
      bool keep_this = i < keep_n && kept_ < kMaxKeptElements;
      if (!keep_this && type == ValueType::kString) {
        // Fast path for the strings of a big array (a vocabulary): skipped
        // as far as the bytes held go; the slow path takes the next one.
        i = SkipStrings(i, count);
        if (i == count) break;
        keep_this = i < keep_n && kept_ < kMaxKeptElements;
      }
      levels_.back().index = i;
      Value v;
      if (!ReadValue(type, depth + 1, keep_this, &v)) return false;
      if (keep_this) {
        array.elements.push_back(std::move(v));
        ++kept_;
      }
    }
    levels_.pop_back();
  }
  array.size = pos_ - array.offset;
  out->data = std::move(array);
  return true;
}

uint64_t Parser::SkipStrings(uint64_t i, uint64_t count) {
  // A tight loop on local pointers: each length depends on the one before.
  const uint8_t* p = data_.data() + (pos_ - base_);
  const uint8_t* const end = data_.data() + data_.size();
  for (; i < count && end - p >= 8; ++i) {
    const uint64_t len = LoadLe64(p);
    if (len > kMaxStringBytes || len > static_cast<uint64_t>(end - p) - 8) break;
    p += 8 + len;
  }
  pos_ = base_ + static_cast<uint64_t>(p - data_.data());
  return i;
}

bool Parser::ParseKeyValue(uint64_t index, GgufFile* file, std::unordered_set<std::string>* keys) {
  const uint64_t at = pos_;
  where_ = fmt::format("key/value {}", index);
  KeyValue kv;
  kv.offset = at;
  if (!ReadString(&kv.key, kMaxStringBytes, "key")) return false;
  if (kv.key.empty()) return Fail(at, fmt::format("{}: the key is empty", where_));
  if (!keys->insert(kv.key).second) {
    return Fail(at, fmt::format("duplicate key \"{}\"", Printable(kv.key)));
  }
  where_ = fmt::format("key \"{}\"", Printable(kv.key));
  const uint64_t type_at = pos_;
  uint32_t raw_type = 0;
  if (!Read(&raw_type)) return false;
  if (raw_type >= kValueTypeCount) {
    return Fail(type_at, fmt::format("{} has value type {}, which is not a GGUF value type (0-{})",
                                     where_, raw_type, kValueTypeCount - 1));
  }
  if (!ReadValue(static_cast<ValueType>(raw_type), 0, true, &kv.value)) return false;
  file->kvs.push_back(std::move(kv));
  return true;
}

bool Parser::ParseTensorInfo(uint64_t index, GgufFile* file,
                             std::unordered_set<std::string>* names) {
  TensorInfo t;
  t.info_offset = pos_;
  where_ = fmt::format("tensor info {}", index);
  if (!ReadString(&t.name, kMaxTensorNameBytes, "the tensor name")) return false;
  if (!names->insert(t.name).second) {
    return Fail(t.info_offset, fmt::format("duplicate tensor name \"{}\"", Printable(t.name)));
  }
  where_ = fmt::format("tensor \"{}\"", Printable(t.name));
  const uint64_t dims_at = pos_;
  if (!Read(&t.n_dims)) return false;
  if (t.n_dims > kMaxDims) {
    return Fail(dims_at,
                fmt::format("{} has {} dimensions (at most {})", where_, t.n_dims, kMaxDims));
  }
  for (uint32_t j = 0; j < t.n_dims; ++j) {
    const uint64_t at = pos_;
    if (!Read(&t.dims[j])) return false;
    if (t.dims[j] == 0 || t.dims[j] > kInt64Max) {
      return Fail(
          at, fmt::format("{}: dimension {} is {} (must be 1 to 2^63-1)", where_, j, t.dims[j]));
    }
  }
  std::optional<uint64_t> elements = ElementCount(t.dims);
  if (!elements) {
    return Fail(dims_at, fmt::format("{}: shape [{}] has more than 2^63-1 elements", where_,
                                     fmt::join(t.dims, ", ")));
  }
  t.elements = *elements;
  const uint64_t type_at = pos_;
  if (!Read(&t.type)) return false;
  const GgmlType* type = FindGgmlType(t.type);
  if (type == nullptr) {
    return Fail(type_at, fmt::format("{} has ggml type {}, which is unknown or removed "
                                     "(a newer llama.cpp may know it)",
                                     where_, t.type));
  }
  if (t.dims[0] % type->block_size != 0) {
    return Fail(type_at, fmt::format("{}: rows of {} elements are not a multiple of the "
                                     "{} block size {}",
                                     where_, t.dims[0], type->name, type->block_size));
  }
  std::optional<uint64_t> size = TensorBytes(*type, t.dims);
  if (!size) {
    return Fail(type_at, fmt::format("{}: size in bytes of shape [{}] as {} overflows", where_,
                                     fmt::join(t.dims, ", "), type->name));
  }
  t.size = *size;
  const uint64_t offset_at = pos_;
  if (!Read(&t.offset)) return false;
  if (t.offset % alignment_ != 0) {
    return Fail(offset_at, fmt::format("{}: data offset {} is not a multiple of the alignment {}",
                                       where_, t.offset, alignment_));
  }
  if (t.offset > kU64Max - t.size) {
    return Fail(offset_at,
                fmt::format("{}: data offset {} plus size {} overflows", where_, t.offset, t.size));
  }
  file->tensors.push_back(std::move(t));
  return true;
}

bool Parser::CheckTensorData(GgufFile* file) {
  std::vector<size_t> order(file->tensors.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return file->tensors[a].offset < file->tensors[b].offset; });
  for (size_t k = 1; k < order.size(); ++k) {
    const TensorInfo& prev = file->tensors[order[k - 1]];
    const TensorInfo& cur = file->tensors[order[k]];
    if (prev.offset + prev.size > cur.offset) {
      return Fail(cur.info_offset,
                  fmt::format("tensor \"{}\": data [{}, {}) overlaps tensor \"{}\" at [{}, {})",
                              Printable(cur.name), cur.offset, cur.offset + cur.size,
                              Printable(prev.name), prev.offset, prev.offset + prev.size));
    }
  }
  uint64_t total = 0;
  for (const TensorInfo& t : file->tensors) total += t.size;  // disjoint: cannot overflow
  file->tensor_bytes = total;
  if (!order.empty()) {
    const TensorInfo& last = file->tensors[order.back()];
    if (last.offset + last.size > kU64Max - file->data_offset) {
      return Fail(last.info_offset,
                  fmt::format("tensor \"{}\": data end overflows", Printable(last.name)));
    }
  }
  if (!options_.check_tensor_data || !options_.file_size) return true;
  const uint64_t file_size = *options_.file_size;
  if (!file->tensors.empty() && file->data_offset > file_size) {
    return Fail(file->header_size,
                fmt::format("the tensor data should start at offset {}, but the file has only "
                            "{} bytes; the file is truncated: download it again",
                            file->data_offset, file_size));
  }
  for (const TensorInfo& t : file->tensors) {
    const uint64_t end = file->data_offset + t.offset + t.size;
    if (end > file_size) {
      return Fail(t.info_offset,
                  fmt::format("tensor \"{}\": data ends at offset {}, but the file has only {} "
                              "bytes; the file is truncated (an interrupted download?): "
                              "download it again",
                              Printable(t.name), end, file_size));
    }
  }
  return true;
}

Result<ParseOutcome> Parser::Stopped() {
  if (!short_) return status_;
  uint64_t bound = need_;
  for (const Level& l : levels_) {
    bound = SatAdd(bound, SatMul(l.count - l.index - 1, l.min_bytes));
  }
  bound = SatAdd(bound, SatMul(kvs_after_, kMinKeyValueBytes));
  bound = SatAdd(bound, SatMul(tensors_after_, kMinTensorInfoBytes));
  if (bound > limit_) {
    Fail(pos_, TruncatedText(fmt::format("{}, with what follows it,", Where()), bound));
    return status_;
  }
  NeedMore more;
  more.bytes_needed_at_least = bound;
  more.suggested_bytes = std::max({bound, SatMul(end_, 4), kFirstFetchBytes});
  more.suggested_bytes = std::max(bound, std::min(more.suggested_bytes, limit_));
  return ParseOutcome(more);
}

Result<ParseOutcome> Parser::ParseFile() {
  GgufFile file;
  file.name = options_.name;
  if (!Have(4)) return Stopped();
  if (std::memcmp(&data_[0], "GGUF", 4) != 0) {
    Fail(0,
         fmt::format("not a GGUF file (it starts with \"{}\", not \"GGUF\")",
                     Printable(std::string_view(reinterpret_cast<const char*>(&data_[0]), 4))),
         StatusCode::kInvalidArgument);
    return status_;
  }
  pos_ = 4;
  if (!Read(&file.version)) return Stopped();
  if (file.version == 1) {
    Fail(4,
         "GGUF version 1 is not supported (only 2 and 3): convert the model again with a "
         "current llama.cpp",
         StatusCode::kInvalidArgument);
    return status_;
  }
  if (file.version != 2 && file.version != 3) {
    const bool swapped = (file.version & 0xFFFF) == 0 && file.version != 0;
    Fail(4,
         swapped ? fmt::format("GGUF version {:#x} looks byte-swapped: big-endian GGUF files "
                               "are not supported",
                               file.version)
                 : fmt::format("GGUF version {} is not supported (only 2 and 3)", file.version),
         StatusCode::kInvalidArgument);
    return status_;
  }
  uint64_t n_tensors = 0;
  uint64_t n_kvs = 0;
  if (!Read(&n_tensors)) return Stopped();
  if (n_tensors > kMaxTensors) {
    Fail(8, fmt::format("the tensor count {} exceeds the limit of {}", n_tensors, kMaxTensors));
    return status_;
  }
  tensors_after_ = n_tensors;
  if (!Read(&n_kvs)) return Stopped();
  if (n_kvs > kMaxKeyValues) {
    Fail(16, fmt::format("the key/value count {} exceeds the limit of {}", n_kvs, kMaxKeyValues));
    return status_;
  }
  const uint64_t min_rest = n_kvs * kMinKeyValueBytes + n_tensors * kMinTensorInfoBytes;
  if (min_rest > limit_ - std::min(limit_, pos_)) {
    Fail(8, TruncatedText(fmt::format("a header of {} tensors and {} key/values", n_tensors, n_kvs),
                          SatAdd(pos_, min_rest)));
    return status_;
  }

  std::unordered_set<std::string> seen;
  for (uint64_t i = 0; i < n_kvs; ++i) {
    kvs_after_ = n_kvs - i - 1;
    if (!ParseKeyValue(i, &file, &seen)) return Stopped();
  }
  kvs_after_ = 0;
  file.Reindex();
  if (const KeyValue* kv = file.Find("general.alignment")) {
    if (kv->value.type != ValueType::kUint32) {
      Fail(kv->offset, fmt::format("general.alignment has type {}; it must be u32",
                                   ValueTypeName(kv->value.type)));
      return status_;
    }
    const uint64_t a = *kv->value.AsUint();
    if (a == 0 || (a & (a - 1)) != 0) {
      Fail(kv->offset, fmt::format("general.alignment is {}; it must be a power of two", a));
      return status_;
    }
    alignment_ = static_cast<uint32_t>(a);
  }
  file.alignment = alignment_;

  seen.clear();
  for (uint64_t i = 0; i < n_tensors; ++i) {
    tensors_after_ = n_tensors - i - 1;
    if (!ParseTensorInfo(i, &file, &seen)) return Stopped();
  }
  file.header_size = pos_;
  file.data_offset = pos_;
  if (n_tensors > 0 && pos_ % alignment_ != 0) {
    const uint64_t pad = alignment_ - pos_ % alignment_;
    if (pos_ > kU64Max - pad) {
      Fail(pos_, "the aligned start of the tensor data overflows");
      return status_;
    }
    file.data_offset = pos_ + pad;
  }
  if (!CheckTensorData(&file)) return status_;
  file.file_size = options_.file_size.value_or(0);
  file.Reindex();
  return ParseOutcome(std::move(file));
}

Status Parser::CheckTensorDataOf(GgufFile* file) {
  if (!CheckTensorData(file)) return status_;
  file->file_size = options_.file_size.value_or(0);
  return Status::Ok();
}

Result<std::vector<Value>> Parser::ReadElements(const Array& array, uint64_t first,
                                                uint64_t count) {
  std::vector<Value> out;
  where_ = "array";
  pos_ = array.offset;
  const uint32_t size = ValueTypeSize(array.element_type);
  if (size != 0) {
    pos_ += first * size;  // the caller checked the range lies in the bytes
    for (uint64_t i = 0; i < count; ++i) {
      if (!Have(size)) {
        if (!status_.ok()) return status_;
        return DataLossError(
            fmt::format("{}: offset {}: the array ends past the bytes given", options_.name, pos_));
      }
      Value v;
      DecodeFixed(array.element_type, &data_[pos_ - base_], &v);
      out.push_back(std::move(v));
      pos_ += size;
    }
    return out;
  }
  levels_.push_back({0, array.count, MinElementBytes(array.element_type)});
  for (uint64_t i = 0; i < first + count; ++i) {
    levels_.back().index = i;
    Value v;
    if (!ReadValue(array.element_type, 1, i >= first, &v)) {
      if (status_.ok()) {
        return DataLossError(
            fmt::format("{}: offset {}: the array ends past the bytes given", options_.name, pos_));
      }
      return status_;
    }
    if (i >= first) out.push_back(std::move(v));
  }
  return out;
}

// Reads up to `n` bytes at `offset` into `out`; fewer only at the end of the file.
Status PreadFully(int fd, const std::filesystem::path& path, uint64_t offset, size_t n,
                  uint8_t* out, size_t* got) {
  *got = 0;
  while (*got < n) {
    const ssize_t r = ::pread(fd, out + *got, n - *got, static_cast<off_t>(offset + *got));
    if (r < 0) {
      if (errno == EINTR) continue;
      return UnavailableError(fmt::format("cannot read {}: {}", path.string(), ErrnoText(errno)));
    }
    if (r == 0) break;
    *got += static_cast<size_t>(r);
  }
  return Status::Ok();
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

struct OpenedFile {
  std::unique_ptr<Fd> fd;
  bool regular = false;  // else a stream: a pipe, socket or character device
  uint64_t size = 0;     // of a regular file
};

// Opens `path` for reading. InvalidArgument when it is neither a regular file
// nor, with `streams`, a stream.
Result<OpenedFile> Open(const std::filesystem::path& path, bool streams) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    std::string msg = fmt::format("cannot open {}: {}", path.string(), ErrnoText(err));
    if (err == ENOENT) return NotFoundError(std::move(msg));
    return UnavailableError(std::move(msg));
  }
  OpenedFile file;
  file.fd = std::make_unique<Fd>(fd);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    return UnavailableError(fmt::format("cannot stat {}: {}", path.string(), ErrnoText(errno)));
  }
  file.regular = S_ISREG(st.st_mode);
  const bool stream = S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || S_ISCHR(st.st_mode);
  if (!file.regular && !(streams && stream)) {
    return InvalidArgumentError(
        fmt::format("{} is not a regular file{}", path.string(), streams ? " nor a pipe" : ""));
  }
  file.size = file.regular ? static_cast<uint64_t>(st.st_size) : 0;
  return file;
}

// The size of WindowSource's buffer: big enough that pread calls are few,
// small enough that its pages are few (each fresh page costs a page fault,
// which costs more than copying a page; a mapping of the file costs one
// per page too, which is why the file is not mapped).
constexpr uint64_t kWindowBytes = uint64_t{64} << 10;

// A regular file of known size read with pread through a buffer that moves
// along with the parser: it keeps the bytes from the parser's position on
// and reads the next ones after them. The header is copied once, the buffer
// stays kWindowBytes unless one item to look at is longer, and bytes that
// the parser skips (the elements of a big array of numbers) are not read.
// Nothing past the file size is read; a file cut while it is read gives
// DataLoss.
class WindowSource : public ByteSource {
 public:
  WindowSource(int fd, uint64_t file_size, const std::filesystem::path& path)
      : fd_(fd), file_size_(file_size), path_(path) {}

  bool Holds(uint64_t offset) const override { return offset <= file_size_; }

  Result<Window> Extend(uint64_t from, uint64_t need) override {
    uint64_t kept = 0;
    if (from >= base_ && from < base_ + held_) {
      kept = base_ + held_ - from;
      std::memmove(buf_.get(), buf_.get() + (from - base_), kept);
    }
    base_ = from;
    held_ = kept;
    const uint64_t want = need - from;
    if (want > capacity_) {
      // No zero-filling: only bytes read from the file are looked at.
      const uint64_t bigger = std::max({want, kWindowBytes, 2 * capacity_});
      std::unique_ptr<uint8_t[]> buf(new uint8_t[bigger]);
      if (kept > 0) std::memcpy(buf.get(), buf_.get(), kept);
      buf_ = std::move(buf);
      capacity_ = bigger;
    }
    const uint64_t fill = std::min(capacity_, file_size_ - std::min(file_size_, from));
    while (held_ < fill) {
      const ssize_t r =
          ::pread(fd_, buf_.get() + held_, fill - held_, static_cast<off_t>(base_ + held_));
      if (r < 0) {
        if (errno == EINTR) continue;
        return UnavailableError(
            fmt::format("cannot read {}: {}", path_.string(), ErrnoText(errno)));
      }
      if (r == 0) {
        return DataLossError(
            fmt::format("{}: offset {}: the file ends before its {} bytes; it was cut while "
                        "being read: read it again",
                        path_.filename().string(), base_ + held_, file_size_));
      }
      held_ += static_cast<uint64_t>(r);
    }
    return Window{base_, std::span<const uint8_t>(buf_.get(), held_)};
  }

 private:
  int fd_;
  uint64_t file_size_;
  const std::filesystem::path& path_;
  std::unique_ptr<uint8_t[]> buf_;
  uint64_t capacity_ = 0;
  uint64_t base_ = 0;  // file offset of buf_[0]
  uint64_t held_ = 0;  // bytes in buf_
};

// A stream (a pipe, a socket, a character device) read with read(2) into a
// buffer that keeps every byte read and grows by doubling, so that its size
// follows the bytes actually read.
class StreamSource : public ByteSource {
 public:
  StreamSource(int fd, const std::filesystem::path& path) : fd_(fd), path_(path) {}

  bool Holds(uint64_t /*offset*/) const override { return false; }

  Result<Window> Extend(uint64_t /*from*/, uint64_t need) override {
    while (have_ < need && !ended_) {
      if (have_ == capacity_) {
        if (capacity_ >= kMaxHeaderBytes) break;  // the parser asks no further
        // No zero-filling: only bytes read from the stream are looked at.
        const uint64_t bigger = std::min(kMaxHeaderBytes, std::max(kWindowBytes, 2 * capacity_));
        std::unique_ptr<uint8_t[]> buf(new uint8_t[bigger]);
        if (have_ > 0) std::memcpy(buf.get(), buf_.get(), have_);
        buf_ = std::move(buf);
        capacity_ = bigger;
      }
      ASSIGN_OR_RETURN(const size_t got, Read(buf_.get() + have_, capacity_ - have_));
      have_ += got;
    }
    return Window{0, held()};
  }

  // Every byte read so far, from offset 0.
  std::span<const uint8_t> held() const { return {buf_.get(), have_}; }

  // Reads the rest of the stream, dropping it; the size of the whole stream.
  Result<uint64_t> SkipToEnd() {
    uint8_t chunk[16 * 1024];
    uint64_t total = have_;
    while (!ended_) {
      ASSIGN_OR_RETURN(const size_t got, Read(chunk, sizeof chunk));
      total += got;
    }
    return total;
  }

 private:
  // Reads at most n bytes (0 and ended_ at the end of the stream).
  Result<size_t> Read(uint8_t* out, size_t n) {
    for (;;) {
      const ssize_t r = ::read(fd_, out, n);
      if (r >= 0) {
        ended_ = r == 0;
        return static_cast<size_t>(r);
      }
      if (errno != EINTR) {
        return UnavailableError(
            fmt::format("cannot read {}: {}", path_.string(), ErrnoText(errno)));
      }
    }
  }

  int fd_;
  const std::filesystem::path& path_;
  std::unique_ptr<uint8_t[]> buf_;
  uint64_t capacity_ = 0;
  uint64_t have_ = 0;
  bool ended_ = false;
};

// The header of the stream `fd`, read to its end to learn its size.
Result<GgufFile> ReadStreamHeader(int fd, const std::filesystem::path& path, ParseOptions options) {
  StreamSource source(fd, path);
  ASSIGN_OR_RETURN(ParseOutcome outcome, Parser({}, 0, options, &source).ParseFile());
  if (auto* parsed = std::get_if<GgufFile>(&outcome)) {
    ASSIGN_OR_RETURN(const uint64_t size, source.SkipToEnd());
    options.file_size = size;
    RETURN_IF_ERROR(Parser({}, 0, options).CheckTensorDataOf(parsed));
    return std::move(*parsed);
  }
  // The stream ended inside the header: what it held is the whole file, and
  // the error is the one for a file of that size.
  return ParseHeader(source.held(), options);
}

}  // namespace

Result<ParseOutcome> ParseHeaderPrefix(std::span<const uint8_t> prefix,
                                       const ParseOptions& options) {
  if (options.file_size && prefix.size() > *options.file_size) {
    prefix = prefix.first(*options.file_size);
  }
  Parser parser(prefix, 0, options);
  return parser.ParseFile();
}

Result<GgufFile> ParseHeader(std::span<const uint8_t> file, ParseOptions options) {
  if (!options.file_size || *options.file_size > file.size()) options.file_size = file.size();
  ASSIGN_OR_RETURN(ParseOutcome outcome, ParseHeaderPrefix(file, options));
  if (auto* parsed = std::get_if<GgufFile>(&outcome)) return std::move(*parsed);
  // Unreachable: with the file size known, running out of bytes is an error.
  return DataLossError(
      fmt::format("{}: offset {}: the file is truncated", options.name, file.size()));
}

Result<GgufFile> ReadHeader(const std::filesystem::path& path, bool check_tensor_data) {
  ASSIGN_OR_RETURN(const OpenedFile file, Open(path, /*streams=*/true));
  ParseOptions options;
  options.name = path.filename().string();
  options.check_tensor_data = check_tensor_data;
  if (!file.regular) return ReadStreamHeader(file.fd->get(), path, options);
  options.file_size = file.size;
  WindowSource source(file.fd->get(), file.size, path);
  ASSIGN_OR_RETURN(ParseOutcome outcome, Parser({}, 0, options, &source).ParseFile());
  if (auto* parsed = std::get_if<GgufFile>(&outcome)) return std::move(*parsed);
  // Unreachable: with the file size known, running out of bytes is an error.
  return InternalError(fmt::format("{}: the GGUF reader stopped inside the header", path.string()));
}

Result<std::vector<Value>> ReadArrayElements(std::span<const uint8_t> bytes, uint64_t bytes_offset,
                                             const Array& array, uint64_t first, uint64_t count) {
  if (first > array.count || count > array.count - first) {
    return InvalidArgumentError(fmt::format("elements [{}, {}+{}) are outside an array of {}",
                                            first, first, count, array.count));
  }
  if (array.offset < bytes_offset || array.size > kU64Max - array.offset ||
      array.offset + array.size > bytes_offset + bytes.size()) {
    return InvalidArgumentError(
        fmt::format("the bytes given [{}, {}) do not cover the array at [{}, {}+{})", bytes_offset,
                    bytes_offset + bytes.size(), array.offset, array.offset, array.size));
  }
  ParseOptions options;
  options.name = "array";
  options.file_size = bytes_offset + bytes.size();
  Parser parser(bytes, bytes_offset, options);
  return parser.ReadElements(array, first, count);
}

Result<std::vector<Value>> ReadArrayElements(const std::filesystem::path& path, const Array& array,
                                             uint64_t first, uint64_t count) {
  if (first > array.count || count > array.count - first) {
    return InvalidArgumentError(fmt::format("elements [{}, {}+{}) are outside an array of {}",
                                            first, first, count, array.count));
  }
  const uint32_t size = ValueTypeSize(array.element_type);
  // Fixed-size elements: read only the slice wanted.
  uint64_t from = array.offset;
  uint64_t len = array.size;
  Array slice = array;
  if (size != 0) {
    from = array.offset + first * size;
    len = count * size;
    slice.offset = from;
    slice.count = count;
    slice.size = len;
    first = 0;
  }
  if (len > kMaxHeaderBytes) {
    return InvalidArgumentError(
        fmt::format("{}: the array at offset {} is {} bytes, more than "
                    "can be read at once",
                    path.string(), array.offset, len));
  }
  ASSIGN_OR_RETURN(const OpenedFile file, Open(path, /*streams=*/false));
  std::vector<uint8_t> buf(len);
  size_t got = 0;
  RETURN_IF_ERROR(PreadFully(file.fd->get(), path, from, len, buf.data(), &got));
  if (got < len) {
    return DataLossError(fmt::format("{}: offset {}: the file ends inside the array",
                                     path.filename().string(), from + got));
  }
  return ReadArrayElements(buf, from, slice, first, count);
}

}  // namespace hangar::gguf
