// http_wire: HTTP/1.1 messages over a socket, for `hangar serve`'s front and
// its connections to runner processes. Boost.Beast parses and serialises
// every message; this file moves the bytes, with deadlines, and watches a
// second party so that a wait ends at once when that party goes away (the
// client whose request a runner connection serves, or a server shutting
// down).
//
// Thread-safety: a Socket and the readers/writers over it belong to one
// thread at a time. PeerClosed() may be called from any thread.
#ifndef HANGAR_RUNTIME_HTTP_WIRE_H_
#define HANGAR_RUNTIME_HTTP_WIRE_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace hangar::runtime::wire {

using Deadline = std::chrono::steady_clock::time_point;
inline Deadline NoDeadline() { return Deadline::max(); }
inline Deadline After(std::chrono::milliseconds d) { return std::chrono::steady_clock::now() + d; }

using HeaderList = std::vector<std::pair<std::string, std::string>>;
// The value of header `name` (case-insensitive), or empty.
std::string_view FindHeader(const HeaderList& headers, std::string_view name);

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // "/api/chat?x=1"
  HeaderList headers;
  std::string body;
  bool keep_alive = true;
  std::string_view Header(std::string_view name) const { return FindHeader(headers, name); }
  // The target without its query string, and the query string alone.
  std::string_view Path() const;
  std::string_view Query() const;
};

struct HttpResponseHead {
  int status = 0;
  HeaderList headers;
  bool keep_alive = true;
  std::string_view Header(std::string_view name) const { return FindHeader(headers, name); }
};

// A connected stream socket (TCP or Unix), closed by the destructor.
class Socket {
 public:
  Socket() = default;
  // Takes `fd` (made non-blocking: every wait goes through Wait's poll).
  explicit Socket(int fd);
  ~Socket();
  Socket(Socket&& other) noexcept;
  Socket& operator=(Socket&& other) noexcept;
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  // Unavailable when nothing listens at `path` or the deadline passes.
  static Result<Socket> ConnectUnix(const std::filesystem::path& path, Deadline deadline);

  int fd() const { return fd_; }
  bool is_open() const { return fd_ >= 0; }
  void Close();

  // Every read and write after this fails with Unavailable ("timed out")
  // once `deadline` has passed.
  void set_deadline(Deadline deadline) { deadline_ = deadline; }
  // Waits also end, with Cancelled, when `peer_fd`'s other end has closed
  // (POLLRDHUP) or `stop` becomes true (checked every 50 ms).
  void Watch(int peer_fd, const std::atomic<bool>* stop) {
    watch_fd_ = peer_fd;
    stop_ = stop;
  }

  // Reads what is there (at least one byte), or 0 at end of stream.
  // Errors: Unavailable (timed out, reset), Cancelled (the watched party).
  Result<size_t> ReadSome(std::span<char> out);
  // Writes all of `data`. Errors as ReadSome; a peer that has gone is
  // Unavailable ("connection closed by the peer").
  Status WriteAll(std::string_view data);
  // Writes all of `pieces` with as few system calls as the kernel allows
  // (sendmsg with one buffer per piece). Errors as WriteAll.
  Status WriteAll(std::span<const std::string_view> pieces);
  // Writes `length` bytes of the open file `file_fd` from `offset`, straight
  // from the page cache (sendfile): no copy through user space. Each write
  // that moves bytes pushes the deadline `stall` ahead, so a long transfer
  // ends only when it stops moving. Errors as WriteAll; DataLoss when the
  // file ends before `length` bytes (it was truncated meanwhile).
  Status SendFile(int file_fd, uint64_t offset, uint64_t length, std::chrono::milliseconds stall);
  // Without waiting: whether the other end has closed or reset the
  // connection. Bytes it sent and nobody read yet do not count.
  bool PeerClosed() const;
  // Whether `fd`'s other end has closed or reset the connection.
  static bool PeerClosed(int fd);

 private:
  // OK when `events` are ready on fd_; see ReadSome for the errors.
  Status Wait(short events);
  // After a write system call `call` failed (errno): OK to try again (it was
  // interrupted, or the socket takes more now), else why the write failed.
  Status AfterWriteError(std::string_view call);

  int fd_ = -1;
  Deadline deadline_ = NoDeadline();
  int watch_fd_ = -1;
  const std::atomic<bool>* stop_ = nullptr;
};

// Reads requests from a connection (server side), keeping bytes that belong
// to the next request.
class RequestReader {
 public:
  struct Limits {
    size_t header_bytes = 16 * 1024;
    uint64_t body_bytes = 32ull << 20;
  };
  explicit RequestReader(Socket* socket);
  ~RequestReader();

  // The next request; nullopt when the client closed the connection between
  // requests, or sent nothing of one by `header_deadline` (an idle
  // connection, to be closed without an answer). The header must arrive by
  // `header_deadline`, the body by
  // `body_deadline`. Errors: InvalidArgument (malformed: answer 400),
  // ResourceExhausted (header or body too large: 431/413; the message says
  // which), Unavailable (timed out: 408, or reset), Cancelled (watch).
  Result<std::optional<HttpRequest>> Read(const Limits& limits, Deadline header_deadline,
                                          Deadline body_deadline);

  // The same in two steps, for a body read as it comes (an upload): the
  // request without its body (errors as Read; limits.body_bytes applies to
  // what ReadBodyPiece returns), then the body piece by piece.
  Result<std::optional<HttpRequest>> ReadHead(const Limits& limits, Deadline header_deadline);
  // The next piece of the body; empty once it is complete. Unavailable for
  // a body cut short or a deadline passed, ResourceExhausted beyond the limit.
  Result<std::string> ReadBodyPiece(Deadline deadline);
  // Whether the current request's body has been read to its end.
  bool body_done() const;

 private:
  struct State;
  Socket* socket_;
  std::unique_ptr<State> state_;
};

// Writes a whole response with a Content-Length (a HEAD request's response
// has no body). Errors of Socket::WriteAll.
Status WriteResponse(Socket& socket, int status, const HeaderList& headers, std::string_view body,
                     bool keep_alive, bool head = false);

// Writes a response's head alone, announcing `content_length` body bytes
// that the caller sends next (Socket::SendFile). Errors of Socket::WriteAll.
Status WriteResponseHead(Socket& socket, int status, const HeaderList& headers,
                         uint64_t content_length, bool keep_alive);

// A response whose body is sent in pieces as they come (chunked transfer).
class ChunkedWriter {
 public:
  explicit ChunkedWriter(Socket* socket) : socket_(socket) {}
  Status Begin(int status, const HeaderList& headers, bool keep_alive);
  // An empty piece is ignored (a zero-length chunk would end the body).
  Status Write(std::string_view piece);
  // One chunk holding `pieces` one after the other.
  Status Write(std::span<const std::string_view> pieces);
  Status End();
  bool begun() const { return begun_; }
  bool ended() const { return ended_; }

 private:
  Socket* socket_;
  bool begun_ = false;
  bool ended_ = false;
};

// Sends a request (client side) with a Content-Length and a Host header.
Status WriteRequest(Socket& socket, const HttpRequest& request);

// Reads one response (client side): the head, then its body in pieces.
class ResponseReader {
 public:
  explicit ResponseReader(Socket* socket);
  ~ResponseReader();
  // Errors: Unavailable (closed before a whole head, timed out), Cancelled,
  // DataLoss (malformed).
  Result<HttpResponseHead> ReadHead(size_t header_limit = 64 * 1024);
  // The next piece of the body (chunked encoding removed); empty once the
  // body is complete. Errors as ReadHead; a body cut short is Unavailable.
  Result<std::string> ReadBodyPiece();
  // The rest of the body, at most `limit` bytes (DataLoss beyond).
  Result<std::string> ReadBody(uint64_t limit);
  bool done() const;

 private:
  struct State;
  Socket* socket_;
  std::unique_ptr<State> state_;
};

// "200 OK" style reason phrase for `status`.
std::string_view StatusText(int status);

}  // namespace hangar::runtime::wire

#endif  // HANGAR_RUNTIME_HTTP_WIRE_H_
