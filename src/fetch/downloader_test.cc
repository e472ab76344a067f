// The downloader against a real server on 127.0.0.1 with injected faults.
#include "fetch/downloader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include "core/file_util.h"
#include "core/sha256.h"
#include "core/status_matchers.h"
#include "fetch/curl_http_client.h"
#include "fetch/download_state.h"
#include "fetch/pull_status.h"
#include "fetch/testing/test_http_server.h"

namespace hangar {
namespace {

namespace fs = std::filesystem;
using testing::Fault;
using testing::FileOptions;
using ::testing::HasSubstr;
using testing::TestHttpServer;
using testing::TestRequest;
using testing::TestResponse;

constexpr uint64_t kMiB = 1 << 20;

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (size_t i = 0; i + 4 <= n; i += 4) {
    uint32_t v = rng();
    std::memcpy(&s[i], &v, 4);
  }
  return s;
}

std::string Sha(std::string_view data) {
  Sha256 h;
  h.Update(data);
  return h.FinishHex();
}

class DownloaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("hangar-dl-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    content_ = RandomBytes(6 * kMiB + 12345, 42);
    sha_ = Sha(content_);
    server_.AddFile("/model.gguf", content_);
    // Small chunks and quick timeouts so that faults show in little time.
    opt_.connections = 4;
    opt_.chunk_bytes = 512 << 10;
    opt_.min_split_bytes = 128 << 10;
    opt_.backoff_initial_ms = 10;
    opt_.backoff_max_ms = 50;
    opt_.stall_timeout_ms = 1000;
    opt_.slow_chunk_ms = 60'000;
    opt_.checkpoint_ms = 50;
  }
  void TearDown() override { fs::remove_all(dir_); }

  DownloadRequest Request(const std::string& path = "/model.gguf") {
    DownloadRequest r;
    r.sources.push_back(DownloadSource{server_.Url(path), {}});
    r.destination = dir_ / "blobs" / sha_;
    r.partial_path = dir_ / "blobs" / (sha_ + ".incomplete");
    r.lock_path = dir_ / ".locks" / (sha_ + ".lock");
    r.expected_sha256 = sha_;
    r.name = "model.gguf";
    return r;
  }

  Result<DownloadResult> Download(const DownloadRequest& r, const DownloadProgressFn& p = {}) {
    return downloader_.Download(r, opt_, p);
  }

  std::string Destination() { return *ReadFile(dir_ / "blobs" / sha_); }

  // Range starts of the GET requests for `path`, in arrival order.
  std::vector<uint64_t> RangeStarts(const std::string& path = "/model.gguf") {
    std::vector<uint64_t> out;
    for (const TestRequest& r : server_.Requests()) {
      if (r.path != path) continue;
      auto range = r.headers.Get("Range");
      out.push_back(range ? std::stoull(range->substr(6)) : 0);
    }
    return out;
  }

  fs::path dir_;
  std::string content_;
  std::string sha_;
  TestHttpServer server_;
  CurlHttpClient http_;
  Downloader downloader_{http_};
  DownloadOptions opt_;
};

TEST_F(DownloaderTest, ParallelRangesGiveTheVerifiedFile) {
  auto r = Download(Request());
  ASSERT_OK(r);
  EXPECT_EQ(Destination(), content_);
  EXPECT_EQ(r->sha256, sha_);
  EXPECT_EQ(r->size, content_.size());
  EXPECT_TRUE(r->ranged);
  EXPECT_FALSE(r->reused);
  EXPECT_EQ(r->fetched_bytes, content_.size());
  EXPECT_EQ(r->first_response.status, 206);
  // 13 chunks of 512 KiB over several connections; nothing left behind.
  EXPECT_GE(server_.RequestCount("/model.gguf"), 13);
  EXPECT_GT(server_.ConnectionCount(), 1);
  EXPECT_FALSE(fs::exists(Request().partial_path));
  EXPECT_FALSE(fs::exists(Request().partial_path.string() + ".state"));
}

TEST_F(DownloaderTest, ChunksAreHandedOutInAscendingOrder) {
  opt_.connections = 1;
  ASSERT_OK(Download(Request()));
  std::vector<uint64_t> starts = RangeStarts();
  ASSERT_EQ(starts.size(), 13u);
  for (size_t i = 0; i < starts.size(); ++i) EXPECT_EQ(starts[i], i * opt_.chunk_bytes);
  // One connection kept alive for every chunk.
  EXPECT_EQ(server_.ConnectionCount(), 1);
}

TEST_F(DownloaderTest, ServerWithoutRangesGetsOneStream) {
  FileOptions o;
  o.ranges = false;
  server_.SetFileOptions("/model.gguf", o);
  auto r = Download(Request());
  ASSERT_OK(r);
  EXPECT_FALSE(r->ranged);
  EXPECT_EQ(Destination(), content_);
  EXPECT_EQ(server_.RequestCount("/model.gguf"), 1);
}

TEST_F(DownloaderTest, StreamOfUnknownLength) {
  server_.Route("GET", "/stream", [&](const TestRequest&, TestResponse& res) {
    res.SetStream(
        [&](testing::TestStreamWriter& w) {
          for (size_t off = 0; off < content_.size(); off += 100'000) {
            if (!w.Write(std::string_view(content_).substr(off, 100'000))) return;
          }
        },
        "application/octet-stream");
  });
  auto r = Download(Request("/stream"));
  ASSERT_OK(r);
  EXPECT_FALSE(r->ranged);
  EXPECT_EQ(r->size, content_.size());
  EXPECT_EQ(Destination(), content_);
}

TEST_F(DownloaderTest, EmptyFile) {
  server_.AddFile("/empty", "");
  DownloadRequest req = Request("/empty");
  req.expected_sha256 = Sha("");
  auto r = Download(req);
  ASSERT_OK(r);
  EXPECT_EQ(r->size, 0u);
  EXPECT_EQ(r->sha256, Sha(""));
  EXPECT_TRUE(fs::exists(req.destination));
}

TEST_F(DownloaderTest, CutBodyIsRetriedFromWhereItStopped) {
  server_.AddFault("/model.gguf", Fault::CutAt(3 * kMiB + 1000));
  auto r = Download(Request());
  ASSERT_OK(r);
  EXPECT_EQ(Destination(), content_);
  EXPECT_GE(r->retries, 1);
  // The retry asked for the rest of the chunk, not the whole chunk again.
  std::vector<uint64_t> starts = RangeStarts();
  EXPECT_NE(std::find(starts.begin(), starts.end(), 3 * kMiB + 1000), starts.end());
  EXPECT_EQ(r->fetched_bytes, content_.size());
}

TEST_F(DownloaderTest, ServiceUnavailableWithRetryAfterIsRetried) {
  server_.AddFault("/model.gguf", Fault::Status(503, "1", 2));
  std::vector<std::string> details;
  auto r = Download(Request(), [&](const DownloadProgress& p) {
    if (p.phase == DownloadProgress::Phase::kRetrying) details.push_back(p.detail);
  });
  ASSERT_OK(r);
  EXPECT_EQ(Destination(), content_);
  EXPECT_GE(r->retries, 2);
  ASSERT_FALSE(details.empty());
  EXPECT_THAT(details.front(), HasSubstr("503"));
  EXPECT_THAT(details.front(), HasSubstr("retrying in 1 s"));
}

TEST_F(DownloaderTest, TooManyRequestsEveryTimeGivesUpWithUnavailable) {
  server_.AddFault("/model.gguf", Fault::Status(429, "", -1));
  opt_.max_attempts = 3;
  auto r = Download(Request());
  EXPECT_THAT(r, StatusIs(StatusCode::kUnavailable));
  EXPECT_THAT(r, StatusHasMessage(HasSubstr("after 3 attempts")));
  EXPECT_THAT(r, StatusHasMessage(HasSubstr("429")));
  EXPECT_EQ(server_.RequestCount("/model.gguf"), 3);
}

TEST_F(DownloaderTest, RetryAfterLongerThanTheCapFails) {
  server_.AddFault("/model.gguf", Fault::Status(503, "86400", -1));
  auto r = Download(Request());
  EXPECT_THAT(r, StatusIs(StatusCode::kUnavailable));
  EXPECT_THAT(r, StatusHasMessage(HasSubstr("longer than Hangar waits")));
}

TEST_F(DownloaderTest, StalledConnectionIsRetried) {
  server_.AddFault("/model.gguf", Fault::StallAt(2 * kMiB + 7));
  opt_.stall_timeout_ms = 300;
  auto r = Download(Request());
  ASSERT_OK(r);
  EXPECT_EQ(Destination(), content_);
  EXPECT_GE(r->retries, 1);
}

TEST_F(DownloaderTest, StuckChunkIsTakenOverByAnIdleConnection) {
  // The stall never ends and stall detection is off: only another connection
  // asking for the same bytes again can finish the download.
  server_.AddFault("/model.gguf", Fault::StallAt(5 * kMiB + 99));
  opt_.stall_timeout_ms = 0;
  opt_.slow_chunk_ms = 200;
  auto r = Download(Request());
  ASSERT_OK(r);
  EXPECT_EQ(Destination(), content_);
  EXPECT_GE(r->steals, 1);
}

TEST_F(DownloaderTest, SlowTailIsSplitAcrossIdleConnections) {
  // One chunk for the whole file on a slow server: the idle connections halve
  // the outstanding chunk instead of waiting for it.
  FileOptions slow;
  slow.bytes_per_second = 4 * kMiB;
  server_.SetFileOptions("/model.gguf", slow);
  opt_.chunk_bytes = 8 * kMiB;
  auto r = Download(Request());
  ASSERT_OK(r);
  EXPECT_EQ(Destination(), content_);
  EXPECT_GE(r->steals, 2);
  EXPECT_GE(server_.RequestCount("/model.gguf"), 3);
}

TEST_F(DownloaderTest, CorruptByteIsCaughtAndDownloadedAgain) {
  server_.AddFault("/model.gguf", Fault::CorruptAt(4 * kMiB + 3));
  auto r = Download(Request());
  ASSERT_OK(r);
  EXPECT_EQ(r->attempts, 2);
  EXPECT_EQ(Destination(), content_);
}

TEST_F(DownloaderTest, CorruptEveryTimeIsDataLossNamingBothDigests) {
  server_.AddFault("/model.gguf", Fault::CorruptAt(100, -1));
  std::string bad = content_;
  bad[100] = static_cast<char>(~bad[100]);
  auto r = Download(Request());
  EXPECT_THAT(r, StatusIs(StatusCode::kDataLoss));
  EXPECT_THAT(r, StatusHasMessage(HasSubstr("checksum mismatch for model.gguf: expected " + sha_ +
                                            ", got " + Sha(bad))));
  EXPECT_THAT(r, StatusHasMessage(HasSubstr("partial file was removed")));
  EXPECT_FALSE(fs::exists(Request().partial_path));
  EXPECT_FALSE(fs::exists(Request().destination));
}

TEST_F(DownloaderTest, WithoutExpectedDigestTheComputedOneIsReported) {
  DownloadRequest req = Request();
  req.expected_sha256.clear();
  auto r = Download(req);
  ASSERT_OK(r);
  EXPECT_EQ(r->sha256, sha_);
}

TEST_F(DownloaderTest, TokenIsRequiredAndNeverSentToTheCdn) {
  TestHttpServer cdn("localhost");
  cdn.AddFile("/blobs/x", content_);
  server_.Route("GET", "/org/repo/resolve/main/model.gguf",
                [&](const TestRequest& req, TestResponse& res) {
                  if (req.headers.Get("Authorization") != "Bearer hf_tok") {
                    res.SetText(401, "Invalid credentials");
                    return;
                  }
                  res.SetRedirect(cdn.Url("/blobs/x?sig=abc"));
                  res.headers.Add("X-Linked-Etag", "\"" + sha_ + "\"");
                });
  DownloadRequest req = Request("/org/repo/resolve/main/model.gguf");
  auto denied = Download(req);
  EXPECT_THAT(denied, StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_THAT(denied, StatusHasMessage(HasSubstr("401")));

  req.sources[0].headers.Add("Authorization", "Bearer hf_tok");
  auto r = Download(req);
  ASSERT_OK(r);
  EXPECT_EQ(Destination(), content_);
  EXPECT_EQ(r->first_response.FindHeader("X-Linked-Etag"), "\"" + sha_ + "\"");
  // Every chunk went to the CDN's final URL, none with the token.
  std::vector<TestRequest> at_cdn = cdn.Requests();
  EXPECT_GE(at_cdn.size(), 13u);
  for (const TestRequest& c : at_cdn) {
    EXPECT_FALSE(c.headers.Has("Authorization"));
    EXPECT_EQ(c.target, "/blobs/x?sig=abc");
  }
  EXPECT_EQ(server_.RequestCount("/org/repo/resolve/main/model.gguf"), 2);
}

TEST_F(DownloaderTest, ExpiredCdnUrlIsResolvedAgain) {
  TestHttpServer cdn("localhost");
  std::atomic<int> signatures{0};
  std::atomic<int> uses_of_first{0};
  cdn.AddFile("/blobs/x", content_);
  cdn.Route("GET", "/signed/x", [&](const TestRequest& req, TestResponse& res) {
    // The first signature works for three requests, then expires.
    if (req.query == "sig=1" && ++uses_of_first > 3) {
      res.SetText(403, "Request has expired");
      return;
    }
    cdn.SendFile("/blobs/x", req, res);
  });
  server_.Route("GET", "/resolve/x", [&](const TestRequest&, TestResponse& res) {
    res.SetRedirect(cdn.Url("/signed/x?sig=" + std::to_string(++signatures)));
  });
  opt_.connections = 2;
  auto r = Download(Request("/resolve/x"));
  ASSERT_OK(r);
  EXPECT_EQ(Destination(), content_);
  EXPECT_GE(signatures.load(), 2);
}

TEST_F(DownloaderTest, NotFoundAndSizeMismatch) {
  EXPECT_THAT(Download(Request("/missing.gguf")), StatusIs(StatusCode::kNotFound));
  DownloadRequest req = Request();
  req.expected_size = content_.size() + 1;
  auto r = Download(req);
  EXPECT_THAT(r, StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_THAT(r, StatusHasMessage(HasSubstr("expected " + std::to_string(content_.size() + 1))));
}

TEST_F(DownloaderTest, MirrorIsUsedWhenTheFirstSourceFails) {
  TestHttpServer mirror;
  mirror.AddFile("/m.gguf", content_);
  DownloadRequest req = Request("/missing.gguf");
  req.sources.push_back(DownloadSource{mirror.Url("/m.gguf"), {}});
  ASSERT_OK(Download(req));
  EXPECT_EQ(Destination(), content_);
}

TEST_F(DownloaderTest, NotEnoughFreeSpaceIsResourceExhaustedWithNumbers) {
  DownloadRequest req = Request();
  req.expected_size = 1ULL << 60;  // an exbibyte
  auto r = Download(req);
  EXPECT_THAT(r, StatusIs(StatusCode::kResourceExhausted));
  EXPECT_THAT(r, StatusHasMessage(HasSubstr("PiB more")));
  EXPECT_THAT(r, StatusHasMessage(HasSubstr("free in")));
  EXPECT_EQ(server_.RequestCount("/model.gguf"), 0);
}

TEST_F(DownloaderTest, CancelKeepsTheVerifiedPrefixAndResumes) {
  FileOptions slow;
  // Slow enough that the 6 MiB cannot finish between two progress events
  // (every 200 ms), however busy the machine.
  slow.bytes_per_second = 1 * kMiB;
  server_.SetFileOptions("/model.gguf", slow);
  DownloadRequest req = Request();
  std::atomic<bool> stop{false};
  req.cancelled = [&] { return stop.load(); };
  auto first = Download(req, [&](const DownloadProgress& p) {
    if (p.completed >= 2 * kMiB) stop = true;
  });
  EXPECT_THAT(first, StatusIs(StatusCode::kCancelled));
  EXPECT_THAT(first, StatusHasMessage(HasSubstr("run the pull again to resume")));
  // The partial file holds exactly the contiguous prefix the state names.
  auto state = ReadDownloadState(req.partial_path.string() + ".state");
  ASSERT_OK(state);
  uint64_t kept = state->done.PrefixEnd();
  EXPECT_GE(kept, 1 * kMiB);
  EXPECT_EQ(state->done.Size(), kept);
  EXPECT_EQ(fs::file_size(req.partial_path), kept);
  EXPECT_EQ(ReadFile(req.partial_path)->substr(0), content_.substr(0, kept));
  EXPECT_FALSE(fs::exists(req.destination));

  stop = false;
  server_.SetFileOptions("/model.gguf", FileOptions());
  auto second = Download(req);
  ASSERT_OK(second);
  EXPECT_EQ(Destination(), content_);
  EXPECT_EQ(second->resumed_bytes, kept);
  EXPECT_EQ(second->fetched_bytes, content_.size() - kept);
}

TEST_F(DownloaderTest, PartialWithoutStateIsTakenAsAPrefix) {
  // As huggingface_hub leaves a `.incomplete` file: bytes from 0, no state.
  DownloadRequest req = Request();
  fs::create_directories(req.partial_path.parent_path());
  std::ofstream(req.partial_path, std::ios::binary) << content_.substr(0, 3 * kMiB);
  auto r = Download(req);
  ASSERT_OK(r);
  EXPECT_EQ(r->resumed_bytes, 3 * kMiB);
  EXPECT_EQ(r->fetched_bytes, content_.size() - 3 * kMiB);
  EXPECT_EQ(Destination(), content_);
}

TEST_F(DownloaderTest, KilledBeforeTheFirstCheckpointResumesWithoutARedownload) {
  // What a SIGKILL leaves on disk is copied while the download runs: the
  // state first, then the partial file (never newer than the data, as after
  // a real kill), at a moment when connections have written chunks out of
  // order (zeros between them) and no periodic checkpoint has run yet.
  FileOptions slow;
  slow.bytes_per_second = 1 * kMiB;  // per connection: the holes stay open
  server_.SetFileOptions("/model.gguf", slow);
  opt_.checkpoint_ms = 600'000;
  opt_.progress_ms = 20;
  DownloadRequest req = Request();
  const fs::path state_path = req.partial_path.string() + ".state";
  std::atomic<bool> stop{false};
  req.cancelled = [&] { return stop.load(); };
  std::optional<std::string> kept_state;
  std::string kept_partial;
  auto first = Download(req, [&](const DownloadProgress& p) {
    if (stop || p.completed == 0) return;
    Result<std::string> state = ReadFile(state_path);
    Result<std::string> partial = ReadFile(req.partial_path);
    if (!partial.ok() || partial->size() <= opt_.chunk_bytes ||
        *partial == content_.substr(0, partial->size())) {
      return;  // not yet a chunk past a hole
    }
    kept_state = state.ok() ? std::optional(*state) : std::nullopt;
    kept_partial = *partial;
    stop = true;
  });
  ASSERT_THAT(first, StatusIs(StatusCode::kCancelled));
  ASSERT_FALSE(kept_partial.empty());

  // The files as the kill left them.
  ASSERT_OK(WriteFileAtomic(req.partial_path, kept_partial));
  fs::remove(state_path);
  uint64_t recorded = 0;
  EXPECT_TRUE(kept_state.has_value()) << "a partial file with holes had no state";
  if (kept_state) {
    ASSERT_OK(WriteFileAtomic(state_path, *kept_state));
    auto st = ReadDownloadState(state_path);
    ASSERT_OK(st);
    recorded = st->done.Size();
  }

  stop = false;
  server_.SetFileOptions("/model.gguf", FileOptions());
  auto second = Download(req);
  ASSERT_OK(second);
  EXPECT_EQ(second->attempts, 1) << "the resumed bytes failed the digest";
  EXPECT_EQ(second->resumed_bytes, recorded);
  EXPECT_EQ(Destination(), content_);
}

TEST_F(DownloaderTest, StateNamingLostDataEndsInARedownloadNotACorruptFile) {
  // As if the state reached the disk but the data did not (the fsync order
  // forbids it; a broken disk can still do it): zeros where bytes should be.
  DownloadRequest req = Request();
  fs::create_directories(req.partial_path.parent_path());
  std::ofstream(req.partial_path, std::ios::binary) << std::string(content_.size(), '\0');
  DownloadState st;
  st.size = content_.size();
  st.expected_sha256 = sha_;
  st.done.Add(0, content_.size());
  ASSERT_OK(WriteDownloadState(req.partial_path.string() + ".state", st));
  auto r = Download(req);
  ASSERT_OK(r);
  EXPECT_EQ(r->attempts, 2);
  EXPECT_EQ(Destination(), content_);
}

TEST_F(DownloaderTest, DamagedStateStartsOver) {
  DownloadRequest req = Request();
  fs::create_directories(req.partial_path.parent_path());
  std::ofstream(req.partial_path, std::ios::binary) << std::string(1000, 'x');
  std::ofstream(req.partial_path.string() + ".state") << "hangar-partial 1\nsize 12\n";
  auto r = Download(req);
  ASSERT_OK(r);
  EXPECT_EQ(r->resumed_bytes, 0u);
  EXPECT_EQ(r->attempts, 1);
  EXPECT_EQ(Destination(), content_);
}

TEST_F(DownloaderTest, ChangedRemoteFileDiscardsThePartial) {
  DownloadRequest req = Request();
  req.expected_sha256.clear();
  DownloadState st;
  st.size = content_.size();
  st.etag = "an-older-version";
  st.done.Add(0, 1 * kMiB);
  fs::create_directories(req.partial_path.parent_path());
  std::ofstream(req.partial_path, std::ios::binary) << std::string(1 * kMiB, 'o');
  ASSERT_OK(WriteDownloadState(req.partial_path.string() + ".state", st));
  auto r = Download(req);
  ASSERT_OK(r);
  EXPECT_EQ(r->sha256, sha_);
  EXPECT_EQ(Destination(), content_);
}

TEST_F(DownloaderTest, SecondDownloaderWaitsAndReusesTheFile) {
  FileOptions slow;
  slow.bytes_per_second = 8 * kMiB;
  server_.SetFileOptions("/model.gguf", slow);
  Result<DownloadResult> a = InternalError("not run"), b = InternalError("not run");
  std::atomic<bool> b_waited{false};
  std::thread first([&] { a = Download(Request()); });
  // Start the second once the first holds the lock.
  while (server_.RequestCount("/model.gguf") == 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::thread second([&] {
    b = Download(Request(), [&](const DownloadProgress& p) {
      if (p.phase == DownloadProgress::Phase::kWaiting) b_waited = true;
    });
  });
  first.join();
  second.join();
  ASSERT_OK(a);
  ASSERT_OK(b);
  EXPECT_FALSE(a->reused);
  EXPECT_TRUE(b->reused);
  EXPECT_TRUE(b_waited.load());
  EXPECT_EQ(b->sha256, sha_);
  EXPECT_EQ(Destination(), content_);
  // The bytes crossed the network once (split chunks may send a little past
  // their new end, never a second copy).
  EXPECT_LT(server_.BodyBytesSent(), content_.size() * 3 / 2);
}

TEST_F(DownloaderTest, SharedRateLimiterCarriesEveryConnection) {
  RateLimiter limiter(0);  // no cap: only counts
  opt_.rate_limiter = &limiter;
  ASSERT_OK(Download(Request()));
  // Every received byte, including any a split chunk received past its new end.
  EXPECT_GE(limiter.booked_bytes(), content_.size());
}

TEST_F(DownloaderTest, ProgressEventsRiseToTheTotalAndEndWithSuccess) {
  std::vector<DownloadProgress> events;
  ASSERT_OK(Download(Request(), [&](const DownloadProgress& p) { events.push_back(p); }));
  ASSERT_FALSE(events.empty());
  uint64_t last = 0;
  for (const auto& e : events) {
    EXPECT_GE(e.completed, last);
    last = e.completed;
    EXPECT_EQ(e.digest, "sha256:" + sha_);
  }
  EXPECT_EQ(events.back().phase, DownloadProgress::Phase::kDone);
  EXPECT_EQ(events.back().completed, content_.size());
  EXPECT_EQ(events.back().total, content_.size());
  EXPECT_EQ(PullStatusJson(ToPullStatus(events.back())),
            "{\"status\":\"success\",\"digest\":\"sha256:" + sha_ +
                "\",\"total\":" + std::to_string(content_.size()) +
                ",\"completed\":" + std::to_string(content_.size()) + "}");
}

TEST_F(DownloaderTest, ExistingDestinationIsReused) {
  ASSERT_OK(Download(Request()));
  int before = server_.RequestCount("/model.gguf");
  auto again = Download(Request());
  ASSERT_OK(again);
  EXPECT_TRUE(again->reused);
  EXPECT_EQ(server_.RequestCount("/model.gguf"), before);
}

TEST_F(DownloaderTest, BadRequests) {
  DownloadRequest none = Request();
  none.sources.clear();
  EXPECT_THAT(Download(none), StatusIs(StatusCode::kInvalidArgument));
  DownloadRequest bad = Request();
  bad.expected_sha256 = "xyz";
  EXPECT_THAT(Download(bad), StatusIs(StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace hangar
