#include "checkpoint/safetensors.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

namespace hangar::checkpoint {
namespace {

struct DtypeRow {
  Dtype dtype;
  std::string_view name;
  uint32_t bytes;
};
constexpr DtypeRow kDtypes[] = {
    {Dtype::kF64, "F64", 8},       {Dtype::kF32, "F32", 4},       {Dtype::kF16, "F16", 2},
    {Dtype::kBF16, "BF16", 2},     {Dtype::kF8E4M3, "F8_E4M3", 1}, {Dtype::kF8E5M2, "F8_E5M2", 1},
    {Dtype::kI64, "I64", 8},       {Dtype::kI32, "I32", 4},       {Dtype::kI16, "I16", 2},
    {Dtype::kI8, "I8", 1},         {Dtype::kU8, "U8", 1},         {Dtype::kBool, "BOOL", 1},
};

uint64_t ReadU64Le(std::string_view b) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(b[static_cast<size_t>(i)]);
  return v;
}

Status Bad(uint64_t offset, std::string what) {
  return InvalidArgumentError(fmt::format("safetensors header at byte {}: {}", offset, what));
}

}  // namespace

std::string_view DtypeName(Dtype d) {
  for (const DtypeRow& r : kDtypes) {
    if (r.dtype == d) return r.name;
  }
  return "?";
}

uint32_t DtypeBytes(Dtype d) {
  for (const DtypeRow& r : kDtypes) {
    if (r.dtype == d) return r.bytes;
  }
  return 0;
}

std::optional<Dtype> ParseDtype(std::string_view name) {
  for (const DtypeRow& r : kDtypes) {
    if (r.name == name) return r.dtype;
  }
  return std::nullopt;
}

uint64_t TensorInfo::elements() const {
  uint64_t n = 1;
  for (uint64_t d : shape) n *= d;  // checked against overflow when parsed
  return n;
}

uint64_t SafetensorsHeader::data_bytes() const {
  uint64_t end = 0;
  for (const TensorInfo& t : tensors) end = std::max(end, t.end);
  return end;
}

Result<uint64_t> SafetensorsHeaderLength(std::string_view prefix, std::optional<uint64_t> file_size) {
  if (prefix.size() < 8) {
    return DataLossError(fmt::format("safetensors file of {} bytes: the 8-byte header length is cut short",
                                     prefix.size()));
  }
  const uint64_t n = ReadU64Le(prefix);
  if (n < 2) return Bad(0, fmt::format("header length {} is too small for a JSON object", n));
  if (n > kMaxSafetensorsHeader) {
    return Bad(0, fmt::format("header length {} is larger than the {} bytes accepted", n,
                              kMaxSafetensorsHeader));
  }
  if (file_size && n > *file_size - 8) {
    return DataLossError(fmt::format(
        "safetensors header at byte 0: header length {} runs past the end of the {}-byte file", n,
        *file_size));
  }
  return n;
}

Result<SafetensorsHeader> ParseSafetensorsHeader(std::string_view prefix,
                                                 std::optional<uint64_t> file_size) {
  ASSIGN_OR_RETURN(const uint64_t n, SafetensorsHeaderLength(prefix, file_size));
  if (prefix.size() - 8 < n) {
    return DataLossError(fmt::format("safetensors header at byte 8: {} bytes of JSON expected, {} read",
                                     n, prefix.size() - 8));
  }
  const std::string_view text = prefix.substr(8, n);
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    return Bad(8 + e.byte, fmt::format("not JSON ({})", e.what()));
  } catch (const nlohmann::json::exception& e) {  // a number out of range, ...
    return Bad(8, fmt::format("not usable JSON ({})", e.what()));
  }
  if (!doc.is_object()) return Bad(8, "the header is not a JSON object");
  SafetensorsHeader h;
  h.header_bytes = n;
  h.data_offset = 8 + n;
  // The data region's size; UINT64_MAX when the file's size is unknown.
  const uint64_t data_size = file_size ? *file_size - h.data_offset : UINT64_MAX;
  for (const auto& [name, entry] : doc.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) return Bad(8, "__metadata__ is not an object");
      for (const auto& [k, v] : entry.items()) {
        if (!v.is_string()) return Bad(8, fmt::format("__metadata__.{} is not a string", k));
        h.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    auto bad = [&name = name](std::string what) {
      return Bad(8, fmt::format("tensor \"{}\": {}", name, what));
    };
    if (name.empty()) return Bad(8, "a tensor has an empty name");
    if (!entry.is_object()) return bad("not an object");
    auto dt = entry.find("dtype");
    auto shape = entry.find("shape");
    auto offsets = entry.find("data_offsets");
    if (dt == entry.end() || !dt->is_string()) return bad("no dtype");
    if (shape == entry.end() || !shape->is_array()) return bad("no shape");
    if (offsets == entry.end() || !offsets->is_array() || offsets->size() != 2 ||
        !(*offsets)[0].is_number_unsigned() || !(*offsets)[1].is_number_unsigned()) {
      return bad("data_offsets is not [begin, end]");
    }
    TensorInfo t;
    t.name = name;
    std::optional<Dtype> d = ParseDtype(dt->get<std::string>());
    if (!d) return bad(fmt::format("unknown dtype \"{}\"", dt->get<std::string>()));
    t.dtype = *d;
    if (shape->size() > 8) return bad(fmt::format("{} dimensions", shape->size()));
    uint64_t elements = 1;
    for (const auto& dim : *shape) {
      if (!dim.is_number_unsigned()) return bad("a dimension is not a whole number 0 or more");
      const uint64_t v = dim.get<uint64_t>();
      if (v != 0 && elements > UINT64_MAX / v) return bad("its element count overflows");
      elements *= v;
      t.shape.push_back(v);
    }
    t.begin = (*offsets)[0].get<uint64_t>();
    t.end = (*offsets)[1].get<uint64_t>();
    if (t.end < t.begin) return bad(fmt::format("data_offsets [{}, {}] end before they begin", t.begin, t.end));
    const uint64_t size = DtypeBytes(t.dtype);
    if (elements > UINT64_MAX / size || elements * size != t.end - t.begin) {
      return bad(fmt::format("{} elements of {} take {} bytes, data_offsets [{}, {}] hold {}", elements,
                             DtypeName(t.dtype), elements <= UINT64_MAX / size ? elements * size : 0,
                             t.begin, t.end, t.end - t.begin));
    }
    if (t.end > data_size) {
      return DataLossError(fmt::format(
          "safetensors tensor \"{}\" at byte {}: its data [{}, {}) runs past the end of the file "
          "({} bytes of data)",
          name, h.data_offset + t.begin, t.begin, t.end, data_size));
    }
    h.tensors.push_back(std::move(t));
  }
  std::sort(h.tensors.begin(), h.tensors.end(),
            [](const TensorInfo& a, const TensorInfo& b) { return a.begin < b.begin || (a.begin == b.begin && a.end < b.end); });
  for (size_t i = 1; i < h.tensors.size(); ++i) {
    const TensorInfo& a = h.tensors[i - 1];
    const TensorInfo& b = h.tensors[i];
    if (b.begin < a.end) {
      return Bad(h.data_offset + b.begin,
                 fmt::format("tensors \"{}\" [{}, {}) and \"{}\" [{}, {}) overlap", a.name, a.begin,
                             a.end, b.name, b.begin, b.end));
    }
  }
  return h;
}

Result<SafetensorsHeader> ReadSafetensorsHeader(const std::filesystem::path& path) {
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) return NotFoundError(fmt::format("cannot read {}: {}", path.string(), ec.message()));
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError(fmt::format("cannot open {}", path.string()));
  std::string prefix(std::min<uint64_t>(size, 8), '\0');
  in.read(prefix.data(), static_cast<std::streamsize>(prefix.size()));
  Result<uint64_t> n = SafetensorsHeaderLength(prefix, size);
  if (!n.ok()) return Status(n.status().code(), path.filename().string() + ": " + n.status().message());
  prefix.resize(8 + *n);
  in.read(prefix.data() + 8, static_cast<std::streamsize>(*n));
  if (static_cast<uint64_t>(in.gcount()) != *n) {
    return DataLossError(fmt::format("{}: the header was cut short", path.filename().string()));
  }
  Result<SafetensorsHeader> h = ParseSafetensorsHeader(prefix, size);
  if (!h.ok()) return Status(h.status().code(), path.filename().string() + ": " + h.status().message());
  return h;
}

}  // namespace hangar::checkpoint
