#include "server/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/log.h"

namespace hangar::server {
namespace {

constexpr auto kWriteTimeout = std::chrono::seconds(60);

std::string ErrorJson(std::string_view message) {
  return nlohmann::json{{"error", message}}.dump();
}

Peer PeerOf(const sockaddr_storage& ss) {
  Peer p;
  char buf[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    ::inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
    p.port = ntohs(a->sin_port);
    p.loopback = (ntohl(a->sin_addr.s_addr) >> 24) == 127;
  } else if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    ::inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
    p.port = ntohs(a->sin6_port);
    p.loopback = IN6_IS_ADDR_LOOPBACK(&a->sin6_addr) ||
                 (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr) && a->sin6_addr.s6_addr[12] == 127);
  }
  p.address = buf;
  return p;
}

}  // namespace

// ---------------------------------------------------------------- Response

wire::HeaderList Response::WithExtra(wire::HeaderList headers,
                                     std::string_view content_type) const {
  if (!content_type.empty()) headers.emplace_back("Content-Type", std::string(content_type));
  headers.insert(headers.end(), extra_.begin(), extra_.end());
  return headers;
}

Result<std::string> Response::ReadBodyPiece() {
  if (body_ == nullptr) return FailedPreconditionError("the request's body was read already");
  return body_->ReadBodyPiece(wire::After(std::chrono::seconds(60)));
}

namespace {

constexpr size_t kCompressFrom = 2048;

bool Compressible(std::string_view content_type) {
  return content_type.rfind("application/json", 0) == 0 || content_type.rfind("text/", 0) == 0;
}

bool AcceptsGzip(std::string_view accept_encoding) {
  // "gzip", "gzip, deflate", "br;q=1.0, gzip;q=0.8"; "gzip;q=0" refuses it.
  size_t at = accept_encoding.find("gzip");
  if (at == std::string_view::npos) return false;
  std::string_view rest = accept_encoding.substr(at + 4);
  rest = rest.substr(0, rest.find(','));
  return rest.find("q=0") == std::string_view::npos || rest.find("q=0.") != std::string_view::npos;
}

// `text` gzip-compressed into *out; false when zlib fails.
bool Gzip(std::string_view text, std::string* out) {
  z_stream z{};
  if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return false;
  out->resize(deflateBound(&z, text.size()) + 32);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out->data());
  z.avail_out = static_cast<uInt>(out->size());
  const int r = deflate(&z, Z_FINISH);
  out->resize(z.total_out);
  deflateEnd(&z);
  return r == Z_STREAM_END;
}

}  // namespace

bool Response::Send(int status, std::string_view content_type, std::string_view body,
                    wire::HeaderList headers) {
  if (sent()) return false;
  sent_ = true;
  status_ = status;
  // Large JSON and text answers go gzip-compressed to clients that accept it
  // (a model list of 200 entries: 580 KB, about a tenth of that compressed).
  std::string compressed;
  if (body.size() >= kCompressFrom && Compressible(content_type) &&
      wire::FindHeader(headers, "Content-Encoding").empty() &&
      AcceptsGzip(request_->Header("Accept-Encoding")) && Gzip(body, &compressed)) {
    headers.emplace_back("Content-Encoding", "gzip");
    headers.emplace_back("Vary", "Accept-Encoding");
    body = compressed;
  }
  bytes_ += body.size();
  socket_->set_deadline(wire::After(kWriteTimeout));
  Status s = wire::WriteResponse(*socket_, status, WithExtra(std::move(headers), content_type),
                                 body, keep_alive(), request_->method == "HEAD");
  if (!s.ok()) gone_ = true;
  return s.ok();
}

bool Response::SendFile(int status, std::string_view content_type, int fd, uint64_t offset,
                        uint64_t length, wire::HeaderList headers) {
  if (sent()) return false;
  sent_ = true;
  status_ = status;
  socket_->set_deadline(wire::After(kWriteTimeout));
  Status s = wire::WriteResponseHead(*socket_, status, WithExtra(std::move(headers), content_type),
                                     length, keep_alive());
  if (s.ok() && request_->method != "HEAD" && length > 0) {
    s = socket_->SendFile(fd, offset, length, kWriteTimeout);
    if (s.ok()) bytes_ += length;
  }
  if (!s.ok()) gone_ = true;
  return s.ok();
}

bool Response::Begin(int status, std::string_view content_type, wire::HeaderList headers) {
  if (sent()) return false;
  status_ = status;
  headers.emplace_back("Cache-Control", "no-cache");
  headers.emplace_back("X-Accel-Buffering", "no");
  socket_->set_deadline(wire::After(kWriteTimeout));
  Status s = chunked_.Begin(status, WithExtra(std::move(headers), content_type), keep_alive());
  if (!s.ok()) gone_ = true;
  return s.ok();
}

bool Response::Write(std::string_view piece) {
  if (gone_) return false;
  bytes_ += piece.size();
  socket_->set_deadline(wire::After(kWriteTimeout));
  Status s = chunked_.Write(piece);
  if (!s.ok()) gone_ = true;
  return s.ok();
}

bool Response::Write(std::span<const std::string_view> pieces) {
  if (gone_) return false;
  for (std::string_view p : pieces) bytes_ += p.size();
  socket_->set_deadline(wire::After(kWriteTimeout));
  Status s = chunked_.Write(pieces);
  if (!s.ok()) gone_ = true;
  return s.ok();
}

void Response::End() {
  if (gone_ || !chunked_.begun() || chunked_.ended()) return;
  socket_->set_deadline(wire::After(kWriteTimeout));
  if (!chunked_.End().ok()) gone_ = true;
}

// ---------------------------------------------------------------- HttpServer

HttpServer::HttpServer(HttpServerOptions options, Handler handler)
    : options_(std::move(options)), handler_(std::move(handler)) {}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Start() {
  std::string host = options_.host == "localhost" ? "127.0.0.1" : options_.host;
  if (!host.empty() && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family = AF_INET;
  if (auto* a4 = reinterpret_cast<sockaddr_in*>(&ss);
      ::inet_pton(AF_INET, host.c_str(), &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons(options_.port);
    len = sizeof(sockaddr_in);
  } else if (auto* a6 = reinterpret_cast<sockaddr_in6*>(&ss);
             ::inet_pton(AF_INET6, host.c_str(), &a6->sin6_addr) == 1) {
    family = AF_INET6;
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(options_.port);
    len = sizeof(sockaddr_in6);
  } else {
    return InvalidArgumentError(fmt::format(
        "cannot listen on \"{}\": give an IP address (127.0.0.1, 0.0.0.0, ::1) or localhost",
        options_.host));
  }
  ::signal(SIGPIPE, SIG_IGN);
  int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return UnavailableError(fmt::format("socket: {}", std::strerror(errno)));
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    int e = errno;
    ::close(fd);
    return UnavailableError(
        fmt::format("cannot listen on {}:{}: {}", options_.host, options_.port, std::strerror(e)));
  }
  if (::listen(fd, 512) != 0) {
    int e = errno;
    ::close(fd);
    return UnavailableError(fmt::format("listen: {}", std::strerror(e)));
  }
  sockaddr_storage bound{};
  socklen_t blen = sizeof bound;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &blen);
  port_ = PeerOf(bound).port;
  listen_fd_ = fd;
  if (::pipe2(wake_, O_CLOEXEC) != 0) return UnavailableError("pipe failed");
  acceptor_ = std::thread([this] { AcceptLoop(); });
  return Status::Ok();
}

void HttpServer::AcceptLoop() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) return;
    if (stopping_.load() || fds[1].revents) return;
    if (!(fds[0].revents & POLLIN)) continue;
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    int fd =
        ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) continue;
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    Peer peer = PeerOf(ss);
    if (open_.load() >= options_.max_connections) {
      wire::Socket s(fd);
      s.set_deadline(wire::After(std::chrono::milliseconds(200)));
      (void)wire::WriteResponse(s, 503,
                                {{"Content-Type", "application/json"}, {"Retry-After", "1"}},
                                ErrorJson("server busy: too many open connections"), false);
      continue;
    }
    {
      std::lock_guard lock(mu_);
      fds_.push_back(fd);
    }
    ++open_;
    std::thread([this, fd, peer] { Serve(fd, peer); }).detach();
  }
}

void HttpServer::Serve(int fd, Peer peer) {
  {
    wire::Socket socket(fd);
    wire::RequestReader reader(&socket);
    // Uploads may be larger than other bodies: the reader's limit is the
    // larger one, the smaller is checked here for the others.
    wire::RequestReader::Limits limits{
        options_.max_header_bytes,
        options_.streams_body ? std::max(options_.max_body_bytes, options_.max_streamed_body_bytes)
                              : options_.max_body_bytes};
    const Status too_large = ResourceExhaustedError(
        fmt::format("request body larger than {} bytes", options_.max_body_bytes));
    bool first = true;
    while (!stopping_.load()) {
      socket.Watch(-1, &stopping_);
      auto header_deadline = wire::After(first ? options_.header_timeout : options_.idle_timeout);
      auto got = reader.ReadHead(limits, header_deadline);
      bool streamed = false;
      if (got.ok() && *got && options_.streams_body && options_.streams_body(**got)) {
        streamed = true;
      } else if (got.ok() && *got) {
        const auto body_deadline = wire::After(options_.body_timeout);
        std::string_view length = (**got).Header("Content-Length");
        if (!length.empty() && length.size() < 20 &&
            std::strtoull(std::string(length).c_str(), nullptr, 10) > options_.max_body_bytes) {
          got = too_large;
        }
        while (got.ok()) {
          auto piece = reader.ReadBodyPiece(body_deadline);
          if (!piece.ok()) {
            got = piece.status();
            break;
          }
          if (piece->empty()) break;
          (**got).body += *piece;
          if ((**got).body.size() > options_.max_body_bytes) got = too_large;
        }
      }
      socket.Watch(-1, nullptr);
      first = false;
      if (!got.ok()) {
        const Status& s = got.status();
        int code = 0;
        if (s.code() == StatusCode::kResourceExhausted) {
          code = s.message().find("header") != std::string::npos ? 431 : 413;
        } else if (s.code() == StatusCode::kInvalidArgument) {
          code = 400;
        } else if (s.code() == StatusCode::kUnavailable && s.message() == "timed out") {
          code = 408;
        }
        if (code != 0) {
          socket.set_deadline(wire::After(std::chrono::milliseconds(500)));
          (void)wire::WriteResponse(socket, code, {{"Content-Type", "application/json"}},
                                    ErrorJson(s.message()), false);
        }
        break;
      }
      if (!*got) break;  // closed between requests
      const wire::HttpRequest& request = **got;
      Response response(&socket, &request, &stopping_, streamed ? &reader : nullptr);
      handler_(request, peer, response);
      if (!response.sent()) {
        response.Send(500, "application/json", ErrorJson("the handler sent no answer"));
      }
      response.End();
      // A streamed body the handler did not read to its end: the next
      // request cannot be found in what follows.
      if (!response.keep_alive() || response.ClientGone() || !reader.body_done()) break;
    }
    std::lock_guard lock(mu_);
    std::erase(fds_, fd);
  }  // closes the socket
  --open_;
  cv_.notify_all();
}

void HttpServer::Stop(std::chrono::milliseconds grace) {
  if (listen_fd_ < 0) return;
  stopping_.store(true);
  if (wake_[1] >= 0) (void)!::write(wake_[1], "x", 1);
  if (acceptor_.joinable()) acceptor_.join();
  ::close(listen_fd_);
  listen_fd_ = -1;
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, grace, [&] { return open_.load() == 0; });
  for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
  cv_.wait_for(lock, std::chrono::seconds(1), [&] { return open_.load() == 0; });
  lock.unlock();
  for (int& w : wake_) {
    if (w >= 0) ::close(w);
    w = -1;
  }
}

}  // namespace hangar::server
