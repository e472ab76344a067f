// HttpServer: the listening side of `hangar serve`: accepts TCP connections,
// reads requests (Boost.Beast, through runtime/http_wire.h) and hands each to
// the handler on the connection's own thread, so a long stream never holds
// up another client. Limits against slow or hostile clients: header and body
// deadlines, an idle keep-alive deadline, a body size cap and a cap on open
// connections (503 beyond it).
//
// Thread-safe: Start/Stop from one thread; the handler is called from many.
#ifndef HANGAR_SERVER_HTTP_SERVER_H_
#define HANGAR_SERVER_HTTP_SERVER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <thread>

#include "core/status.h"
#include "runtime/http_wire.h"

namespace hangar::server {

namespace wire = runtime::wire;

// What a handler writes its answer with.
class Response {
 public:
  Response(wire::Socket* socket, const wire::HttpRequest* request,
           const std::atomic<bool>* stopping, wire::RequestReader* body = nullptr)
      : socket_(socket), request_(request), stopping_(stopping), chunked_(socket), body_(body) {}

  // For a request whose body streams (HttpServerOptions::streams_body): the
  // next piece of it, empty at its end. Errors of RequestReader::ReadBodyPiece;
  // FailedPrecondition for a request whose body was read whole.
  Result<std::string> ReadBodyPiece();

  // Headers added to every answer (CORS, security headers).
  void AddHeader(std::string name, std::string value) {
    extra_.emplace_back(std::move(name), std::move(value));
  }
  // A whole answer. Returns false when the client has gone.
  bool Send(int status, std::string_view content_type, std::string_view body,
            wire::HeaderList headers = {});
  // An answer whose body is `length` bytes of the open file `fd` from
  // `offset`, sent by the kernel from the page cache (sendfile: no copy and
  // no buffer in this process, whatever the file's size); no body for a HEAD
  // request. Returns false when the client has gone or the file ended early
  // (the connection is then closed: the client sees a short body).
  bool SendFile(int status, std::string_view content_type, int fd, uint64_t offset,
                uint64_t length, wire::HeaderList headers = {});
  // A streamed answer: Begin once, then Write pieces, then End.
  bool Begin(int status, std::string_view content_type, wire::HeaderList headers = {});
  bool Write(std::string_view piece);
  // One chunk made of `pieces` (no copy into one string).
  bool Write(std::span<const std::string_view> pieces);
  void End();

  bool sent() const { return sent_ || chunked_.begun(); }
  bool streaming() const { return chunked_.begun(); }
  int status() const { return status_; }
  uint64_t bytes() const { return bytes_; }
  // Whether the client closed its connection (checked without waiting).
  bool ClientGone() const { return gone_ || socket_->PeerClosed(); }
  // The client's socket, to watch while waiting on something else.
  int client_fd() const { return socket_->fd(); }
  // True once the server is stopping: streams end with a final event.
  const std::atomic<bool>* stopping() const { return stopping_; }
  bool keep_alive() const { return keep_alive_ && request_->keep_alive; }
  void set_keep_alive(bool k) { keep_alive_ = k; }

 private:
  wire::HeaderList WithExtra(wire::HeaderList headers, std::string_view content_type) const;

  wire::Socket* socket_;
  const wire::HttpRequest* request_;
  const std::atomic<bool>* stopping_;
  wire::ChunkedWriter chunked_;
  wire::HeaderList extra_;
  wire::RequestReader* body_;
  bool sent_ = false;
  bool gone_ = false;
  bool keep_alive_ = true;
  int status_ = 0;
  uint64_t bytes_ = 0;
};

struct Peer {
  std::string address;  // "127.0.0.1"
  uint16_t port = 0;
  bool loopback = false;
};

using Handler = std::function<void(const wire::HttpRequest&, const Peer&, Response&)>;

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: any free port (port() says which)
  uint64_t max_body_bytes = 64ull << 20;
  size_t max_header_bytes = 16 * 1024;
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::milliseconds body_timeout{60000};
  std::chrono::milliseconds idle_timeout{30000};
  int max_connections = 512;
  // Requests whose body the handler reads as it comes (uploads), up to
  // max_streamed_body_bytes; others are read whole, up to max_body_bytes.
  std::function<bool(const wire::HttpRequest& head)> streams_body;
  uint64_t max_streamed_body_bytes = 1ull << 42;
};

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, Handler handler);
  ~HttpServer();  // Stop()

  // Binds and starts accepting (and ignores SIGPIPE in the process: a
  // client gone during Response::SendFile is an error, not the process's
  // end). Errors: Unavailable (address in use, bad
  // host), InvalidArgument (host not an IP address or "localhost").
  Status Start();
  uint16_t port() const { return port_; }
  // Stops accepting, tells the handlers (Response::stopping), waits up to
  // `grace` for the connections to end, then closes the rest.
  void Stop(std::chrono::milliseconds grace = std::chrono::milliseconds(3000));
  int open_connections() const { return open_.load(); }

 private:
  void AcceptLoop();
  void Serve(int fd, Peer peer);

  const HttpServerOptions options_;
  const Handler handler_;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  uint16_t port_ = 0;
  std::thread acceptor_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> open_{0};
  std::mutex mu_;  // guards fds_
  std::condition_variable cv_;
  std::vector<int> fds_;  // open connections, shut down at the end of Stop
};

}  // namespace hangar::server

#endif  // HANGAR_SERVER_HTTP_SERVER_H_
