#include "runtime/http_wire.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <climits>
#include <cstring>

namespace hangar::runtime::wire {
namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;
using boost::system::error_code;

constexpr auto kStopPoll = std::chrono::milliseconds(50);

void SetNonBlocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL, 0);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

// Boost's synchronous stream concepts over a Socket. A failure keeps the
// Socket's Status, so the caller reports it rather than Beast's code.
class Stream {
 public:
  explicit Stream(Socket* socket) : socket_(socket) {}

  template <class Buffers>
  size_t read_some(const Buffers& buffers, error_code& ec) {
    ec = {};
    for (auto it = net::buffer_sequence_begin(buffers); it != net::buffer_sequence_end(buffers);
         ++it) {
      net::mutable_buffer b = *it;
      if (b.size() == 0) continue;
      auto n = socket_->ReadSome(std::span<char>(static_cast<char*>(b.data()), b.size()));
      if (!n.ok()) {
        status_ = n.status();
        ec = net::error::operation_aborted;
        return 0;
      }
      if (*n == 0) ec = net::error::eof;
      return *n;
    }
    return 0;
  }
  template <class Buffers>
  size_t read_some(const Buffers& buffers) {
    error_code ec;
    size_t n = read_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }
  // Writes the whole sequence at once (a chunk's size line, data and CRLF
  // go out in one system call).
  template <class Buffers>
  size_t write_some(const Buffers& buffers, error_code& ec) {
    ec = {};
    std::vector<std::string_view> pieces;
    size_t total = 0;
    for (auto it = net::buffer_sequence_begin(buffers); it != net::buffer_sequence_end(buffers);
         ++it) {
      net::const_buffer b = *it;
      if (b.size() == 0) continue;
      pieces.emplace_back(static_cast<const char*>(b.data()), b.size());
      total += b.size();
    }
    Status s = socket_->WriteAll(pieces);
    if (!s.ok()) {
      status_ = s;
      ec = net::error::operation_aborted;
      return 0;
    }
    return total;
  }
  template <class Buffers>
  size_t write_some(const Buffers& buffers) {
    error_code ec;
    size_t n = write_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

  // The Status for a failed Beast operation: the socket's, or `fallback`.
  Status Failure(const error_code& ec, StatusCode fallback, std::string_view what) {
    if (!status_.ok()) return status_;
    return Status(fallback, fmt::format("{}: {}", what, ec.message()));
  }

 private:
  Socket* socket_;
  Status status_;
};

template <class Fields>
HeaderList CopyHeaders(const Fields& fields) {
  HeaderList out;
  for (const auto& f : fields) {
    out.emplace_back(std::string(f.name_string()), std::string(f.value()));
  }
  return out;
}

template <class Message>
void SetHeaders(Message& m, const HeaderList& headers) {
  for (const auto& [name, value] : headers) m.insert(name, value);
}

}  // namespace

std::string_view FindHeader(const HeaderList& headers, std::string_view name) {
  for (const auto& [n, v] : headers) {
    if (n.size() == name.size() && std::equal(n.begin(), n.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      return v;
    }
  }
  return {};
}

std::string_view HttpRequest::Path() const {
  std::string_view t = target;
  return t.substr(0, t.find('?'));
}

std::string_view HttpRequest::Query() const {
  std::string_view t = target;
  size_t q = t.find('?');
  return q == std::string_view::npos ? std::string_view() : t.substr(q + 1);
}

// ---------------------------------------------------------------- Socket

Socket::Socket(int fd) : fd_(fd) {
  if (fd_ >= 0) SetNonBlocking(fd_);
}

Socket::~Socket() { Close(); }

Socket::Socket(Socket&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      deadline_(other.deadline_),
      watch_fd_(other.watch_fd_),
      stop_(other.stop_) {}

Socket& Socket::operator=(Socket&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = std::exchange(other.fd_, -1);
    deadline_ = other.deadline_;
    watch_fd_ = other.watch_fd_;
    stop_ = other.stop_;
  }
  return *this;
}

void Socket::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Result<Socket> Socket::ConnectUnix(const std::filesystem::path& path, Deadline deadline) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string p = path.string();
  if (p.size() >= sizeof(addr.sun_path)) {
    return InvalidArgumentError(fmt::format("socket path {} is too long", p));
  }
  std::memcpy(addr.sun_path, p.c_str(), p.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return UnavailableError(fmt::format("socket: {}", std::strerror(errno)));
  Socket s(fd);
  s.set_deadline(deadline);
  // A Unix socket connects at once or fails (EAGAIN: the backlog is full).
  for (;;) {
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) return s;
    if (errno == EINTR) continue;
    if (errno == EAGAIN && std::chrono::steady_clock::now() < deadline) {
      ::usleep(2000);
      continue;
    }
    return UnavailableError(fmt::format("connect to {}: {}", p, std::strerror(errno)));
  }
}

bool Socket::PeerClosed(int fd) {
  if (fd < 0) return true;
  pollfd p{fd, POLLRDHUP, 0};
  int r = ::poll(&p, 1, 0);
  return r > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

bool Socket::PeerClosed() const { return PeerClosed(fd_); }

Status Socket::Wait(short events) {
  for (;;) {
    if (stop_ != nullptr && stop_->load(std::memory_order_relaxed)) {
      return CancelledError("the server is stopping");
    }
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline_) return UnavailableError("timed out");
    auto wait = deadline_ == NoDeadline()
                    ? std::chrono::milliseconds(-1)
                    : std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - now) +
                          std::chrono::milliseconds(1);
    if (stop_ != nullptr && (wait.count() < 0 || wait > kStopPoll)) wait = kStopPoll;
    pollfd fds[2] = {{fd_, events, 0}, {watch_fd_, POLLRDHUP, 0}};
    int n = ::poll(fds, watch_fd_ >= 0 ? 2 : 1, static_cast<int>(wait.count()));
    if (n < 0) {
      if (errno == EINTR) continue;
      return UnavailableError(fmt::format("poll: {}", std::strerror(errno)));
    }
    if (watch_fd_ >= 0 && (fds[1].revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL))) {
      return CancelledError("the client closed its connection");
    }
    if (fds[0].revents != 0) return Status::Ok();
  }
}

Result<size_t> Socket::ReadSome(std::span<char> out) {
  if (fd_ < 0) return UnavailableError("connection closed");
  for (;;) {
    ssize_t n = ::recv(fd_, out.data(), out.size(), 0);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      RETURN_IF_ERROR(Wait(POLLIN));
      continue;
    }
    if (errno == ECONNRESET) return UnavailableError("connection reset by the peer");
    return UnavailableError(fmt::format("read: {}", std::strerror(errno)));
  }
}

Status Socket::WriteAll(std::span<const std::string_view> pieces) {
  if (fd_ < 0) return UnavailableError("connection closed");
  std::vector<iovec> iov;
  iov.reserve(pieces.size());
  for (std::string_view p : pieces) {
    if (!p.empty()) iov.push_back({const_cast<char*>(p.data()), p.size()});
  }
  size_t first = 0;
  while (first < iov.size()) {
    msghdr msg{};
    msg.msg_iov = iov.data() + first;
    msg.msg_iovlen = std::min<size_t>(iov.size() - first, IOV_MAX);
    ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      RETURN_IF_ERROR(AfterWriteError("write"));
      continue;
    }
    // Skip what was written, possibly part of a buffer.
    auto left = static_cast<size_t>(n);
    while (first < iov.size() && left >= iov[first].iov_len) left -= iov[first++].iov_len;
    if (left > 0) {
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
  return Status::Ok();
}

Status Socket::AfterWriteError(std::string_view call) {
  if (errno == EINTR) return Status::Ok();
  if (errno == EAGAIN || errno == EWOULDBLOCK) return Wait(POLLOUT);
  if (errno == EPIPE || errno == ECONNRESET)
    return UnavailableError("connection closed by the peer");
  return UnavailableError(fmt::format("{}: {}", call, std::strerror(errno)));
}

Status Socket::SendFile(int file_fd, uint64_t offset, uint64_t length,
                        std::chrono::milliseconds stall) {
  if (fd_ < 0) return UnavailableError("connection closed");
  // Large calls keep the system calls few; the kernel moves what the
  // socket's buffer takes and says how much.
  constexpr uint64_t kMaxPerCall = 1ull << 30;
  auto off = static_cast<off_t>(offset);
  deadline_ = After(stall);
  while (length > 0) {
    ssize_t n = ::sendfile(fd_, file_fd, &off, static_cast<size_t>(std::min(length, kMaxPerCall)));
    if (n < 0) {
      RETURN_IF_ERROR(AfterWriteError("sendfile"));
      continue;
    }
    if (n == 0) return DataLossError("the file ended before the bytes announced were sent");
    length -= static_cast<uint64_t>(n);
    deadline_ = After(stall);
  }
  return Status::Ok();
}

Status Socket::WriteAll(std::string_view data) {
  const std::string_view one[] = {data};
  return WriteAll(one);
}

// ---------------------------------------------------------------- requests

struct RequestReader::State {
  beast::flat_buffer buffer;
  std::optional<http::request_parser<http::buffer_body>> parser;
  uint64_t body_limit = 0;
  uint64_t body_read = 0;
};

RequestReader::RequestReader(Socket* socket) : socket_(socket), state_(std::make_unique<State>()) {}
RequestReader::~RequestReader() = default;

bool RequestReader::body_done() const { return !state_->parser || state_->parser->is_done(); }

Result<std::optional<HttpRequest>> RequestReader::ReadHead(const Limits& limits,
                                                           Deadline header_deadline) {
  Stream stream(socket_);
  auto& parser = state_->parser.emplace();
  parser.header_limit(static_cast<std::uint32_t>(limits.header_bytes));
  parser.body_limit(boost::none);  // counted by ReadBodyPiece
  state_->body_limit = limits.body_bytes;
  state_->body_read = 0;
  error_code ec;
  socket_->set_deadline(header_deadline);
  http::read_header(stream, state_->buffer, parser, ec);
  if (ec == http::error::end_of_stream) return std::optional<HttpRequest>();
  // Not one byte of a request arrived before the deadline: an idle
  // connection, closed without an answer. A 408 written here could be read
  // by a client that sends its next request on it at this moment, as the
  // answer to that request.
  if (ec && !parser.got_some() && state_->buffer.size() == 0) {
    Status s = stream.Failure(ec, StatusCode::kUnavailable, "read");
    if (s.code() == StatusCode::kUnavailable) return std::optional<HttpRequest>();
    return s;
  }
  if (ec == http::error::header_limit) {
    return ResourceExhaustedError(
        fmt::format("request header larger than {} bytes", limits.header_bytes));
  }
  if (ec) return stream.Failure(ec, StatusCode::kInvalidArgument, "malformed request");
  auto& msg = parser.get();
  if (auto length = parser.content_length(); length && *length > limits.body_bytes) {
    return ResourceExhaustedError(
        fmt::format("request body larger than {} bytes", limits.body_bytes));
  }
  if (beast::iequals(msg[http::field::expect], "100-continue")) {
    http::response<http::empty_body> cont{http::status::continue_, 11};
    http::write(stream, cont, ec);
    if (ec) return stream.Failure(ec, StatusCode::kUnavailable, "write");
  }
  HttpRequest req;
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  req.headers = CopyHeaders(msg);
  req.keep_alive = msg.keep_alive();
  return std::optional<HttpRequest>(std::move(req));
}

Result<std::string> RequestReader::ReadBodyPiece(Deadline deadline) {
  if (!state_->parser) return std::string();
  auto& parser = *state_->parser;
  Stream stream(socket_);
  socket_->set_deadline(deadline);
  char buf[65536];
  while (!parser.is_done()) {
    auto& body = parser.get().body();
    body.data = buf;
    body.size = sizeof buf;
    error_code ec;
    http::read_some(stream, state_->buffer, parser, ec);
    if (ec == http::error::need_buffer) ec = {};
    if (ec == http::error::end_of_stream || ec == http::error::partial_message) {
      return UnavailableError("the client closed the connection before the whole body");
    }
    if (ec) return stream.Failure(ec, StatusCode::kInvalidArgument, "malformed request body");
    size_t n = sizeof buf - parser.get().body().size;
    if (n == 0) continue;
    state_->body_read += n;
    if (state_->body_read > state_->body_limit) {
      return ResourceExhaustedError(
          fmt::format("request body larger than {} bytes", state_->body_limit));
    }
    return std::string(buf, n);
  }
  return std::string();
}

Result<std::optional<HttpRequest>> RequestReader::Read(const Limits& limits,
                                                       Deadline header_deadline,
                                                       Deadline body_deadline) {
  ASSIGN_OR_RETURN(std::optional<HttpRequest> req, ReadHead(limits, header_deadline));
  if (!req) return req;
  for (;;) {
    ASSIGN_OR_RETURN(std::string piece, ReadBodyPiece(body_deadline));
    if (piece.empty()) break;
    req->body += piece;
  }
  return req;
}

Status WriteResponse(Socket& socket, int status, const HeaderList& headers, std::string_view body,
                     bool keep_alive, bool head) {
  Stream stream(&socket);
  error_code ec;
  http::response<http::string_body> res{static_cast<http::status>(status), 11};
  SetHeaders(res, headers);
  res.keep_alive(keep_alive);
  if (head) {
    res.content_length(body.size());
    http::response_serializer<http::string_body> sr{res};
    http::write_header(stream, sr, ec);
  } else {
    res.body() = std::string(body);
    res.prepare_payload();
    http::write(stream, res, ec);
  }
  if (ec) return stream.Failure(ec, StatusCode::kUnavailable, "write");
  return Status::Ok();
}

Status WriteResponseHead(Socket& socket, int status, const HeaderList& headers,
                         uint64_t content_length, bool keep_alive) {
  Stream stream(&socket);
  error_code ec;
  http::response<http::empty_body> res{static_cast<http::status>(status), 11};
  SetHeaders(res, headers);
  res.keep_alive(keep_alive);
  res.content_length(content_length);
  http::response_serializer<http::empty_body> sr{res};
  http::write_header(stream, sr, ec);
  if (ec) return stream.Failure(ec, StatusCode::kUnavailable, "write");
  return Status::Ok();
}

Status ChunkedWriter::Begin(int status, const HeaderList& headers, bool keep_alive) {
  Stream stream(socket_);
  error_code ec;
  http::response<http::empty_body> res{static_cast<http::status>(status), 11};
  SetHeaders(res, headers);
  res.keep_alive(keep_alive);
  res.chunked(true);
  http::response_serializer<http::empty_body> sr{res};
  http::write_header(stream, sr, ec);
  begun_ = true;
  if (ec) return stream.Failure(ec, StatusCode::kUnavailable, "write");
  return Status::Ok();
}

Status ChunkedWriter::Write(std::string_view piece) {
  if (piece.empty()) return Status::Ok();
  Stream stream(socket_);
  error_code ec;
  net::write(stream, http::make_chunk(net::const_buffer(piece.data(), piece.size())), ec);
  if (ec) return stream.Failure(ec, StatusCode::kUnavailable, "write");
  return Status::Ok();
}

Status ChunkedWriter::Write(std::span<const std::string_view> pieces) {
  size_t size = 0;
  for (std::string_view p : pieces) size += p.size();
  if (size == 0) return Status::Ok();
  // The chunk's size line, its pieces and the CRLF in one system call.
  const std::string head = fmt::format("{:x}\r\n", size);
  std::vector<std::string_view> all;
  all.reserve(pieces.size() + 2);
  all.push_back(head);
  all.insert(all.end(), pieces.begin(), pieces.end());
  all.push_back("\r\n");
  return socket_->WriteAll(all);
}

Status ChunkedWriter::End() {
  if (ended_) return Status::Ok();
  ended_ = true;
  Stream stream(socket_);
  error_code ec;
  net::write(stream, http::make_chunk_last(), ec);
  if (ec) return stream.Failure(ec, StatusCode::kUnavailable, "write");
  return Status::Ok();
}

// ---------------------------------------------------------------- client

Status WriteRequest(Socket& socket, const HttpRequest& request) {
  Stream stream(&socket);
  error_code ec;
  http::request<http::string_body> req;
  req.version(11);
  req.method_string(request.method);
  req.target(request.target);
  SetHeaders(req, request.headers);
  if (req.find(http::field::host) == req.end()) req.set(http::field::host, "localhost");
  req.keep_alive(request.keep_alive);
  req.body() = request.body;
  req.prepare_payload();
  http::write(stream, req, ec);
  if (ec) return stream.Failure(ec, StatusCode::kUnavailable, "write");
  return Status::Ok();
}

struct ResponseReader::State {
  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
};

ResponseReader::ResponseReader(Socket* socket)
    : socket_(socket), state_(std::make_unique<State>()) {
  state_->parser.body_limit(boost::none);
}
ResponseReader::~ResponseReader() = default;

bool ResponseReader::done() const { return state_->parser.is_done(); }

Result<HttpResponseHead> ResponseReader::ReadHead(size_t header_limit) {
  Stream stream(socket_);
  error_code ec;
  state_->parser.header_limit(static_cast<std::uint32_t>(header_limit));
  http::read_header(stream, state_->buffer, state_->parser, ec);
  if (ec == http::error::end_of_stream) {
    return UnavailableError("the connection closed before a response");
  }
  if (ec) return stream.Failure(ec, StatusCode::kDataLoss, "malformed response");
  const auto& msg = state_->parser.get();
  HttpResponseHead head;
  head.status = static_cast<int>(msg.result_int());
  head.headers = CopyHeaders(msg);
  head.keep_alive = msg.keep_alive();
  return head;
}

Result<std::string> ResponseReader::ReadBodyPiece() {
  Stream stream(socket_);
  char buf[16384];
  while (!state_->parser.is_done()) {
    auto& body = state_->parser.get().body();
    body.data = buf;
    body.size = sizeof buf;
    error_code ec;
    http::read_some(stream, state_->buffer, state_->parser, ec);
    if (ec == http::error::need_buffer) ec = {};
    if (ec == http::error::end_of_stream || ec == http::error::partial_message) {
      return UnavailableError("the connection closed in the middle of the response");
    }
    if (ec) return stream.Failure(ec, StatusCode::kDataLoss, "malformed response");
    size_t n = sizeof buf - state_->parser.get().body().size;
    if (n > 0) return std::string(buf, n);
  }
  return std::string();
}

Result<std::string> ResponseReader::ReadBody(uint64_t limit) {
  std::string out;
  for (;;) {
    ASSIGN_OR_RETURN(std::string piece, ReadBodyPiece());
    if (piece.empty()) return out;
    if (out.size() + piece.size() > limit) {
      return DataLossError(fmt::format("response body larger than {} bytes", limit));
    }
    out += piece;
  }
}

std::string_view StatusText(int status) {
  return http::obsolete_reason(static_cast<http::status>(status));
}

}  // namespace hangar::runtime::wire
