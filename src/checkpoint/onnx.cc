#include "checkpoint/onnx.h"

#include <fmt/format.h>

#include <fstream>
#include <set>

#include "checkpoint/wire.h"

namespace hangar::checkpoint {

namespace {

std::string ElemType(uint64_t t) {
  static const char* kNames[] = {"undefined", "float", "uint8", "int8", "uint16", "int16", "int32",
                                 "int64", "string", "bool", "float16", "double", "uint32", "uint64",
                                 "complex64", "complex128", "bfloat16"};
  return t < std::size(kNames) ? kNames[t] : fmt::format("type {}", t);
}


Result<OnnxValue> ReadValueInfo(WireReader r) {
  OnnxValue v;
  while (!r.done()) {
    ASSIGN_OR_RETURN(WireReader::Field f, r.Next());
    if (f.number == 1 && f.wire == 2) {
      ASSIGN_OR_RETURN(v.name, r.Bytes(f));
    } else if (f.number == 2 && f.wire == 2) {  // TypeProto
      WireReader t = r.Sub(f);
      while (!t.done()) {
        ASSIGN_OR_RETURN(WireReader::Field tf, t.Next());
        if (tf.number != 1 || tf.wire != 2) continue;  // tensor_type
        WireReader tt = t.Sub(tf);
        while (!tt.done()) {
          ASSIGN_OR_RETURN(WireReader::Field x, tt.Next());
          if (x.number == 1 && x.wire == 0) v.elem_type = ElemType(x.value);
          if (x.number != 2 || x.wire != 2) continue;  // shape
          WireReader shape = tt.Sub(x);
          while (!shape.done()) {
            ASSIGN_OR_RETURN(WireReader::Field dim, shape.Next());
            if (dim.number != 1 || dim.wire != 2) continue;
            WireReader d = shape.Sub(dim);
            std::string text = "?";
            while (!d.done()) {
              ASSIGN_OR_RETURN(WireReader::Field df, d.Next());
              if (df.number == 1 && df.wire == 0) text = std::to_string(static_cast<int64_t>(df.value));
              if (df.number == 2 && df.wire == 2) { ASSIGN_OR_RETURN(text, d.Bytes(df)); }
            }
            v.shape.push_back(text);
          }
        }
      }
    }
  }
  return v;
}

// An initializer (TensorProto): its element count and external file;
// raw_data and the typed data arrays are skipped by their lengths.
Status ReadInitializer(WireReader r, OnnxModel& m, std::set<std::string>& files) {
  uint64_t elements = 1;
  bool external = false;
  std::string location;
  while (!r.done()) {
    ASSIGN_OR_RETURN(WireReader::Field f, r.Next());
    if (f.number == 1 && f.wire == 0) {
      if (f.value != 0 && elements > UINT64_MAX / f.value) return r.Bad(f.begin, "dims overflow");
      elements *= f.value;
    } else if (f.number == 1 && f.wire == 2) {  // packed dims
      WireReader dims = r.Sub(f);
      while (!dims.done()) {
        ASSIGN_OR_RETURN(uint64_t d, dims.Varint());
        if (d != 0 && elements > UINT64_MAX / d) return r.Bad(f.begin, "dims overflow");
        elements *= d;
      }
    } else if (f.number == 14 && f.wire == 0) {
      external = f.value == 1;
    } else if (f.number == 13 && f.wire == 2) {  // external_data: key/value
      WireReader e = r.Sub(f);
      std::string key, value;
      while (!e.done()) {
        ASSIGN_OR_RETURN(WireReader::Field ef, e.Next());
        if (ef.number == 1 && ef.wire == 2) { ASSIGN_OR_RETURN(key, e.Bytes(ef)); }
        if (ef.number == 2 && ef.wire == 2) { ASSIGN_OR_RETURN(value, e.Bytes(ef)); }
      }
      if (key == "location") location = value;
    }
  }
  ++m.initializers;
  m.parameters += elements;
  if (external && !location.empty()) files.insert(location);
  return Status::Ok();
}

}  // namespace

Result<OnnxModel> ParseOnnx(const OnnxReadAt& read, uint64_t size) {
  OnnxModel m;
  std::set<std::string> files;
  WireReader r(read, 0, size, "ONNX");
  bool graph = false;
  while (!r.done()) {
    ASSIGN_OR_RETURN(WireReader::Field f, r.Next());
    switch (f.number) {
      case 1: if (f.wire == 0) m.ir_version = f.value; break;
      case 2: if (f.wire == 2) { ASSIGN_OR_RETURN(m.producer_name, r.Bytes(f)); } break;
      case 3: if (f.wire == 2) { ASSIGN_OR_RETURN(m.producer_version, r.Bytes(f)); } break;
      case 4: if (f.wire == 2) { ASSIGN_OR_RETURN(m.domain, r.Bytes(f)); } break;
      case 5: if (f.wire == 0) m.model_version = f.value; break;
      case 8: if (f.wire == 2) {
        WireReader o = r.Sub(f);
        std::string domain;
        uint64_t version = 0;
        while (!o.done()) {
          ASSIGN_OR_RETURN(WireReader::Field of, o.Next());
          if (of.number == 1 && of.wire == 2) { ASSIGN_OR_RETURN(domain, o.Bytes(of)); }
          if (of.number == 2 && of.wire == 0) version = of.value;
        }
        m.opsets[domain] = version;
      } break;
      case 14: if (f.wire == 2) {
        WireReader p = r.Sub(f);
        std::string key, value;
        while (!p.done()) {
          ASSIGN_OR_RETURN(WireReader::Field pf, p.Next());
          if (pf.number == 1 && pf.wire == 2) { ASSIGN_OR_RETURN(key, p.Bytes(pf)); }
          if (pf.number == 2 && pf.wire == 2) { ASSIGN_OR_RETURN(value, p.Bytes(pf)); }
        }
        m.metadata[key] = value;
      } break;
      case 7: if (f.wire == 2) {
        graph = true;
        WireReader g = r.Sub(f);
        while (!g.done()) {
          ASSIGN_OR_RETURN(WireReader::Field gf, g.Next());
          if (gf.wire != 2) continue;
          if (gf.number == 1) ++m.nodes;
          if (gf.number == 2) { ASSIGN_OR_RETURN(m.graph_name, g.Bytes(gf)); }
          if (gf.number == 5) RETURN_IF_ERROR(ReadInitializer(g.Sub(gf), m, files));
          if (gf.number == 11 || gf.number == 12) {
            ASSIGN_OR_RETURN(OnnxValue v, ReadValueInfo(g.Sub(gf)));
            (gf.number == 11 ? m.inputs : m.outputs).push_back(std::move(v));
          }
        }
      } break;
      default: break;
    }
  }
  if (m.ir_version == 0 || !graph) {
    return InvalidArgumentError("not an ONNX model: no ir_version or no graph in the ModelProto");
  }
  m.external_files.assign(files.begin(), files.end());
  return m;
}

Result<OnnxModel> ParseOnnxBytes(std::string_view bytes) {
  return ParseOnnx(
      [bytes](uint64_t offset, uint64_t size, std::string* out) {
        if (offset > bytes.size() || size > bytes.size() - offset) return false;
        out->assign(bytes.substr(offset, size));
        return true;
      },
      bytes.size());
}

Result<OnnxModel> ReadOnnx(const std::filesystem::path& path) {
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) return NotFoundError(fmt::format("cannot read {}: {}", path.string(), ec.message()));
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError(fmt::format("cannot open {}", path.string()));
  // Small reads through a 64 KiB window: the walk reads forward mostly.
  struct Window {
    uint64_t begin = 0;
    std::string bytes;
  };
  auto window = std::make_shared<Window>();
  auto read = [&in, window, size](uint64_t offset, uint64_t n, std::string* out) {
    if (offset > size || n > size - offset) return false;
    if (offset < window->begin || offset + n > window->begin + window->bytes.size()) {
      const uint64_t len = std::min<uint64_t>(size - offset, std::max<uint64_t>(n, 64 << 10));
      window->begin = offset;
      window->bytes.assign(len, '\0');
      in.clear();
      in.seekg(static_cast<std::streamoff>(offset));
      in.read(window->bytes.data(), static_cast<std::streamsize>(len));
      if (static_cast<uint64_t>(in.gcount()) != len) return false;
    }
    out->assign(window->bytes, offset - window->begin, n);
    return true;
  };
  Result<OnnxModel> m = ParseOnnx(read, size);
  if (!m.ok()) return Status(m.status().code(), path.filename().string() + ": " + m.status().message());
  return m;
}

}  // namespace hangar::checkpoint
