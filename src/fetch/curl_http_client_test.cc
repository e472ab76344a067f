// CurlHttpClient against a real server on 127.0.0.1 (TestHttpServer).
#include "fetch/curl_http_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "core/status_matchers.h"
#include "fetch/line_splitter.h"
#include "fetch/testing/test_http_server.h"

namespace hangar {
namespace {

using testing::Fault;
using testing::FileOptions;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::TestHttpServer;
using testing::TestRequest;
using testing::TestResponse;

std::string Pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7 + i / 251) & 0xff);
  return s;
}

HttpRequest Get(std::string url) {
  HttpRequest r;
  r.url = std::move(url);
  return r;
}

class CurlHttpClientTest : public ::testing::Test {
 protected:
  TestHttpServer server_;
  CurlHttpClient client_;
};

TEST_F(CurlHttpClientTest, FetchesWholeBodyWithHeaders) {
  const std::string content = Pattern(300'000);
  server_.AddFile("/f.bin", content);
  auto r = client_.Fetch(Get(server_.Url("/f.bin")));
  ASSERT_OK(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, content);
  EXPECT_EQ(r->ContentLength(), content.size());
  EXPECT_EQ(r->headers.Get("accept-ranges"), "bytes");
  EXPECT_EQ(r->url, server_.Url("/f.bin"));
  EXPECT_TRUE(r->redirects.empty());
}

TEST_F(CurlHttpClientTest, HeadHasHeadersAndNoBody) {
  server_.AddFile("/f.bin", Pattern(1234));
  HttpRequest req = Get(server_.Url("/f.bin"));
  req.method = HttpMethod::kHead;
  int responses = 0;
  HttpStreamHandler h;
  h.on_response = [&](const HttpResponse& r) {
    ++responses;
    EXPECT_EQ(r.ContentLength(), 1234u);
    return Status::Ok();
  };
  h.on_body = [](std::string_view) -> Status { return InternalError("HEAD has no body"); };
  auto r = client_.Stream(req, h);
  ASSERT_OK(r);
  EXPECT_EQ(responses, 1);
  EXPECT_EQ(server_.Requests().back().method, "HEAD");
}

TEST_F(CurlHttpClientTest, RangeGives206AndThatSlice) {
  const std::string content = Pattern(10'000);
  server_.AddFile("/f.bin", content);
  HttpRequest req = Get(server_.Url("/f.bin"));
  req.range = ByteRange{1000, 1999};
  auto r = client_.Fetch(req);
  ASSERT_OK(r);
  EXPECT_EQ(r->status, 206);
  EXPECT_EQ(r->body, content.substr(1000, 1000));
  EXPECT_EQ(r->headers.Get("Content-Range"), "bytes 1000-1999/10000");
  req.range = ByteRange{9000, std::nullopt};
  EXPECT_EQ(client_.Fetch(req)->body, content.substr(9000));
  req.range = ByteRange{10'000, std::nullopt};
  EXPECT_THAT(client_.Fetch(req), StatusIs(StatusCode::kFailedPrecondition));
}

TEST_F(CurlHttpClientTest, PostSendsBodyAndContentType) {
  server_.Route("POST", "/api/echo", [](const TestRequest& req, TestResponse& res) {
    res.SetJson(200, "{\"got\":\"" + req.body + "\",\"type\":\"" +
                         req.headers.Get("Content-Type").value_or("") + "\"}");
  });
  HttpRequest req = Get(server_.Url("/api/echo"));
  req.method = HttpMethod::kPost;
  req.body = std::string(5000, 'x');  // large enough that curl would ask for 100-continue
  req.content_type = "application/json";
  auto r = client_.Fetch(req);
  ASSERT_OK(r);
  EXPECT_EQ(r->body, "{\"got\":\"" + req.body + "\",\"type\":\"application/json\"}");
  EXPECT_FALSE(server_.Requests().back().headers.Has("Expect"));
}

TEST_F(CurlHttpClientTest, DeleteAndPutWithBodies) {
  server_.Route("*", "/api/thing", [](const TestRequest& req, TestResponse& res) {
    res.SetText(200, req.method + ":" + req.body);
  });
  HttpRequest req = Get(server_.Url("/api/thing"));
  req.method = HttpMethod::kDelete;
  req.body = "{\"model\":\"x\"}";
  EXPECT_EQ(client_.Fetch(req)->body, "DELETE:{\"model\":\"x\"}");
  req.method = HttpMethod::kPut;
  req.body.clear();
  EXPECT_EQ(client_.Fetch(req)->body, "PUT:");
}

TEST_F(CurlHttpClientTest, HttpErrorsBecomeStatusCodesNamingTheUrl) {
  FileOptions private_file;
  private_file.bearer_token = "tok";
  server_.AddFile("/private", "secret", private_file);
  server_.AddFile("/busy", "x");
  server_.AddFault("/busy", Fault::Status(503, "7"));
  server_.Route("GET", "/bad", [](const TestRequest&, TestResponse& res) {
    res.SetText(400, "missing field \"name\"\nmore");
  });
  auto missing = client_.Fetch(Get(server_.Url("/nope?token=abc")));
  EXPECT_THAT(missing, StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(missing, StatusHasMessage(HasSubstr(server_.Url("/nope?..."))));
  EXPECT_THAT(missing, StatusHasMessage(Not(HasSubstr("abc"))));

  HttpRequest req = Get(server_.Url("/private"));
  req.headers.Add("Authorization", "Bearer wrong-token");
  auto denied = client_.Fetch(req);
  EXPECT_THAT(denied, StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_THAT(denied, StatusHasMessage(HasSubstr("401")));
  EXPECT_THAT(denied, StatusHasMessage(Not(HasSubstr("wrong-token"))));
  req.headers.Set("Authorization", "Bearer tok");
  EXPECT_EQ(client_.Fetch(req)->body, "secret");

  auto busy = client_.Fetch(Get(server_.Url("/busy")));
  EXPECT_THAT(busy, StatusIs(StatusCode::kUnavailable));
  EXPECT_THAT(busy, StatusHasMessage(HasSubstr("retry after 7 s")));

  auto bad = client_.Fetch(Get(server_.Url("/bad")));
  EXPECT_THAT(bad, StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(bad, StatusHasMessage(HasSubstr("missing field \"name\"")));
  EXPECT_THAT(bad, StatusHasMessage(Not(HasSubstr("more"))));
}

TEST_F(CurlHttpClientTest, ErrorsAsResponsesKeepHeadersAndRetryAfter) {
  server_.Route("GET", "/org/repo/resolve/main/x", [](const TestRequest&, TestResponse& res) {
    res.headers.Add("X-Error-Code", "EntryNotFound");
    res.SetText(404, "Entry not found");
  });
  server_.AddFile("/busy", "x");
  server_.AddFault("/busy", Fault::Status(429, "Sun, 06 Nov 2095 08:49:37 GMT"));
  HttpRequest req = Get(server_.Url("/org/repo/resolve/main/x"));
  req.errors = HttpErrorMode::kResponse;
  auto r = client_.Fetch(req);
  ASSERT_OK(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->headers.Get("X-Error-Code"), "EntryNotFound");
  EXPECT_EQ(r->body, "Entry not found");
  Status s = HttpErrorStatus(*r);
  EXPECT_THAT(s, StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(s, StatusHasMessage(HasSubstr("EntryNotFound")));

  req.url = server_.Url("/busy");
  r = client_.Fetch(req);
  ASSERT_OK(r);
  EXPECT_EQ(r->status, 429);
  ASSERT_TRUE(r->retry_after_seconds.has_value());
  EXPECT_GT(*r->retry_after_seconds, 365LL * 86400 * 50);
}

TEST_F(CurlHttpClientTest, StatusMapping) {
  const struct {
    int http;
    StatusCode code;
  } cases[] = {{200, StatusCode::kOk},
               {302, StatusCode::kOk},
               {400, StatusCode::kInvalidArgument},
               {401, StatusCode::kFailedPrecondition},
               {403, StatusCode::kFailedPrecondition},
               {404, StatusCode::kNotFound},
               {410, StatusCode::kNotFound},
               {416, StatusCode::kFailedPrecondition},
               {408, StatusCode::kUnavailable},
               {429, StatusCode::kUnavailable},
               {500, StatusCode::kUnavailable},
               {503, StatusCode::kUnavailable},
               {418, StatusCode::kInvalidArgument}};
  for (const auto& c : cases) EXPECT_EQ(StatusCodeForHttp(c.http), c.code) << c.http;
}

TEST_F(CurlHttpClientTest, RedirectsKeepEveryHopsHeaders) {
  TestHttpServer cdn("localhost");
  const std::string content = Pattern(50'000);
  cdn.AddFile("/blobs/abc", content);
  server_.Route("GET", "/org/repo/resolve/main/model.gguf",
                [&](const TestRequest&, TestResponse& res) {
                  res.SetRedirect("/api/resolve-cache/abc", 307);
                  res.headers.Add("X-Repo-Commit", "c0ffee");
                });
  server_.Route("GET", "/api/resolve-cache/abc", [&](const TestRequest&, TestResponse& res) {
    res.SetRedirect(cdn.Url("/blobs/abc?X-Amz-Signature=s3cr3t"));
    res.headers.Add("X-Linked-Etag", "\"abc\"");
    res.headers.Add("X-Linked-Size", "50000");
  });
  auto r = client_.Fetch(Get(server_.Url("/org/repo/resolve/main/model.gguf")));
  ASSERT_OK(r);
  EXPECT_EQ(r->body, content);
  EXPECT_EQ(r->url, cdn.Url("/blobs/abc?X-Amz-Signature=s3cr3t"));
  ASSERT_EQ(r->redirects.size(), 2u);
  EXPECT_EQ(r->redirects[0].status, 307);
  EXPECT_EQ(r->redirects[0].url, server_.Url("/org/repo/resolve/main/model.gguf"));
  EXPECT_EQ(r->redirects[0].headers.Get("X-Repo-Commit"), "c0ffee");
  EXPECT_EQ(r->redirects[1].status, 302);
  EXPECT_EQ(r->redirects[1].headers.Get("X-Linked-Etag"), "\"abc\"");
  EXPECT_EQ(r->FindHeader("X-Linked-Size"), "50000");
  EXPECT_EQ(r->FindHeader("X-Repo-Commit"), "c0ffee");
  EXPECT_FALSE(r->headers.Has("X-Repo-Commit"));  // the CDN's own answer lacks it
}

TEST_F(CurlHttpClientTest, AuthorizationNeverLeavesTheFirstOrigin) {
  TestHttpServer cdn("localhost");  // another host name and port
  cdn.AddFile("/blob", "bytes");
  server_.AddFile("/same-origin-target", "same");
  server_.Route("GET", "/to-cdn",
                [&](const TestRequest&, TestResponse& res) { res.SetRedirect(cdn.Url("/blob")); });
  server_.Route("GET", "/to-self", [&](const TestRequest&, TestResponse& res) {
    res.SetRedirect("/same-origin-target");
  });
  // A chain that leaves and comes back: once dropped, credentials stay dropped.
  cdn.Route("GET", "/back", [&](const TestRequest&, TestResponse& res) {
    res.SetRedirect(server_.Url("/same-origin-target"));
  });
  server_.Route("GET", "/away-and-back",
                [&](const TestRequest&, TestResponse& res) { res.SetRedirect(cdn.Url("/back")); });
  HttpRequest req = Get(server_.Url("/to-cdn"));
  req.headers.Add("Authorization", "Bearer hf_secret");
  req.headers.Add("Cookie", "session=1");
  req.headers.Add("X-Other", "kept");
  ASSERT_EQ(client_.Fetch(req)->body, "bytes");
  TestRequest at_cdn = cdn.Requests().back();
  EXPECT_FALSE(at_cdn.headers.Has("Authorization"));
  EXPECT_FALSE(at_cdn.headers.Has("Cookie"));
  EXPECT_EQ(at_cdn.headers.Get("X-Other"), "kept");
  EXPECT_EQ(server_.Requests().back().headers.Get("Authorization"), "Bearer hf_secret");

  req.url = server_.Url("/to-self");
  ASSERT_EQ(client_.Fetch(req)->body, "same");
  EXPECT_EQ(server_.Requests().back().path, "/same-origin-target");
  EXPECT_EQ(server_.Requests().back().headers.Get("Authorization"), "Bearer hf_secret");

  req.url = server_.Url("/away-and-back");
  ASSERT_EQ(client_.Fetch(req)->body, "same");
  EXPECT_EQ(server_.Requests().back().path, "/same-origin-target");
  EXPECT_FALSE(server_.Requests().back().headers.Has("Authorization"));
}

TEST_F(CurlHttpClientTest, RedirectLimitsAndNoFollow) {
  server_.Route("GET", "/loop",
                [](const TestRequest&, TestResponse& res) { res.SetRedirect("/loop"); });
  HttpRequest req = Get(server_.Url("/loop"));
  req.max_redirects = 3;
  auto r = client_.Fetch(req);
  EXPECT_THAT(r, StatusIs(StatusCode::kUnavailable));
  EXPECT_THAT(r, StatusHasMessage(HasSubstr("too many redirects")));
  EXPECT_EQ(server_.RequestCount("/loop"), 4);
  req.max_redirects = 0;
  r = client_.Fetch(req);
  ASSERT_OK(r);
  EXPECT_EQ(r->status, 302);
  EXPECT_EQ(r->headers.Get("Location"), "/loop");
}

TEST_F(CurlHttpClientTest, SeeOtherTurnsPostIntoGet) {
  server_.Route("POST", "/submit",
                [](const TestRequest&, TestResponse& res) { res.SetRedirect("/result", 303); });
  server_.Route("GET", "/result", [](const TestRequest& req, TestResponse& res) {
    res.SetText(200, req.method + " " + std::to_string(req.body.size()));
  });
  HttpRequest req = Get(server_.Url("/submit"));
  req.method = HttpMethod::kPost;
  req.body = "payload";
  EXPECT_EQ(client_.Fetch(req)->body, "GET 0");
}

TEST_F(CurlHttpClientTest, BodyCutShortIsUnavailable) {
  server_.AddFile("/f.bin", Pattern(200'000));
  server_.AddFault("/f.bin", Fault::CutAt(70'000));
  uint64_t got = 0;
  HttpStreamHandler h;
  h.on_body = [&](std::string_view d) {
    got += d.size();
    return Status::Ok();
  };
  auto r = client_.Stream(Get(server_.Url("/f.bin")), h);
  EXPECT_THAT(r, StatusIs(StatusCode::kUnavailable));
  EXPECT_THAT(r, StatusHasMessage(HasSubstr("closed after 70000")));
  EXPECT_EQ(got, 70'000u);
  // The fault was used up: the next request gets everything.
  EXPECT_EQ(client_.Fetch(Get(server_.Url("/f.bin")))->body.size(), 200'000u);
}

TEST_F(CurlHttpClientTest, StallIsUnavailable) {
  server_.AddFile("/f.bin", Pattern(100'000));
  server_.AddFault("/f.bin", Fault::StallAt(10'000));
  HttpRequest req = Get(server_.Url("/f.bin"));
  req.stall_timeout_ms = 300;
  auto r = client_.Fetch(req);
  EXPECT_THAT(r, StatusIs(StatusCode::kUnavailable));
  EXPECT_THAT(r, StatusHasMessage(HasSubstr("stalled")));
}

TEST_F(CurlHttpClientTest, TotalTimeoutIsUnavailable) {
  server_.AddFile("/f.bin", Pattern(100'000));
  server_.AddFault("/f.bin", Fault::StallAt(1'000));
  HttpRequest req = Get(server_.Url("/f.bin"));
  req.stall_timeout_ms = 0;
  req.timeout_ms = 200;
  auto r = client_.Fetch(req);
  EXPECT_THAT(r, StatusIs(StatusCode::kUnavailable));
  EXPECT_THAT(r, StatusHasMessage(HasSubstr("timed out")));
}

TEST_F(CurlHttpClientTest, CancelPredicateStopsAStalledTransfer) {
  server_.AddFile("/f.bin", Pattern(100'000));
  server_.AddFault("/f.bin", Fault::StallAt(5'000));
  std::atomic<bool> got_data{false};
  HttpRequest req = Get(server_.Url("/f.bin"));
  req.stall_timeout_ms = 0;  // would wait forever without the predicate
  req.cancelled = [&] { return got_data.load(); };
  HttpStreamHandler h;
  h.on_body = [&](std::string_view) {
    got_data = true;
    return Status::Ok();
  };
  EXPECT_THAT(client_.Stream(req, h), StatusIs(StatusCode::kCancelled));
}

TEST_F(CurlHttpClientTest, CallbackStatusStopsTheTransfer) {
  server_.AddFile("/f.bin", Pattern(2'000'000));
  HttpStreamHandler h;
  h.on_response = [](const HttpResponse& r) -> Status {
    if (r.status != 206) return FailedPreconditionError("server ignored the range");
    return Status::Ok();
  };
  FileOptions no_ranges;
  no_ranges.ranges = false;
  server_.SetFileOptions("/f.bin", no_ranges);
  HttpRequest req = Get(server_.Url("/f.bin"));
  req.range = ByteRange{100, 199};
  auto r = client_.Stream(req, h);
  EXPECT_THAT(r, StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_THAT(r, StatusHasMessage(HasSubstr("ignored the range")));

  uint64_t got = 0;
  HttpStreamHandler stop;
  stop.on_body = [&](std::string_view d) -> Status {
    got += d.size();
    return got >= 100'000 ? CancelledError("have enough") : Status::Ok();
  };
  EXPECT_THAT(client_.Stream(Get(server_.Url("/f.bin")), stop), StatusIs(StatusCode::kCancelled));
  EXPECT_LT(got, 2'000'000u);
}

TEST_F(CurlHttpClientTest, StreamsNdjsonLineByLine) {
  server_.Route("POST", "/api/pull", [](const TestRequest&, TestResponse& res) {
    res.SetStream([](testing::TestStreamWriter& w) {
      w.Write("{\"status\":\"pulling manifest\"}\n{\"status\":\"pull");
      w.Sleep(20);
      w.Write("ing 3f2a\",\"completed\":10}\n");
      w.Sleep(20);
      w.Write("{\"status\":\"success\"}");
    });
  });
  std::vector<std::string> lines;
  LineSplitter splitter([&](std::string_view l) {
    lines.emplace_back(l);
    return Status::Ok();
  });
  HttpRequest req = Get(server_.Url("/api/pull"));
  req.method = HttpMethod::kPost;
  req.body = "{}";
  HttpStreamHandler h;
  h.on_body = [&](std::string_view d) { return splitter.Feed(d); };
  ASSERT_OK(client_.Stream(req, h));
  ASSERT_OK(splitter.Finish());
  EXPECT_EQ(lines, (std::vector<std::string>{"{\"status\":\"pulling manifest\"}",
                                             "{\"status\":\"pulling 3f2a\",\"completed\":10}",
                                             "{\"status\":\"success\"}"}));
}

TEST_F(CurlHttpClientTest, ConnectionsAreReused) {
  server_.AddFile("/a", "aaa");
  for (int i = 0; i < 5; ++i) ASSERT_EQ(client_.Fetch(Get(server_.Url("/a")))->body, "aaa");
  EXPECT_EQ(server_.ConnectionCount(), 1);
}

TEST_F(CurlHttpClientTest, ConcurrentRequestsFromManyThreads) {
  const std::string content = Pattern(400'000);
  server_.AddFile("/f.bin", content);
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        HttpRequest req = Get(server_.Url("/f.bin"));
        uint64_t first = static_cast<uint64_t>(t * 40'000 + i * 1000);
        req.range = ByteRange{first, first + 9'999};
        auto r = client_.Fetch(req);
        if (r.ok() && r->body == content.substr(first, 10'000)) ++good;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(good.load(), 40);
}

TEST_F(CurlHttpClientTest, SharedRateLimiterSeesEveryByte) {
  server_.AddFile("/f.bin", Pattern(300'000));
  RateLimiter limiter(0);  // no cap, but every byte is booked
  HttpRequest req = Get(server_.Url("/f.bin"));
  req.rate_limiter = &limiter;
  ASSERT_OK(client_.Fetch(req));
  ASSERT_OK(client_.Fetch(req));
  EXPECT_EQ(limiter.booked_bytes(), 600'000u);
}

TEST_F(CurlHttpClientTest, TransportErrors) {
  // A port nobody listens on: bind one, note it, close it.
  uint16_t dead_port;
  {
    TestHttpServer tmp;
    dead_port = tmp.port();
  }
  auto r = client_.Fetch(Get("http://127.0.0.1:" + std::to_string(dead_port) + "/x"));
  EXPECT_THAT(r, StatusIs(StatusCode::kUnavailable));
  EXPECT_THAT(r, StatusHasMessage(HasSubstr("cannot connect")));
  EXPECT_THAT(client_.Fetch(Get("ftp://127.0.0.1/x")), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(client_.Fetch(Get("no url")), StatusIs(StatusCode::kInvalidArgument));
}

TEST_F(CurlHttpClientTest, FetchCapsTheBody) {
  server_.AddFile("/f.bin", Pattern(100'000));
  EXPECT_THAT(client_.Fetch(Get(server_.Url("/f.bin")), 1000),
              StatusIs(StatusCode::kResourceExhausted));
}

}  // namespace
}  // namespace hangar
