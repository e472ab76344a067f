#include "fetch/testing/fake_http_client.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "core/status_matchers.h"
#include "fetch/downloader.h"

namespace hangar::testing {
namespace {

TEST(FakeHttpClientTest, TableRangesAndErrors) {
  FakeHttpClient http;
  http.SetBody("http://hub/api/models/org/repo", "{\"sha\":\"abc\"}", "application/json");
  HttpRequest req;
  req.url = "http://hub/api/models/org/repo";
  auto r = http.Fetch(req);
  ASSERT_OK(r);
  EXPECT_EQ(r->body, "{\"sha\":\"abc\"}");
  EXPECT_EQ(r->headers.Get("content-type"), "application/json");

  req.range = ByteRange{2, 4};
  EXPECT_EQ(http.Fetch(req)->body, "sha");
  EXPECT_EQ(http.Fetch(req)->status, 206);

  req.range.reset();
  req.url = "http://hub/missing";
  EXPECT_THAT(http.Fetch(req), StatusIs(StatusCode::kNotFound));
  req.errors = HttpErrorMode::kResponse;
  EXPECT_EQ(http.Fetch(req)->status, 404);

  http.FailNext(UnavailableError("connection refused"), 2);
  req.url = "http://hub/api/models/org/repo";
  EXPECT_THAT(http.Fetch(req), StatusIs(StatusCode::kUnavailable));
  EXPECT_THAT(http.Fetch(req), StatusIs(StatusCode::kUnavailable));
  EXPECT_OK(http.Fetch(req));
  EXPECT_EQ(http.RequestCount("http://hub/api/models/org/repo"), 6);
}

TEST(FakeHttpClientTest, DrivesTheDownloaderThroughACutBody) {
  // The downloader against the fake: a cut body is retried from where it stopped.
  FakeHttpClient http;
  std::string content(3 << 20, 'x');
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(i * 13);
  FakeHttpClient::Reply reply;
  reply.body = content;
  reply.cut_after = 100'000;  // every answer drops after 100 kB
  http.Set("http://cdn/blob", reply);
  auto dir = std::filesystem::temp_directory_path() / ("hangar-fake-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  DownloadRequest dr;
  dr.sources.push_back(DownloadSource{"http://cdn/blob", {}});
  dr.destination = dir / "blob";
  DownloadOptions opt;
  opt.connections = 2;
  opt.chunk_bytes = 1 << 20;
  opt.backoff_initial_ms = 1;
  opt.backoff_max_ms = 2;
  opt.max_attempts = 3;
  Downloader d(http);
  auto r = d.Download(dr, opt);
  ASSERT_OK(r);
  EXPECT_EQ(r->size, content.size());
  EXPECT_GE(r->retries, 30);  // 3 MiB in 100 kB pieces
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace hangar::testing
