#include "checkpoint/pytorch.h"

#include <fmt/format.h>
#include <zlib.h>

#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <variant>

namespace hangar::checkpoint {

namespace fs = std::filesystem;

namespace {

constexpr uint64_t kMaxPickle = 64ull << 20;

// ------------------------------------------------------------- the pickle
struct Node;
using Ref = Node*;  // owned by the Machine's arena: a pickle may make cycles
struct Global {
  std::string module, name;
};
struct Node {
  enum class Kind { kNone, kBool, kInt, kFloat, kStr, kTuple, kList, kDict, kGlobal, kPid, kTensor, kOpaque, kMark };
  Kind kind = Kind::kNone;
  int64_t i = 0;
  std::string s;
  Global g;
  std::vector<Ref> items;                       // tuple, list, pid
  std::vector<std::pair<Ref, Ref>> entries;     // dict
  PytorchTensor tensor;
};

std::string StorageDtype(const std::string& name) {
  static const std::map<std::string, std::string> kTypes = {
      {"FloatStorage", "F32"}, {"HalfStorage", "F16"},  {"BFloat16Storage", "BF16"}, {"DoubleStorage", "F64"},
      {"LongStorage", "I64"},  {"IntStorage", "I32"},   {"ShortStorage", "I16"},     {"CharStorage", "I8"},
      {"ByteStorage", "U8"},   {"BoolStorage", "BOOL"}};
  auto it = kTypes.find(name);
  return it == kTypes.end() ? "" : it->second;
}

class Machine {
 public:
  explicit Machine(std::string_view b) : b_(b) {}

  Ref Make(Node::Kind k) {
    arena_.push_back(std::make_unique<Node>());
    arena_.back()->kind = k;
    return arena_.back().get();
  }

  Result<Ref> Run() {
    while (pos_ < b_.size()) {
      const size_t at = pos_;
      const uint8_t op = static_cast<uint8_t>(b_[pos_++]);
      Status s = Step(op, at);
      if (!s.ok()) return s;
      if (op == '.') {
        if (stack_.empty()) return Bad(at, "STOP with an empty stack");
        return stack_.back();
      }
    }
    return Bad(pos_, "the pickle ends without STOP");
  }

 private:
  Status Bad(size_t at, std::string what) const {
    return InvalidArgumentError(fmt::format("pickle at byte {}: {}", at, what));
  }
  Result<std::string_view> Take(size_t n, size_t at) {
    if (n > b_.size() - pos_) return Bad(at, "cut short");
    std::string_view v = b_.substr(pos_, n);
    pos_ += n;
    return v;
  }
  Result<uint64_t> Uint(size_t bytes, size_t at) {
    ASSIGN_OR_RETURN(std::string_view v, Take(bytes, at));
    uint64_t x = 0;
    for (size_t i = bytes; i-- > 0;) x = (x << 8) | static_cast<uint8_t>(v[i]);
    return x;
  }
  Result<Ref> Pop(size_t at) {
    if (stack_.empty()) return Bad(at, "the stack is empty");
    Ref r = stack_.back();
    stack_.pop_back();
    return r;
  }
  Result<std::vector<Ref>> PopToMark(size_t at) {
    for (size_t i = stack_.size(); i-- > 0;) {
      if (stack_[i]->kind == Node::Kind::kMark) {
        std::vector<Ref> out(stack_.begin() + static_cast<std::ptrdiff_t>(i) + 1, stack_.end());
        stack_.resize(i);
        return out;
      }
    }
    return Bad(at, "no MARK on the stack");
  }
  void Push(Ref r) { stack_.push_back(std::move(r)); }
  Status PushStr(std::string_view v) {
    Ref n = Make(Node::Kind::kStr);
    n->s = std::string(v);
    Push(n);
    return Status::Ok();
  }
  Status PushInt(int64_t v) {
    Ref n = Make(Node::Kind::kInt);
    n->i = v;
    Push(n);
    return Status::Ok();
  }
  Status Memo(uint64_t key, size_t at) {
    if (stack_.empty()) return Bad(at, "nothing to memoize");
    if (memo_.size() > 10'000'000) return Bad(at, "too many memo entries");
    memo_[key] = stack_.back();
    return Status::Ok();
  }
  Status Recall(uint64_t key, size_t at) {
    auto it = memo_.find(key);
    if (it == memo_.end()) return Bad(at, fmt::format("memo {} was never stored", key));
    Push(it->second);
    return Status::Ok();
  }
  // REDUCE: only torch's tensor rebuilders and OrderedDict mean something;
  // nothing is ever called.
  Ref Reduce(const Ref& callable, const Ref& args) {
    if (callable->kind == Node::Kind::kGlobal && args->kind == Node::Kind::kTuple) {
      const Global& g = callable->g;
      if (g.module == "collections" && g.name == "OrderedDict") return Make(Node::Kind::kDict);
      if (g.module == "torch._utils" && g.name == "_rebuild_parameter" && !args->items.empty()) return args->items[0];
      if (g.module == "torch._utils" && g.name == "_rebuild_tensor_v2" && args->items.size() >= 3) {
        const Ref& pid = args->items[0];
        const Ref& size = args->items[2];
        Ref t = Make(Node::Kind::kTensor);
        if (pid->kind == Node::Kind::kPid && pid->items.size() >= 3 && pid->items[1]->kind == Node::Kind::kGlobal) {
          t->tensor.dtype = StorageDtype(pid->items[1]->g.name);
          if (pid->items[2]->kind == Node::Kind::kStr) t->tensor.storage = pid->items[2]->s;
        }
        if (size->kind == Node::Kind::kTuple) {
          for (const Ref& d : size->items) {
            if (d->kind == Node::Kind::kInt && d->i >= 0) t->tensor.shape.push_back(static_cast<uint64_t>(d->i));
          }
        }
        return t;
      }
    }
    return Make(Node::Kind::kOpaque);
  }

  Status Step(uint8_t op, size_t at) {
    switch (op) {
      case 0x80: return Take(1, at).status();                                 // PROTO
      case 0x95: return Take(8, at).status();                                 // FRAME
      case '.': return Status::Ok();                                          // STOP
      case '(': Push(Make(Node::Kind::kMark)); return Status::Ok();           // MARK
      case 'N': Push(Make(Node::Kind::kNone)); return Status::Ok();
      case 0x88: case 0x89: {
        Ref n = Make(Node::Kind::kBool);
        n->i = op == 0x88;
        Push(n);
        return Status::Ok();
      }
      case 'J': { ASSIGN_OR_RETURN(uint64_t v, Uint(4, at)); return PushInt(static_cast<int32_t>(v)); }
      case 'K': { ASSIGN_OR_RETURN(uint64_t v, Uint(1, at)); return PushInt(static_cast<int64_t>(v)); }
      case 'M': { ASSIGN_OR_RETURN(uint64_t v, Uint(2, at)); return PushInt(static_cast<int64_t>(v)); }
      case 0x8a: {                                                            // LONG1
        ASSIGN_OR_RETURN(uint64_t n, Uint(1, at));
        if (n > 8) return Bad(at, "an integer wider than 64 bits");
        ASSIGN_OR_RETURN(uint64_t v, Uint(n, at));
        if (n > 0 && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t{0} << (8 * n);  // sign
        return PushInt(static_cast<int64_t>(v));
      }
      case 'G': { RETURN_IF_ERROR(Take(8, at).status()); Push(Make(Node::Kind::kFloat)); return Status::Ok(); }
      case 'X': case 0x8c: case 0x8d: case 'T': case 'U': case 'B': case 'C': {
        const size_t width = op == 0x8c || op == 'U' || op == 'C' ? 1 : op == 0x8d ? 8 : 4;
        ASSIGN_OR_RETURN(uint64_t n, Uint(width, at));
        ASSIGN_OR_RETURN(std::string_view v, Take(n, at));
        return PushStr(v);
      }
      case 'c': {                                                             // GLOBAL
        size_t nl1 = b_.find('\n', pos_);
        size_t nl2 = nl1 == std::string_view::npos ? nl1 : b_.find('\n', nl1 + 1);
        if (nl2 == std::string_view::npos) return Bad(at, "GLOBAL without its two lines");
        Ref g = Make(Node::Kind::kGlobal);
        g->g = {std::string(b_.substr(pos_, nl1 - pos_)), std::string(b_.substr(nl1 + 1, nl2 - nl1 - 1))};
        pos_ = nl2 + 1;
        Push(g);
        return Status::Ok();
      }
      case 0x93: {                                                            // STACK_GLOBAL
        ASSIGN_OR_RETURN(Ref name, Pop(at));
        ASSIGN_OR_RETURN(Ref module, Pop(at));
        if (name->kind != Node::Kind::kStr || module->kind != Node::Kind::kStr) return Bad(at, "STACK_GLOBAL of non-strings");
        Ref g = Make(Node::Kind::kGlobal);
        g->g = {module->s, name->s};
        Push(g);
        return Status::Ok();
      }
      case ')': Push(Make(Node::Kind::kTuple)); return Status::Ok();
      case 0x85: case 0x86: case 0x87: {
        const size_t n = op - 0x84;
        if (stack_.size() < n) return Bad(at, "a tuple of more items than the stack holds");
        Ref t = Make(Node::Kind::kTuple);
        t->items.assign(stack_.end() - static_cast<std::ptrdiff_t>(n), stack_.end());
        stack_.resize(stack_.size() - n);
        Push(t);
        return Status::Ok();
      }
      case 't': case 'l': {
        ASSIGN_OR_RETURN(std::vector<Ref> items, PopToMark(at));
        Ref t = Make(op == 't' ? Node::Kind::kTuple : Node::Kind::kList);
        t->items = std::move(items);
        Push(t);
        return Status::Ok();
      }
      case ']': Push(Make(Node::Kind::kList)); return Status::Ok();
      case '}': Push(Make(Node::Kind::kDict)); return Status::Ok();
      case 'a': {
        ASSIGN_OR_RETURN(Ref v, Pop(at));
        if (stack_.empty() || stack_.back()->kind != Node::Kind::kList) return Bad(at, "APPEND to a non-list");
        stack_.back()->items.push_back(v);
        return Status::Ok();
      }
      case 'e': {
        ASSIGN_OR_RETURN(std::vector<Ref> items, PopToMark(at));
        if (stack_.empty() || stack_.back()->kind != Node::Kind::kList) return Bad(at, "APPENDS to a non-list");
        for (Ref& v : items) stack_.back()->items.push_back(std::move(v));
        return Status::Ok();
      }
      case 's': case 'u': case 'd': {
        std::vector<Ref> kv;
        if (op == 's') {
          if (stack_.size() < 3) return Bad(at, "SETITEM without a key and value");
          kv.assign(stack_.end() - 2, stack_.end());
          stack_.resize(stack_.size() - 2);
        } else {
          ASSIGN_OR_RETURN(kv, PopToMark(at));
        }
        if (kv.size() % 2 != 0) return Bad(at, "an odd number of dict items");
        if (op == 'd') Push(Make(Node::Kind::kDict));
        if (stack_.empty()) return Bad(at, "SETITEM on an empty stack");
        Ref target = stack_.back();
        if (target->kind == Node::Kind::kDict) {
          for (size_t i = 0; i < kv.size(); i += 2) target->entries.emplace_back(kv[i], kv[i + 1]);
        }
        return Status::Ok();
      }
      case 'q': { ASSIGN_OR_RETURN(uint64_t k, Uint(1, at)); return Memo(k, at); }
      case 'r': { ASSIGN_OR_RETURN(uint64_t k, Uint(4, at)); return Memo(k, at); }
      case 0x94: return Memo(memo_.size(), at);
      case 'h': { ASSIGN_OR_RETURN(uint64_t k, Uint(1, at)); return Recall(k, at); }
      case 'j': { ASSIGN_OR_RETURN(uint64_t k, Uint(4, at)); return Recall(k, at); }
      case 'Q': {                                                             // BINPERSID
        ASSIGN_OR_RETURN(Ref pid, Pop(at));
        Ref p = Make(Node::Kind::kPid);
        if (pid->kind == Node::Kind::kTuple) p->items = pid->items;
        Push(p);
        return Status::Ok();
      }
      case 'R': case 0x81: {                                                  // REDUCE, NEWOBJ
        ASSIGN_OR_RETURN(Ref args, Pop(at));
        ASSIGN_OR_RETURN(Ref callable, Pop(at));
        Push(Reduce(callable, args));
        return Status::Ok();
      }
      case 'b': return Pop(at).status();                                      // BUILD: state ignored
      case '0': return Pop(at).status();                                      // POP
      default:
        return Bad(at, fmt::format("opcode 0x{:02x} is not one a tensor index uses; nothing was run", op));
    }
  }

  std::string_view b_;
  std::vector<std::unique_ptr<Node>> arena_;
  size_t pos_ = 0;
  std::vector<Ref> stack_;
  std::map<uint64_t, Ref> memo_;
};

// ------------------------------------------------------------- the zip
uint64_t Le(std::string_view b, size_t at, size_t n) {
  uint64_t v = 0;
  for (size_t i = n; i-- > 0;) v = (v << 8) | static_cast<uint8_t>(b[at + i]);
  return v;
}

struct ZipEntry {
  std::string name;
  uint32_t method = 0;
  uint64_t compressed = 0, size = 0, local_offset = 0;
};

Result<std::string> ReadAt(std::ifstream& in, uint64_t offset, uint64_t n) {
  std::string out(n, '\0');
  in.clear();
  in.seekg(static_cast<std::streamoff>(offset));
  in.read(out.data(), static_cast<std::streamsize>(n));
  if (static_cast<uint64_t>(in.gcount()) != n) {
    return DataLossError(fmt::format("zip at byte {}: {} bytes expected, the file ends first", offset, n));
  }
  return out;
}

Result<std::vector<ZipEntry>> CentralDirectory(std::ifstream& in, uint64_t file_size) {
  const uint64_t tail_size = std::min<uint64_t>(file_size, 65557);
  ASSIGN_OR_RETURN(std::string tail, ReadAt(in, file_size - tail_size, tail_size));
  size_t eocd = std::string::npos;
  for (size_t i = tail.size() >= 22 ? tail.size() - 22 + 1 : 0; i-- > 0;) {
    if (Le(tail, i, 4) == 0x06054b50) { eocd = i; break; }
  }
  if (eocd == std::string::npos) return InvalidArgumentError("not a zip file: no end of central directory");
  uint64_t entries = Le(tail, eocd + 10, 2), cd_size = Le(tail, eocd + 12, 4), cd_offset = Le(tail, eocd + 16, 4);
  if ((entries == 0xffff || cd_size == 0xffffffff || cd_offset == 0xffffffff) && eocd >= 20 &&
      Le(tail, eocd - 20, 4) == 0x07064b50) {
    const uint64_t z64 = Le(tail, eocd - 20 + 8, 8);
    ASSIGN_OR_RETURN(std::string rec, ReadAt(in, z64, 56));
    if (Le(rec, 0, 4) != 0x06064b50) return InvalidArgumentError(fmt::format("zip at byte {}: bad zip64 record", z64));
    entries = Le(rec, 32, 8);
    cd_size = Le(rec, 40, 8);
    cd_offset = Le(rec, 48, 8);
  }
  if (cd_offset > file_size || cd_size > file_size - cd_offset || cd_size > (256ull << 20)) {
    return InvalidArgumentError(fmt::format("zip: the central directory [{}, +{}) lies outside the file", cd_offset, cd_size));
  }
  ASSIGN_OR_RETURN(std::string cd, ReadAt(in, cd_offset, cd_size));
  std::vector<ZipEntry> out;
  size_t p = 0;
  for (uint64_t i = 0; i < entries; ++i) {
    if (p + 46 > cd.size() || Le(cd, p, 4) != 0x02014b50) {
      return InvalidArgumentError(fmt::format("zip at byte {}: a central directory entry is broken", cd_offset + p));
    }
    ZipEntry e;
    e.method = static_cast<uint32_t>(Le(cd, p + 10, 2));
    e.compressed = Le(cd, p + 20, 4);
    e.size = Le(cd, p + 24, 4);
    const size_t name_len = Le(cd, p + 28, 2), extra_len = Le(cd, p + 30, 2), comment_len = Le(cd, p + 32, 2);
    e.local_offset = Le(cd, p + 42, 4);
    if (p + 46 + name_len + extra_len + comment_len > cd.size()) {
      return InvalidArgumentError(fmt::format("zip at byte {}: an entry runs past the central directory", cd_offset + p));
    }
    e.name = cd.substr(p + 46, name_len);
    // Zip64: the sizes and offset that did not fit, in this order.
    for (size_t x = p + 46 + name_len; x + 4 <= p + 46 + name_len + extra_len;) {
      const uint64_t id = Le(cd, x, 2), len = Le(cd, x + 2, 2);
      if (x + 4 + len > p + 46 + name_len + extra_len) break;
      if (id == 1) {
        size_t y = x + 4;
        for (uint64_t* f : {&e.size, &e.compressed, &e.local_offset}) {
          if (*f == 0xffffffff && y + 8 <= x + 4 + len) { *f = Le(cd, y, 8); y += 8; }
        }
      }
      x += 4 + len;
    }
    out.push_back(std::move(e));
    p += 46 + name_len + extra_len + comment_len;
  }
  return out;
}

Result<std::string> EntryBytes(std::ifstream& in, uint64_t file_size, const ZipEntry& e) {
  ASSIGN_OR_RETURN(std::string local, ReadAt(in, e.local_offset, 30));
  if (Le(local, 0, 4) != 0x04034b50) {
    return InvalidArgumentError(fmt::format("zip at byte {}: no local header for {}", e.local_offset, e.name));
  }
  const uint64_t data = e.local_offset + 30 + Le(local, 26, 2) + Le(local, 28, 2);
  if (data > file_size || e.compressed > file_size - data) {
    return InvalidArgumentError(fmt::format("zip at byte {}: {} runs past the end of the file", data, e.name));
  }
  if (e.method == 0) {
    if (e.size > kMaxPickle) return InvalidArgumentError(fmt::format("{} is {} bytes, more than a tensor index needs", e.name, e.size));
    return ReadAt(in, data, e.compressed);
  }
  if (e.method != 8) return InvalidArgumentError(fmt::format("{}: zip method {} is not stored or deflate", e.name, e.method));
  if (e.compressed > kMaxPickle) return InvalidArgumentError(fmt::format("{} is too large", e.name));
  ASSIGN_OR_RETURN(std::string packed, ReadAt(in, data, e.compressed));
  // Inflated with a cap, whatever the header claims: no zip bomb.
  z_stream z{};
  if (inflateInit2(&z, -MAX_WBITS) != Z_OK) return InternalError("zlib: inflateInit2 failed");
  z.next_in = reinterpret_cast<Bytef*>(packed.data());
  z.avail_in = static_cast<uInt>(packed.size());
  std::string out;
  char buf[1 << 16];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&z);
      return InvalidArgumentError(fmt::format("{}: the deflate stream is broken", e.name));
    }
    out.append(buf, sizeof buf - z.avail_out);
    if (out.size() > kMaxPickle) {
      inflateEnd(&z);
      return InvalidArgumentError(fmt::format("{} inflates past {} bytes: refused (a zip bomb?)", e.name, kMaxPickle));
    }
    if (rc == Z_OK && z.avail_in == 0 && z.avail_out != 0) break;
  }
  inflateEnd(&z);
  return out;
}

}  // namespace

uint64_t PytorchCheckpoint::parameter_count() const {
  uint64_t n = 0;
  for (const PytorchTensor& t : tensors) {
    uint64_t e = 1;
    for (uint64_t d : t.shape) e *= d;
    n += e;
  }
  return n;
}

Result<PytorchCheckpoint> ParsePytorchPickle(std::string_view pickle) {
  Machine m(pickle);
  ASSIGN_OR_RETURN(Ref root, m.Run());
  // The state dict, or a checkpoint dict holding it ("state_dict", "model").
  for (int depth = 0; depth < 2 && root->kind == Node::Kind::kDict; ++depth) {
    bool has_tensors = false;
    for (const auto& [k, v] : root->entries) has_tensors = has_tensors || v->kind == Node::Kind::kTensor;
    if (has_tensors) break;
    Ref inner = nullptr;
    for (const auto& [k, v] : root->entries) {
      if (k->kind == Node::Kind::kStr && (k->s == "state_dict" || k->s == "model") && v->kind == Node::Kind::kDict) inner = v;
    }
    if (!inner) break;
    root = inner;
  }
  if (root->kind != Node::Kind::kDict) return InvalidArgumentError("the pickle does not hold a dict of tensors");
  PytorchCheckpoint out;
  for (const auto& [k, v] : root->entries) {
    if (k->kind != Node::Kind::kStr || v->kind != Node::Kind::kTensor) continue;
    PytorchTensor t = v->tensor;
    t.name = k->s;
    out.tensors.push_back(std::move(t));
  }
  if (out.tensors.empty()) return InvalidArgumentError("the pickle holds no tensors");
  return out;
}

Result<PytorchCheckpoint> ReadPytorchCheckpoint(const fs::path& path) {
  std::error_code ec;
  const uint64_t size = fs::file_size(path, ec);
  if (ec) return NotFoundError(fmt::format("cannot read {}: {}", path.string(), ec.message()));
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError(fmt::format("cannot open {}", path.string()));
  auto named = [&](const Status& s) { return Status(s.code(), path.filename().string() + ": " + s.message()); };
  Result<std::vector<ZipEntry>> entries = CentralDirectory(in, size);
  if (!entries.ok()) {
    return named(entries.status().code() == StatusCode::kInvalidArgument && entries.status().message().starts_with("not a zip")
                     ? InvalidArgumentError("not a zip: a PyTorch checkpoint from before torch 1.6 (a bare pickle) is not read")
                     : entries.status());
  }
  for (const ZipEntry& e : *entries) {
    if (e.name == "data.pkl" || e.name.ends_with("/data.pkl")) {
      Result<std::string> bytes = EntryBytes(in, size, e);
      if (!bytes.ok()) return named(bytes.status());
      Result<PytorchCheckpoint> c = ParsePytorchPickle(*bytes);
      if (!c.ok()) return named(c.status());
      return c;
    }
  }
  return named(InvalidArgumentError("no data.pkl in the zip: not a torch.save file"));
}

}  // namespace hangar::checkpoint
