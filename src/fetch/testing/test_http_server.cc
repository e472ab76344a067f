#include "fetch/testing/test_http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <regex>

#include "core/strings.h"

namespace hangar::testing {
namespace {

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "TestHttpServer: %s: %s\n", what.c_str(), std::strerror(errno));
  std::abort();
}

class StringBlob final : public TestBlob {
 public:
  explicit StringBlob(std::string s) : s_(std::move(s)) {}
  std::string_view data() const override { return s_; }

 private:
  std::string s_;
};

class MappedBlob final : public TestBlob {
 public:
  explicit MappedBlob(const std::filesystem::path& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) Die("cannot open " + path.string());
    struct stat st;
    if (::fstat(fd, &st) != 0) Die("cannot stat " + path.string());
    size_ = static_cast<size_t>(st.st_size);
    if (size_ > 0) {
      addr_ = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (addr_ == MAP_FAILED) Die("cannot map " + path.string());
    }
    ::close(fd);
  }
  ~MappedBlob() override {
    if (size_ > 0) ::munmap(addr_, size_);
  }
  std::string_view data() const override {
    return size_ == 0 ? std::string_view() : std::string_view(static_cast<char*>(addr_), size_);
  }

 private:
  void* addr_ = nullptr;
  size_t size_ = 0;
};

std::string_view Reason(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 416:
      return "Range Not Satisfiable";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

std::string DefaultEtag(std::string_view data) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a, enough to tell test files apart
  for (unsigned char c : data) h = (h ^ c) * 1099511628211ULL;
  char buf[48];
  std::snprintf(buf, sizeof buf, "\"%zx-%016llx\"", data.size(),
                static_cast<unsigned long long>(h));
  return buf;
}

// A single "bytes=" range over `size` bytes: [first, last]. nullopt: no
// usable Range (absent, several ranges, malformed: serve everything).
// `unsatisfiable` is set for a range that starts past the end.
std::optional<std::pair<uint64_t, uint64_t>> ParseRange(const std::string& value, uint64_t size,
                                                        bool& unsatisfiable) {
  unsatisfiable = false;
  std::string_view v = value;
  if (v.substr(0, 6) != "bytes=" || v.find(',') != std::string_view::npos) return std::nullopt;
  v.remove_prefix(6);
  size_t dash = v.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  std::string a(v.substr(0, dash)), b(v.substr(dash + 1));
  auto digits = [](const std::string& s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (a.empty()) {  // suffix: the last N bytes
    if (!digits(b)) return std::nullopt;
    uint64_t n = std::stoull(b);
    if (n == 0 || size == 0) {
      unsatisfiable = true;
      return std::nullopt;
    }
    n = std::min(n, size);
    return std::make_pair(size - n, size - 1);
  }
  if (!digits(a) || (!b.empty() && !digits(b))) return std::nullopt;
  uint64_t first = std::stoull(a);
  if (first >= size) {
    unsatisfiable = true;
    return std::nullopt;
  }
  uint64_t last = b.empty() ? size - 1 : std::stoull(b);
  if (last < first) return std::nullopt;
  return std::make_pair(first, std::min(last, size - 1));
}

bool SendAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::shared_ptr<const TestBlob> TestBlob::FromString(std::string content) {
  return std::make_shared<StringBlob>(std::move(content));
}

std::shared_ptr<const TestBlob> TestBlob::FromFile(const std::filesystem::path& path) {
  return std::make_shared<MappedBlob>(path);
}

void TestResponse::SetText(int s, std::string b, std::string content_type) {
  status = s;
  body = std::move(b);
  headers.Set("Content-Type", std::move(content_type));
}

void TestResponse::SetJson(int s, std::string json) {
  SetText(s, std::move(json), "application/json");
}

void TestResponse::SetRedirect(const std::string& location, int s) {
  status = s;
  headers.Set("Location", location);
  body.clear();
}

void TestResponse::SetStream(std::function<void(TestStreamWriter&)> producer,
                             std::string content_type) {
  status = 200;
  stream = std::move(producer);
  headers.Set("Content-Type", std::move(content_type));
}

Fault Fault::CutAt(uint64_t offset, int times) {
  Fault f;
  f.kind = Kind::kCut;
  f.offset = offset;
  f.times = times;
  return f;
}

Fault Fault::Status(int status, std::string retry_after, int times) {
  Fault f;
  f.kind = Kind::kStatus;
  f.status = status;
  f.retry_after = std::move(retry_after);
  f.times = times;
  return f;
}

Fault Fault::StallAt(uint64_t offset, int64_t stall_ms, int times) {
  Fault f;
  f.kind = Kind::kStall;
  f.offset = offset;
  f.stall_ms = stall_ms;
  f.times = times;
  return f;
}

Fault Fault::CorruptAt(uint64_t offset, int times) {
  Fault f;
  f.kind = Kind::kCorrupt;
  f.offset = offset;
  f.times = times;
  return f;
}

struct TestHttpServer::RouteEntry {
  std::string method;
  std::regex path;
  Handler handler;
};

struct TestHttpServer::FileEntry {
  std::shared_ptr<const TestBlob> blob;
  FileOptions options;
  std::vector<Fault> faults;
};

class TestHttpServer::ConnectionWriter final : public TestStreamWriter {
 public:
  ConnectionWriter(TestHttpServer* server, int fd) : server_(server), fd_(fd) {}
  bool Write(std::string_view data) override {
    if (!ok_ || server_->stopping_) return ok_ = false;
    if (data.empty()) return true;
    char head[32];
    int n = std::snprintf(head, sizeof head, "%zx\r\n", data.size());
    ok_ = SendAll(fd_, head, static_cast<size_t>(n)) && SendAll(fd_, data.data(), data.size()) &&
          SendAll(fd_, "\r\n", 2);
    if (ok_) server_->body_bytes_ += data.size();
    return ok_;
  }
  bool Sleep(int64_t ms) override {
    if (server_->WaitStopped(fd_, ms)) ok_ = false;
    return ok_;
  }
  bool ok() const { return ok_; }

 private:
  TestHttpServer* server_;
  int fd_;
  bool ok_ = true;
};

TestHttpServer::TestHttpServer(std::string url_host) : url_host_(std::move(url_host)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) Die("socket");
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) Die("bind");
  if (::listen(listen_fd_, 128) != 0) Die("listen");
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  accept_thread_ = std::thread([this] { AcceptLoop(); });
}

TestHttpServer::~TestHttpServer() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);  // wakes the accept loop's poll()
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
  }
  stop_cv_.notify_all();
  accept_thread_.join();
  ::close(listen_fd_);
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mu_);
    threads.swap(threads_);
  }
  for (auto& t : threads) t.join();
}

std::string TestHttpServer::BaseUrl() const {
  return "http://" + url_host_ + ":" + std::to_string(port_);
}

void TestHttpServer::Route(std::string method, std::string path_regex, Handler handler) {
  auto entry = std::make_shared<RouteEntry>();
  entry->method = std::move(method);
  entry->path = std::regex(path_regex);
  entry->handler = std::move(handler);
  std::lock_guard lock(mu_);
  routes_.push_back(std::move(entry));
}

void TestHttpServer::AddFile(const std::string& path, std::string content, FileOptions options) {
  AddFile(path, TestBlob::FromString(std::move(content)), std::move(options));
}

void TestHttpServer::AddFile(const std::string& path, std::shared_ptr<const TestBlob> blob,
                             FileOptions options) {
  auto entry = std::make_shared<FileEntry>();
  entry->blob = std::move(blob);
  entry->options = std::move(options);
  bool had_route;
  {
    std::lock_guard lock(mu_);
    had_route = files_.count(path) > 0;
    files_[path] = entry;
  }
  if (had_route) return;
  // The route names the path literally.
  std::string escaped;
  for (char c : path) {
    if (std::strchr(".^$|()[]{}*+?\\", c) != nullptr) escaped += '\\';
    escaped += c;
  }
  Route("GET", escaped,
        [this, path](const TestRequest& req, TestResponse& res) { SendFile(path, req, res); });
}

void TestHttpServer::SetFileOptions(const std::string& path, FileOptions options) {
  std::lock_guard lock(mu_);
  auto it = files_.find(path);
  if (it != files_.end()) it->second->options = std::move(options);
}

void TestHttpServer::AddFault(const std::string& path, Fault fault) {
  std::lock_guard lock(mu_);
  auto it = files_.find(path);
  if (it == files_.end()) {
    std::fprintf(stderr, "TestHttpServer: AddFault for %s, which is no file\n", path.c_str());
    std::abort();
  }
  it->second->faults.push_back(std::move(fault));
}

void TestHttpServer::ClearFaults(const std::string& path) {
  std::lock_guard lock(mu_);
  auto it = files_.find(path);
  if (it != files_.end()) it->second->faults.clear();
}

void TestHttpServer::SendFile(const std::string& file_path, const TestRequest& req,
                              TestResponse& res) {
  std::unique_lock lock(mu_);
  auto it = files_.find(file_path);
  if (it == files_.end()) {
    lock.unlock();
    res.SetText(404, "no such file\n");
    return;
  }
  FileEntry& file = *it->second;
  const FileOptions& opt = file.options;
  const std::string_view data = file.blob->data();
  const uint64_t size = data.size();
  for (const auto& [k, v] : opt.extra_headers.entries()) res.headers.Add(k, v);
  if (!opt.bearer_token.empty() &&
      req.headers.Get("Authorization") != "Bearer " + opt.bearer_token) {
    res.headers.Set("WWW-Authenticate", "Bearer");
    res.SetText(401, "invalid or missing token\n");
    return;
  }
  // A status fault answers the request whatever it asks for.
  for (auto f = file.faults.begin(); f != file.faults.end(); ++f) {
    if (f->kind != Fault::Kind::kStatus || f->times == 0) continue;
    if (f->times > 0) --f->times;
    if (!f->retry_after.empty()) res.headers.Set("Retry-After", f->retry_after);
    res.SetText(f->status, "injected failure\n");
    return;
  }
  res.headers.Set("ETag", opt.etag ? *opt.etag : DefaultEtag(data));
  if (opt.ranges) res.headers.Set("Accept-Ranges", "bytes");
  uint64_t first = 0, end = size;
  res.status = 200;
  if (auto range = req.headers.Get("Range"); range && opt.ranges) {
    bool unsatisfiable = false;
    auto r = ParseRange(*range, size, unsatisfiable);
    if (unsatisfiable) {
      res.headers.Set("Content-Range", "bytes */" + std::to_string(size));
      res.SetText(416, "range not satisfiable\n");
      return;
    }
    if (r) {
      first = r->first;
      end = r->second + 1;
      res.status = 206;
      res.headers.Set("Content-Range", "bytes " + std::to_string(first) + "-" +
                                           std::to_string(end - 1) + "/" + std::to_string(size));
    }
  }
  res.headers.Set("Content-Type", "application/octet-stream");
  res.blob = file.blob;
  res.blob_begin = first;
  res.blob_end = end;
  res.faults.bytes_per_second = opt.bytes_per_second;
  if (req.method == "HEAD") return;
  for (Fault& f : file.faults) {
    if (f.times == 0 || f.kind == Fault::Kind::kStatus) continue;
    if (f.offset < first || f.offset >= end) continue;
    uint64_t at = f.offset - first;
    switch (f.kind) {
      case Fault::Kind::kCut:
        if (res.faults.cut_after) continue;
        res.faults.cut_after = at;
        break;
      case Fault::Kind::kStall:
        if (res.faults.stall_after) continue;
        res.faults.stall_after = at;
        res.faults.stall_ms = f.stall_ms;
        break;
      case Fault::Kind::kCorrupt:
        if (res.faults.corrupt_at) continue;
        res.faults.corrupt_at = at;
        break;
      case Fault::Kind::kStatus:
        break;
    }
    if (f.times > 0) --f.times;
  }
}

std::vector<TestRequest> TestHttpServer::Requests() const {
  std::lock_guard lock(mu_);
  return log_;
}

int TestHttpServer::RequestCount(std::string_view path) const {
  std::lock_guard lock(mu_);
  return static_cast<int>(std::count_if(log_.begin(), log_.end(),
                                        [&](const TestRequest& r) { return r.path == path; }));
}

void TestHttpServer::AcceptLoop() {
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    int rc = ::poll(&p, 1, 50);
    if (rc <= 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int number = ++connections_;
    std::lock_guard lock(mu_);
    if (stopping_) {
      ::close(fd);
      break;
    }
    open_fds_.push_back(fd);
    threads_.emplace_back([this, fd, number] { ServeConnection(fd, number); });
  }
}

bool TestHttpServer::WaitStopped(int fd, int64_t ms) {
  const int64_t until = ms < 0 ? INT64_MAX : NowMs() + ms;
  while (true) {
    if (stopping_) return true;
    char c;
    ssize_t n = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      return true;  // the peer closed the connection
    }
    int64_t now = NowMs();
    if (now >= until) return false;
    std::unique_lock lock(mu_);
    stop_cv_.wait_for(lock, std::chrono::milliseconds(std::min<int64_t>(20, until - now)),
                      [this] { return stopping_.load(); });
  }
}

void TestHttpServer::ServeConnection(int fd, int number) {
  std::string buf;
  char tmp[65536];
  auto read_more = [&]() -> bool {
    while (!stopping_) {
      pollfd p{fd, POLLIN, 0};
      int rc = ::poll(&p, 1, 50);
      if (rc == 0) continue;
      if (rc < 0 && errno == EINTR) continue;
      if (rc < 0) return false;
      ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
      if (n <= 0) return false;
      buf.append(tmp, static_cast<size_t>(n));
      return true;
    }
    return false;
  };
  while (!stopping_) {
    size_t head_end;
    bool open = true;
    while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) {
      if (buf.size() > (1 << 20) || !(open = read_more())) break;
    }
    if (!open || head_end == std::string::npos) break;
    TestRequest req;
    req.connection = number;
    std::string_view head(buf.data(), head_end);
    size_t line_end = head.find("\r\n");
    std::string_view request_line = head.substr(0, line_end);
    size_t sp1 = request_line.find(' ');
    size_t sp2 = request_line.rfind(' ');
    if (sp1 == std::string_view::npos || sp2 <= sp1) break;
    req.method = std::string(request_line.substr(0, sp1));
    req.target = std::string(request_line.substr(sp1 + 1, sp2 - sp1 - 1));
    size_t q = req.target.find('?');
    req.path = req.target.substr(0, q);
    if (q != std::string::npos) req.query = req.target.substr(q + 1);
    std::string_view rest = line_end == std::string_view::npos ? "" : head.substr(line_end + 2);
    while (!rest.empty()) {
      size_t e = rest.find("\r\n");
      std::string_view line = rest.substr(0, e);
      rest = e == std::string_view::npos ? "" : rest.substr(e + 2);
      size_t colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      req.headers.Add(std::string(line.substr(0, colon)), std::string(value));
    }
    buf.erase(0, head_end + 4);
    uint64_t body_len = 0;
    if (auto cl = req.headers.Get("Content-Length")) body_len = std::stoull(*cl);
    if (body_len > 0 && buf.size() < body_len && req.headers.Get("Expect") &&
        EqualsIgnoreCase(*req.headers.Get("Expect"), "100-continue")) {
      static const char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
      if (!SendAll(fd, kContinue, sizeof kContinue - 1)) break;
    }
    while (buf.size() < body_len && (open = read_more())) {
    }
    if (buf.size() < body_len) break;
    req.body = buf.substr(0, body_len);
    buf.erase(0, body_len);
    {
      std::lock_guard lock(mu_);
      log_.push_back(req);
    }
    TestResponse res;
    Dispatch(req, res);
    bool close = res.close_connection;
    if (auto c = req.headers.Get("Connection"); c && EqualsIgnoreCase(*c, "close")) close = true;
    res.close_connection = close;
    if (!WriteResponse(fd, req, res) || close) break;
  }
  std::lock_guard lock(mu_);
  std::erase(open_fds_, fd);
  ::close(fd);
}

void TestHttpServer::Dispatch(TestRequest& req, TestResponse& res) {
  Handler handler;
  {
    std::lock_guard lock(mu_);
    for (auto it = routes_.rbegin(); it != routes_.rend(); ++it) {
      const RouteEntry& r = **it;
      bool method_ok =
          r.method == "*" || r.method == req.method || (r.method == "GET" && req.method == "HEAD");
      if (!method_ok) continue;
      std::smatch m;
      if (!std::regex_match(req.path, m, r.path)) continue;
      for (size_t i = 1; i < m.size(); ++i) req.params.push_back(m[i].str());
      handler = r.handler;
      break;
    }
  }
  if (!handler) {
    res.SetText(404, "no route for " + req.path + "\n");
    return;
  }
  handler(req, res);
}

bool TestHttpServer::WriteResponse(int fd, const TestRequest& req, TestResponse& res) {
  const bool head_only = req.method == "HEAD";
  std::string_view body =
      res.blob ? res.blob->data().substr(res.blob_begin, res.blob_end - res.blob_begin)
               : std::string_view(res.body);
  std::string head =
      "HTTP/1.1 " + std::to_string(res.status) + " " + std::string(Reason(res.status)) + "\r\n";
  for (const auto& [k, v] : res.headers.entries()) head += k + ": " + v + "\r\n";
  if (res.stream) {
    head += "Transfer-Encoding: chunked\r\n";
  } else if (!res.headers.Has("Content-Length")) {
    head += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  if (res.close_connection) head += "Connection: close\r\n";
  head += "\r\n";
  if (!SendAll(fd, head.data(), head.size())) return false;
  if (head_only) return true;
  if (res.stream) {
    ConnectionWriter writer(this, fd);
    res.stream(writer);
    return writer.ok() && SendAll(fd, "0\r\n\r\n", 5);
  }
  const BodyFaults& f = res.faults;
  const uint64_t rate = f.bytes_per_second;
  // Rate-capped bodies go out in pieces of ~20 ms worth, others in 64 KiB.
  const uint64_t piece = rate > 0 ? std::clamp<uint64_t>(rate / 50, 1, 65536) : 65536;
  const int64_t start_ms = NowMs();
  bool stalled = false;
  std::string scratch;
  uint64_t off = 0;
  while (off < body.size()) {
    if (f.cut_after && off >= *f.cut_after) return false;
    if (f.stall_after && !stalled && off >= *f.stall_after) {
      stalled = true;
      if (WaitStopped(fd, f.stall_ms)) return false;
    }
    uint64_t n = std::min<uint64_t>(piece, body.size() - off);
    if (f.cut_after && off < *f.cut_after) n = std::min(n, *f.cut_after - off);
    if (f.stall_after && !stalled && off < *f.stall_after) n = std::min(n, *f.stall_after - off);
    const char* p = body.data() + off;
    if (f.corrupt_at && *f.corrupt_at >= off && *f.corrupt_at < off + n) {
      scratch.assign(p, n);
      scratch[*f.corrupt_at - off] = static_cast<char>(~scratch[*f.corrupt_at - off]);
      p = scratch.data();
    }
    if (!SendAll(fd, p, n)) return false;
    body_bytes_ += n;
    off += n;
    if (rate > 0) {
      int64_t due_ms = start_ms + static_cast<int64_t>(off * 1000 / rate);
      int64_t wait = due_ms - NowMs();
      if (wait > 0 && WaitStopped(fd, wait)) return false;
    }
  }
  if (f.cut_after && off >= *f.cut_after && *f.cut_after < body.size()) return false;
  return true;
}

}  // namespace hangar::testing
