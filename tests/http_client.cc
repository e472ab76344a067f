#include "http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

namespace hangar::testing {

namespace wire = runtime::wire;

wire::Socket ConnectLoopback(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return wire::Socket();
  }
  return wire::Socket(fd);
}

HttpReply HttpCall(uint16_t port, std::string method, std::string target, std::string body,
                   wire::HeaderList headers,
                   const std::function<bool(const std::string&)>& on_line) {
  HttpReply r;
  wire::Socket s = ConnectLoopback(port);
  if (!s.is_open()) return r;
  s.set_deadline(wire::After(std::chrono::seconds(120)));
  bool has_host = false;
  for (auto& [k, v] : headers) has_host |= (k == "Host");
  if (!has_host) headers.emplace_back("Host", "127.0.0.1");
  if (!body.empty() && runtime::wire::FindHeader(headers, "Content-Type").empty()) {
    headers.emplace_back("Content-Type", "application/json");
  }
  wire::HttpRequest req{std::move(method), std::move(target), std::move(headers), std::move(body),
                        false};
  if (!wire::WriteRequest(s, req).ok()) return r;
  wire::ResponseReader reader(&s);
  auto head = reader.ReadHead();
  if (!head.ok()) return r;
  r.status = head->status;
  r.headers = head->headers;
  if (req.method == "HEAD") return r;
  if (!on_line) {
    r.body = reader.ReadBody(256 << 20).value_or("");
    return r;
  }
  std::string pending;
  for (;;) {
    auto piece = reader.ReadBodyPiece();
    if (!piece.ok() || piece->empty()) return r;
    r.body += *piece;
    pending += *piece;
    for (size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
      std::string line = pending.substr(0, nl);
      pending.erase(0, nl + 1);
      if (!on_line(line)) return r;
    }
  }
}

}  // namespace hangar::testing
