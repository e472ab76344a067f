#include "gguf/gguf_file.h"

#include <limits>

namespace hangar::gguf {

std::string_view ValueTypeName(ValueType type) {
  switch (type) {
    case ValueType::kUint8:
      return "u8";
    case ValueType::kInt8:
      return "i8";
    case ValueType::kUint16:
      return "u16";
    case ValueType::kInt16:
      return "i16";
    case ValueType::kUint32:
      return "u32";
    case ValueType::kInt32:
      return "i32";
    case ValueType::kFloat32:
      return "f32";
    case ValueType::kBool:
      return "bool";
    case ValueType::kString:
      return "str";
    case ValueType::kArray:
      return "arr";
    case ValueType::kUint64:
      return "u64";
    case ValueType::kInt64:
      return "i64";
    case ValueType::kFloat64:
      return "f64";
  }
  return "?";
}

uint32_t ValueTypeSize(ValueType type) {
  switch (type) {
    case ValueType::kUint8:
    case ValueType::kInt8:
    case ValueType::kBool:
      return 1;
    case ValueType::kUint16:
    case ValueType::kInt16:
      return 2;
    case ValueType::kUint32:
    case ValueType::kInt32:
    case ValueType::kFloat32:
      return 4;
    case ValueType::kUint64:
    case ValueType::kInt64:
    case ValueType::kFloat64:
      return 8;
    case ValueType::kString:
    case ValueType::kArray:
      return 0;
  }
  return 0;
}

std::optional<uint64_t> Value::AsUint() const {
  if (const auto* u = std::get_if<uint64_t>(&data)) return *u;
  if (const auto* i = std::get_if<int64_t>(&data)) {
    if (*i >= 0) return static_cast<uint64_t>(*i);
  }
  return std::nullopt;
}

std::optional<int64_t> Value::AsInt() const {
  if (const auto* i = std::get_if<int64_t>(&data)) return *i;
  if (const auto* u = std::get_if<uint64_t>(&data)) {
    if (*u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return static_cast<int64_t>(*u);
    }
  }
  return std::nullopt;
}

std::optional<double> Value::AsDouble() const {
  if (const auto* d = std::get_if<double>(&data)) return *d;
  if (const auto* u = std::get_if<uint64_t>(&data)) return static_cast<double>(*u);
  if (const auto* i = std::get_if<int64_t>(&data)) return static_cast<double>(*i);
  return std::nullopt;
}

std::optional<bool> Value::AsBool() const {
  if (const auto* b = std::get_if<bool>(&data)) return *b;
  return std::nullopt;
}

const std::string* Value::AsString() const { return std::get_if<std::string>(&data); }

const Array* Value::AsArray() const { return std::get_if<Array>(&data); }

const KeyValue* GgufFile::Find(std::string_view key) const {
  if (key_index_.size() != kvs.size()) {
    // Built by hand without Reindex(): fall back to a scan.
    for (const KeyValue& kv : kvs) {
      if (kv.key == key) return &kv;
    }
    return nullptr;
  }
  auto it = key_index_.find(std::string(key));
  return it == key_index_.end() ? nullptr : &kvs[it->second];
}

const TensorInfo* GgufFile::FindTensor(std::string_view name) const {
  if (tensor_index_.size() != tensors.size()) {
    for (const TensorInfo& t : tensors) {
      if (t.name == name) return &t;
    }
    return nullptr;
  }
  auto it = tensor_index_.find(std::string(name));
  return it == tensor_index_.end() ? nullptr : &tensors[it->second];
}

std::optional<uint64_t> GgufFile::GetUint(std::string_view key) const {
  const KeyValue* kv = Find(key);
  return kv ? kv->value.AsUint() : std::nullopt;
}

std::optional<double> GgufFile::GetDouble(std::string_view key) const {
  const KeyValue* kv = Find(key);
  return kv ? kv->value.AsDouble() : std::nullopt;
}

const std::string* GgufFile::GetString(std::string_view key) const {
  const KeyValue* kv = Find(key);
  return kv ? kv->value.AsString() : nullptr;
}

const Array* GgufFile::GetArray(std::string_view key) const {
  const KeyValue* kv = Find(key);
  return kv ? kv->value.AsArray() : nullptr;
}

void GgufFile::Reindex() {
  key_index_.clear();
  tensor_index_.clear();
  for (size_t i = 0; i < kvs.size(); ++i) key_index_.emplace(kvs[i].key, i);
  for (size_t i = 0; i < tensors.size(); ++i) tensor_index_.emplace(tensors[i].name, i);
}

}  // namespace hangar::gguf
