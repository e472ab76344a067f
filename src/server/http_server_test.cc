#include "server/http_server.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "fetch/curl_http_client.h"

namespace hangar::server {
namespace {

using namespace std::chrono_literals;

// A server that answers every request with "ok" and waits `wait` for a
// request's header (the first, and each next one on a connection).
std::unique_ptr<HttpServer> StartOkServer(std::chrono::milliseconds wait) {
  HttpServerOptions options;
  options.header_timeout = wait;
  options.idle_timeout = wait;
  auto server = std::make_unique<HttpServer>(
      options, [](const wire::HttpRequest&, const Peer&, Response& res) {
        res.Send(200, "text/plain", "ok");
      });
  EXPECT_TRUE(server->Start().ok());
  return server;
}

int Connect(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  return fd;
}

// Everything the server sends until it closes (or 5 s pass).
std::string ReadUntilClosed(int fd) {
  std::string got;
  char buf[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) break;
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  return got;
}

TEST(HttpServerTest, AnIdleKeepAliveConnectionIsClosedWithoutAnAnswer) {
  auto server = StartOkServer(100ms);
  int fd = Connect(server->port());
  const std::string request = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
  // The answer, then nothing more: no 408 that a client sending its next
  // request on this connection would take for that request's answer.
  std::string got = ReadUntilClosed(fd);
  EXPECT_THAT(got, testing::StartsWith("HTTP/1.1 200"));
  EXPECT_EQ(got.find("408"), std::string::npos) << got;
  ::close(fd);

  // A request begun and not finished still gets its 408.
  fd = Connect(server->port());
  const std::string partial = "GET /a HTTP/1.1\r\nHo";
  ASSERT_EQ(::write(fd, partial.data(), partial.size()), static_cast<ssize_t>(partial.size()));
  EXPECT_THAT(ReadUntilClosed(fd), testing::StartsWith("HTTP/1.1 408"));
  ::close(fd);
}

TEST(HttpServerTest, AClientReusingAConnectionAfterTheIdleTimeoutGetsItsAnswer) {
  // libcurl keeps the connection of the first request and sends the second
  // on it: the server's idle timeout passes in between.
  auto server = StartOkServer(100ms);
  CurlHttpClient client;
  HttpRequest req;
  req.url = "http://127.0.0.1:" + std::to_string(server->port()) + "/status";
  for (int i = 0; i < 3; ++i) {
    auto r = client.Fetch(req);
    ASSERT_TRUE(r.ok()) << "request " << i << ": " << r.status().message();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "ok");
    std::this_thread::sleep_for(300ms);
  }
}

}  // namespace
}  // namespace hangar::server
