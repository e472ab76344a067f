#include "runtime/http_wire.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "core/status_matchers.h"

namespace hangar::runtime::wire {
namespace {

// Two connected sockets: the test writes raw bytes on one end.
struct Pair {
  Pair() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    a = Socket(fds[0]);
    b = Socket(fds[1]);
    a.set_deadline(After(std::chrono::seconds(5)));
    b.set_deadline(After(std::chrono::seconds(5)));
  }
  Socket a, b;
};

Deadline Soon() { return After(std::chrono::seconds(5)); }

TEST(HttpWireTest, PipelinedRequestsAreReadOneByOne) {
  Pair p;
  ASSERT_TRUE(
      p.a.WriteAll("POST /api/chat?x=1 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4\r\n\r\n"
                   "abcdGET /api/tags HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
          .ok());
  p.a.Close();
  RequestReader reader(&p.b);
  auto first = reader.Read({}, Soon(), Soon());
  ASSERT_TRUE(first.ok() && *first);
  EXPECT_EQ((*first)->method, "POST");
  EXPECT_EQ((*first)->Path(), "/api/chat");
  EXPECT_EQ((*first)->Query(), "x=1");
  EXPECT_EQ((*first)->body, "abcd");
  EXPECT_EQ((*first)->Header("host"), "localhost");
  auto second = reader.Read({}, Soon(), Soon());
  ASSERT_TRUE(second.ok() && *second);
  EXPECT_EQ((*second)->target, "/api/tags");
  EXPECT_FALSE((*second)->keep_alive);
  auto end = reader.Read({}, Soon(), Soon());
  ASSERT_TRUE(end.ok());
  EXPECT_FALSE(*end);  // closed between requests
}

TEST(HttpWireTest, LimitsAndMalformedRequests) {
  {
    Pair p;
    ASSERT_TRUE(p.a.WriteAll("POST / HTTP/1.1\r\nContent-Length: 2000\r\n\r\n").ok());
    RequestReader reader(&p.b);
    RequestReader::Limits limits;
    limits.body_bytes = 1000;
    auto r = reader.Read(limits, Soon(), Soon());
    EXPECT_THAT(r, StatusIs(StatusCode::kResourceExhausted));
    EXPECT_NE(r.status().message().find("body larger than 1000"), std::string::npos);
  }
  {
    Pair p;
    ASSERT_TRUE(
        p.a.WriteAll("GET / HTTP/1.1\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n").ok());
    RequestReader reader(&p.b);
    auto r = reader.Read({}, Soon(), Soon());
    EXPECT_THAT(r, StatusIs(StatusCode::kResourceExhausted));
    EXPECT_NE(r.status().message().find("header"), std::string::npos);
  }
  {
    Pair p;
    ASSERT_TRUE(p.a.WriteAll("BLAH\r\n\r\n").ok());
    RequestReader reader(&p.b);
    EXPECT_THAT(reader.Read({}, Soon(), Soon()), StatusIs(StatusCode::kInvalidArgument));
  }
  {
    Pair p;  // a header that never ends: the deadline
    ASSERT_TRUE(p.a.WriteAll("GET / HTTP/1.1\r\nHost: x").ok());
    RequestReader reader(&p.b);
    auto r = reader.Read({}, After(std::chrono::milliseconds(50)), Soon());
    EXPECT_THAT(r, StatusIs(StatusCode::kUnavailable));
    EXPECT_EQ(r.status().message(), "timed out");
  }
  {
    Pair p;  // a body cut short
    ASSERT_TRUE(p.a.WriteAll("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc").ok());
    p.a.Close();
    RequestReader reader(&p.b);
    EXPECT_THAT(reader.Read({}, Soon(), Soon()), StatusIs(StatusCode::kUnavailable));
  }
}

TEST(HttpWireTest, ChunkedResponsesAreReadPieceByPiece) {
  Pair p;
  std::thread writer([&] {
    ChunkedWriter w(&p.a);
    ASSERT_TRUE(w.Begin(200, {{"Content-Type", "application/x-ndjson"}}, true).ok());
    ASSERT_TRUE(w.Write("{\"a\":1}\n").ok());
    ASSERT_TRUE(w.Write("").ok());  // ignored
    ASSERT_TRUE(w.Write("{\"b\":2}\n").ok());
    ASSERT_TRUE(w.End().ok());
  });
  ResponseReader reader(&p.b);
  auto head = reader.ReadHead();
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->Header("content-type"), "application/x-ndjson");
  std::string body;
  for (;;) {
    auto piece = reader.ReadBodyPiece();
    ASSERT_TRUE(piece.ok());
    if (piece->empty()) break;
    body += *piece;
  }
  writer.join();
  EXPECT_EQ(body, "{\"a\":1}\n{\"b\":2}\n");
  EXPECT_TRUE(reader.done());
}

TEST(HttpWireTest, AResponseCutShortIsAnError) {
  Pair p;
  ASSERT_TRUE(
      p.a.WriteAll("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n").ok());
  p.a.Close();
  ResponseReader reader(&p.b);
  ASSERT_TRUE(reader.ReadHead().ok());
  auto piece = reader.ReadBodyPiece();
  ASSERT_TRUE(piece.ok());
  EXPECT_EQ(*piece, "hello");
  EXPECT_THAT(reader.ReadBodyPiece(), StatusIs(StatusCode::kUnavailable));
}

TEST(HttpWireTest, AWaitEndsWhenTheWatchedPeerLeavesOrTheServerStops) {
  {
    Pair runner;  // nothing ever arrives from the "runner"
    Pair client;
    runner.b.Watch(client.b.fd(), nullptr);
    std::thread leave([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
      client.a.Close();
    });
    char buf[16];
    auto r = runner.b.ReadSome(buf);
    leave.join();
    EXPECT_THAT(r, StatusIs(StatusCode::kCancelled));
    EXPECT_TRUE(client.b.PeerClosed());
  }
  {
    Pair runner;
    std::atomic<bool> stop{false};
    runner.b.Watch(-1, &stop);
    std::thread stopper([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
      stop = true;
    });
    char buf[16];
    auto r = runner.b.ReadSome(buf);
    stopper.join();
    EXPECT_THAT(r, StatusIs(StatusCode::kCancelled));
  }
  Pair open;
  EXPECT_FALSE(open.b.PeerClosed());
  ASSERT_TRUE(open.a.WriteAll("unread bytes").ok());
  EXPECT_FALSE(open.b.PeerClosed());  // data waiting is not a hang-up
}

TEST(HttpWireTest, RequestsWrittenCarryLengthAndHost) {
  Pair p;
  HttpRequest out{"POST", "/v1/chat/completions", {{"Authorization", "Bearer k"}}, "{}", false};
  ASSERT_TRUE(WriteRequest(p.a, out).ok());
  RequestReader reader(&p.b);
  auto in = reader.Read({}, Soon(), Soon());
  ASSERT_TRUE(in.ok() && *in);
  EXPECT_EQ((*in)->Header("Content-Length"), "2");
  EXPECT_EQ((*in)->Header("Host"), "localhost");
  EXPECT_EQ((*in)->Header("Authorization"), "Bearer k");
  EXPECT_FALSE((*in)->keep_alive);
}

}  // namespace
}  // namespace hangar::runtime::wire
