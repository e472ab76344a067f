#include "gguf/writer.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include "gguf/ggml_types.h"

namespace hangar::gguf {

namespace {

namespace fs = std::filesystem;

enum : uint32_t { kU8 = 0, kI8, kU16, kI16, kU32, kI32, kF32, kBool, kString, kArray, kU64, kI64, kF64 };

template <typename T>
void Put(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.append(b, sizeof(T));
}

void PutString(std::string& out, std::string_view s) {
  Put<uint64_t>(out, s.size());
  out.append(s);
}

template <typename T>
std::string Scalar(uint32_t type, T v) {
  std::string out;
  Put<uint32_t>(out, type);
  Put<T>(out, v);
  return out;
}

template <typename T>
std::string ArrayOf(uint32_t type, std::span<const T> v) {
  std::string out;
  Put<uint32_t>(out, kArray);
  Put<uint32_t>(out, type);
  Put<uint64_t>(out, v.size());
  for (const T& x : v) Put<T>(out, x);
  return out;
}

uint64_t Padded(uint64_t n) { return (n + kDefaultAlignment - 1) / kDefaultAlignment * kDefaultAlignment; }

// Writes to a file descriptor from a thread of its own, through two 8 MiB
// buffers: the caller fills one while the other is written, so producing the
// data and copying it into the page cache overlap.
class FileSink : public TensorSink {
 public:
  FileSink(int fd, const fs::path& path) : fd_(fd), path_(path), thread_([this] { Run(); }) {
    filling_.reserve(kBuffer);
    writing_.reserve(kBuffer);
  }
  ~FileSink() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  Status Write(std::string_view bytes) override {
    written_ += bytes.size();
    filling_.append(bytes);
    if (filling_.size() >= kBuffer) return HandOff();
    return Status::Ok();
  }
  // Everything written to the file, or the first error.
  Status Flush() {
    RETURN_IF_ERROR(HandOff());
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return !busy_; });
    return error_;
  }
  uint64_t written() const { return written_; }

 private:
  static constexpr size_t kBuffer = 8u << 20;
  Status HandOff() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return !busy_; });
    if (!error_.ok()) return error_;
    if (filling_.empty()) return Status::Ok();
    filling_.swap(writing_);
    filling_.clear();
    busy_ = true;
    cv_.notify_all();
    return Status::Ok();
  }
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      cv_.wait(lock, [this] { return busy_ || stop_; });
      if (!busy_) return;
      lock.unlock();
      Status s = WriteAll(writing_);
      lock.lock();
      if (!s.ok() && error_.ok()) error_ = s;
      busy_ = false;
      cv_.notify_all();
    }
  }
  Status WriteAll(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        return InternalError(fmt::format("cannot write {}: {}", path_.string(), std::strerror(errno)));
      }
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return Status::Ok();
  }
  int fd_;
  fs::path path_;
  std::string filling_;  // the caller's
  uint64_t written_ = 0;
  std::mutex mu_;  // guards the members below
  std::condition_variable cv_;
  std::string writing_;  // the writer thread's while busy_
  bool busy_ = false;
  bool stop_ = false;
  Status error_;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace

void GgufWriter::Set(std::string_view key, std::string encoded) {
  auto it = index_.find(std::string(key));
  if (it != index_.end()) {
    kvs_[it->second].second = std::move(encoded);
    return;
  }
  index_.emplace(std::string(key), kvs_.size());
  kvs_.emplace_back(std::string(key), std::move(encoded));
}

void GgufWriter::Remove(std::string_view key) {
  auto it = index_.find(std::string(key));
  if (it == index_.end()) return;
  kvs_.erase(kvs_.begin() + static_cast<std::ptrdiff_t>(it->second));
  index_.clear();
  for (size_t i = 0; i < kvs_.size(); ++i) index_.emplace(kvs_[i].first, i);
}

void GgufWriter::SetU32(std::string_view key, uint32_t v) { Set(key, Scalar(kU32, v)); }
void GgufWriter::SetI32(std::string_view key, int32_t v) { Set(key, Scalar(kI32, v)); }
void GgufWriter::SetU64(std::string_view key, uint64_t v) { Set(key, Scalar(kU64, v)); }
void GgufWriter::SetF32(std::string_view key, float v) { Set(key, Scalar(kF32, v)); }
void GgufWriter::SetBool(std::string_view key, bool v) { Set(key, Scalar<uint8_t>(kBool, v ? 1 : 0)); }

void GgufWriter::SetString(std::string_view key, std::string_view v) {
  std::string out;
  Put<uint32_t>(out, kString);
  PutString(out, v);
  Set(key, std::move(out));
}

void GgufWriter::SetStrings(std::string_view key, std::span<const std::string> v) {
  std::string out;
  Put<uint32_t>(out, kArray);
  Put<uint32_t>(out, kString);
  Put<uint64_t>(out, v.size());
  for (const std::string& s : v) PutString(out, s);
  Set(key, std::move(out));
}

void GgufWriter::SetF32s(std::string_view key, std::span<const float> v) { Set(key, ArrayOf(kF32, v)); }
void GgufWriter::SetI32s(std::string_view key, std::span<const int32_t> v) { Set(key, ArrayOf(kI32, v)); }
void GgufWriter::SetU32s(std::string_view key, std::span<const uint32_t> v) { Set(key, ArrayOf(kU32, v)); }

void GgufWriter::SetBools(std::string_view key, std::span<const bool> v) {
  std::vector<uint8_t> bytes(v.begin(), v.end());
  Set(key, ArrayOf<uint8_t>(kBool, bytes));
}

Status GgufWriter::AddTensor(std::string_view name, std::span<const uint64_t> ne, uint32_t ggml_type) {
  const GgmlType* type = FindGgmlType(ggml_type);
  if (type == nullptr) return InvalidArgumentError(fmt::format("tensor {}: unknown ggml type {}", name, ggml_type));
  if (ne.empty() || ne.size() > kMaxDims) {
    return InvalidArgumentError(fmt::format("tensor {}: {} dimensions", name, ne.size()));
  }
  for (const Tensor& t : tensors_) {
    if (t.name == name) return InvalidArgumentError(fmt::format("tensor {} added twice", name));
  }
  std::optional<uint64_t> bytes = TensorBytes(*type, ne);
  if (!bytes) {
    return InvalidArgumentError(fmt::format("tensor {}: a {} tensor cannot have these dimensions", name, type->name));
  }
  tensors_.push_back(Tensor{std::string(name), std::vector<uint64_t>(ne.begin(), ne.end()), ggml_type, *bytes});
  return Status::Ok();
}

uint64_t GgufWriter::data_bytes() const {
  uint64_t n = 0;
  for (const Tensor& t : tensors_) n += t.bytes;
  return n;
}

std::string GgufWriter::Header() const {
  std::string h;
  h.append("GGUF", 4);
  Put<uint32_t>(h, 3);
  Put<uint64_t>(h, tensors_.size());
  Put<uint64_t>(h, kvs_.size());
  for (const auto& [key, value] : kvs_) {
    PutString(h, key);
    h.append(value);
  }
  uint64_t offset = 0;
  for (const Tensor& t : tensors_) {
    PutString(h, t.name);
    Put<uint32_t>(h, static_cast<uint32_t>(t.ne.size()));
    for (uint64_t d : t.ne) Put<uint64_t>(h, d);
    Put<uint32_t>(h, t.type);
    Put<uint64_t>(h, offset);
    offset += Padded(t.bytes);
  }
  h.resize(Padded(h.size()), '\0');
  return h;
}

Status GgufWriter::Write(const fs::path& out,
                         const std::function<Status(size_t index, TensorSink& sink)>& fill) const {
  const fs::path partial = out.string() + ".partial";
  const int fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return InternalError(fmt::format("cannot create {}: {}", partial.string(), std::strerror(errno)));
  auto sink_owner = std::make_unique<FileSink>(fd, partial);
  FileSink& sink = *sink_owner;
  auto fail = [&](Status s) {
    if (sink_owner) {
      (void)sink_owner->Flush();
      sink_owner.reset();
    }
    ::close(fd);
    std::error_code ec;
    fs::remove(partial, ec);
    return s;
  };
  Status s = sink.Write(Header());
  if (!s.ok()) return fail(s);
  static const std::string kZeros(kDefaultAlignment, '\0');
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const uint64_t before = sink.written();
    s = fill(i, sink);
    if (!s.ok()) return fail(s);
    const uint64_t wrote = sink.written() - before;
    if (wrote != tensors_[i].bytes) {
      return fail(InternalError(fmt::format("tensor {}: {} bytes written where it holds {}", tensors_[i].name,
                                            wrote, tensors_[i].bytes)));
    }
    s = sink.Write(std::string_view(kZeros).substr(0, Padded(wrote) - wrote));
    if (!s.ok()) return fail(s);
  }
  s = sink.Flush();
  if (!s.ok()) return fail(s);
  sink_owner.reset();
  if (::fsync(fd) != 0) return fail(InternalError(fmt::format("cannot flush {}: {}", partial.string(), std::strerror(errno))));
  ::close(fd);
  std::error_code ec;
  fs::rename(partial, out, ec);
  if (ec) {
    fs::remove(partial, ec);
    return InternalError(fmt::format("cannot move {} into place: {}", out.string(), ec.message()));
  }
  return Status::Ok();
}

}  // namespace hangar::gguf
