// End-to-end tests of the downloader: the hangar-fetch command killed at
// random moments and resumed, interrupted, starved of disk space, run twice
// at once; plain URL downloads from a real nginx.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "core/file_util.h"
#include "core/sha256.h"
#include "core/status_matchers.h"
#include "core/test_seed.h"
#include "fetch/curl_http_client.h"
#include "fetch/download_state.h"
#include "fetch/downloader.h"
#include "fetch/testing/test_http_server.h"
#include "nginx_server.h"
#include "process.h"

namespace hangar {
namespace {

namespace fs = std::filesystem;
using testing::Fault;
using testing::FileOptions;
using ::testing::HasSubstr;
using testing::TestHttpServer;

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

class FetchToolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("hangar-fetch-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::vector<std::string> Args(const std::string& url, const std::string& sha,
                                std::vector<std::string> extra = {}) {
    std::vector<std::string> a = {HANGAR_FETCH_BIN,  url,  Dest().string(),
                                  "--sha256",        sha,  "--json",
                                  "--checkpoint-ms", "100"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  std::map<std::string, std::string> Env() { return {{"PATH", "/usr/bin:/bin"}}; }
  fs::path Dest() const { return dir_ / "out" / "model.gguf"; }
  fs::path Partial() const { return dir_ / "out" / "model.gguf.incomplete"; }
  fs::path State() const { return dir_ / "out" / "model.gguf.incomplete.state"; }

  // Bytes the state file names as written (0 when there is none).
  uint64_t StateBytes() {
    auto st = ReadDownloadState(State());
    return st.ok() ? st->done.Size() : 0;
  }
  nlohmann::json ResultLine(const std::string& out) {
    size_t at = out.rfind("{\"result\"");
    if (at == std::string::npos) return nullptr;
    return nlohmann::json::parse(out.substr(at, out.find('\n', at) - at))["result"];
  }

  fs::path dir_;
};

// SIGKILL at random moments, at least 20 times, over three rounds; every
// round ends with a verified, byte-identical file, and no kill loses what an
// earlier run had recorded. A kill comes a random 0-250 ms after the run has
// written its first new bytes (so that a slow, loaded machine still sees
// progress in every run).
TEST_F(FetchToolTest, SurvivesTwentyFourRandomKills) {
  TestHttpServer server;
  const std::string content = RandomBytes(32 * kMiB + 777, 9);
  const std::string sha = Sha(content);
  FileOptions slow;
  slow.bytes_per_second = 3 * kMiB;  // per connection: a whole run takes seconds
  server.AddFile("/m.gguf", content, slow);
  const uint32_t seed = TestSeed();
  std::mt19937 rng(seed);
  SCOPED_TRACE("kill-moment " + TestSeedNote(seed));
  const std::vector<std::vector<std::string>> rounds = {
      {"--connections", "4", "--chunk-size", "1MiB"},
      {"--connections", "8", "--chunk-size", "256KiB"},
      {"--connections", "2", "--chunk-size", "2MiB"},
  };
  auto partial_size = [&]() -> uint64_t {
    std::error_code ec;
    uint64_t n = fs::file_size(Partial(), ec);
    return ec ? 0 : n;
  };
  int kills = 0;
  for (size_t round = 0; round < rounds.size(); ++round) {
    fs::remove_all(dir_ / "out");
    if (round == 2) server.AddFault("/m.gguf", Fault::CutAt(17 * kMiB + 5, 3));
    uint64_t recorded = 0;
    for (int k = 0; k < 8; ++k) {
      const uint64_t before = partial_size();
      int pid = testing::SpawnProcess(Args(server.Url("/m.gguf"), sha, rounds[round]), Env());
      ASSERT_GT(pid, 0);
      int status = 0;
      bool exited = false;
      for (int i = 0; i < 4000 && partial_size() == before; ++i) {
        if ((exited = ::waitpid(pid, &status, WNOHANG) == pid)) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      if (exited) {
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        break;  // finished before the kill
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 250));
      ::kill(pid, SIGKILL);
      int code = testing::WaitProcess(pid);
      if (code == 0) break;
      ASSERT_EQ(code, 128 + SIGKILL);
      ++kills;
      uint64_t now = StateBytes();
      EXPECT_GE(now, recorded) << "round " << round << " kill " << k;
      recorded = std::max(recorded, now);
      EXPECT_FALSE(fs::exists(Dest())) << "an unverified file appeared";
    }
    testing::ProcessResult done =
        testing::RunProcess(Args(server.Url("/m.gguf"), sha, rounds[round]), Env());
    ASSERT_EQ(done.exit_code, 0) << done.err;
    nlohmann::json result = ResultLine(done.out);
    ASSERT_FALSE(result.is_null()) << done.out;
    EXPECT_EQ(result["sha256"], sha);
    EXPECT_EQ(*ReadFile(Dest()), content) << "round " << round;
    EXPECT_FALSE(fs::exists(Partial()));
    EXPECT_FALSE(fs::exists(State()));
    if (recorded > 0 && !result["reused"].get<bool>()) {
      EXPECT_GE(result["resumed_bytes"].get<uint64_t>(), recorded) << "round " << round;
    }
  }
  EXPECT_GE(kills, 20);
}

TEST_F(FetchToolTest, InterruptKeepsThePrefixAndResumes) {
  TestHttpServer server;
  const std::string content = RandomBytes(16 * kMiB, 3);
  const std::string sha = Sha(content);
  FileOptions slow;
  slow.bytes_per_second = 2 * kMiB;
  server.AddFile("/m.gguf", content, slow);
  const std::vector<std::string> args =
      Args(server.Url("/m.gguf"), sha, {"--connections", "2", "--chunk-size", "1MiB"});
  int pid = testing::SpawnProcess(args, Env());
  for (int i = 0; i < 500 && StateBytes() < 2 * kMiB; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid, SIGINT);
  EXPECT_EQ(testing::WaitProcess(pid), 10 + static_cast<int>(StatusCode::kCancelled));
  auto st = ReadDownloadState(State());
  ASSERT_OK(st);
  uint64_t kept = st->done.PrefixEnd();
  EXPECT_GT(kept, 0u);
  EXPECT_EQ(st->done.Size(), kept);
  EXPECT_EQ(fs::file_size(Partial()), kept);
  EXPECT_EQ(ReadFile(Partial())->substr(0), content.substr(0, kept));

  testing::ProcessResult r = testing::RunProcess(args, Env());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json result = ResultLine(r.out);
  EXPECT_EQ(result["resumed_bytes"].get<uint64_t>(), kept);
  EXPECT_EQ(result["fetched_bytes"].get<uint64_t>(), content.size() - kept);
  EXPECT_EQ(*ReadFile(Dest()), content);
}

void LimitFileSizeTo4MiB() {
  // Writes past 4 MiB fail with EFBIG, as writes to a full disk fail with ENOSPC.
  ::signal(SIGXFSZ, SIG_IGN);
  rlimit lim{4 * kMiB, 4 * kMiB};
  ::setrlimit(RLIMIT_FSIZE, &lim);
}

TEST_F(FetchToolTest, DiskFullMidwayKeepsThePartialForResume) {
  TestHttpServer server;
  const std::string content = RandomBytes(10 * kMiB, 5);
  const std::string sha = Sha(content);
  server.AddFile("/m.gguf", content);
  std::vector<std::string> args =
      Args(server.Url("/m.gguf"), sha, {"--connections", "1", "--chunk-size", "1MiB"});
  int pid = testing::SpawnProcess(args, Env(), (dir_ / "out.txt").string(),
                                  (dir_ / "err.txt").string(), &LimitFileSizeTo4MiB);
  EXPECT_EQ(testing::WaitProcess(pid), 10 + static_cast<int>(StatusCode::kResourceExhausted));
  std::string err = *ReadFile(dir_ / "err.txt");
  EXPECT_THAT(err, HasSubstr("the disk is full"));
  EXPECT_THAT(err, HasSubstr("kept in " + Partial().string()));
  EXPECT_THAT(err, HasSubstr("run the pull again to resume"));
  ASSERT_TRUE(fs::exists(Partial()));
  uint64_t kept = fs::file_size(Partial());
  EXPECT_GT(kept, 0u);
  EXPECT_LE(kept, 4 * kMiB);

  testing::ProcessResult r = testing::RunProcess(args, Env());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ResultLine(r.out)["resumed_bytes"].get<uint64_t>(), kept);
  EXPECT_EQ(*ReadFile(Dest()), content);
}

TEST_F(FetchToolTest, TwoProcessesDownloadOnce) {
  TestHttpServer server;
  const std::string content = RandomBytes(12 * kMiB, 6);
  const std::string sha = Sha(content);
  FileOptions slow;
  slow.bytes_per_second = 4 * kMiB;
  server.AddFile("/m.gguf", content, slow);
  int a = testing::SpawnProcess(Args(server.Url("/m.gguf"), sha), Env(), (dir_ / "a.txt").string());
  while (server.RequestCount("/m.gguf") == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  int b = testing::SpawnProcess(Args(server.Url("/m.gguf"), sha), Env(), (dir_ / "b.txt").string());
  EXPECT_EQ(testing::WaitProcess(a), 0);
  EXPECT_EQ(testing::WaitProcess(b), 0);
  nlohmann::json ra = ResultLine(*ReadFile(dir_ / "a.txt"));
  std::string b_out = *ReadFile(dir_ / "b.txt");
  nlohmann::json rb = ResultLine(b_out);
  EXPECT_FALSE(ra["reused"].get<bool>());
  EXPECT_TRUE(rb["reused"].get<bool>());
  EXPECT_THAT(b_out, HasSubstr("waiting for another download of model.gguf"));
  // Once: split chunks may send a little past their new end, never a second copy.
  EXPECT_LT(server.BodyBytesSent(), content.size() * 3 / 2);
  EXPECT_EQ(*ReadFile(Dest()), content);
}

class NginxTest : public FetchToolTest {
 protected:
  void SetUp() override {
    FetchToolTest::SetUp();
    if (testing::NginxServer::Binary().empty()) GTEST_SKIP() << "nginx is not installed";
    fs::create_directories(dir_ / "www");
    content_ = RandomBytes(20 * kMiB + 3, 11);
    sha_ = Sha(content_);
    std::ofstream(dir_ / "www" / "m.gguf", std::ios::binary) << content_;
    std::string error;
    nginx_ = testing::NginxServer::Start(dir_ / "nginx", dir_ / "www", "4m", &error);
    ASSERT_NE(nginx_, nullptr) << error;
  }
  void TearDown() override {
    nginx_.reset();
    FetchToolTest::TearDown();
  }
  DownloadRequest Request(const std::string& path) {
    DownloadRequest r;
    r.sources.push_back(DownloadSource{nginx_->Url(path), {}});
    r.destination = Dest();
    r.expected_sha256 = sha_;
    return r;
  }

  std::string content_, sha_;
  std::unique_ptr<testing::NginxServer> nginx_;
  CurlHttpClient http_;
  Downloader downloader_{http_};
};

TEST_F(NginxTest, PlainUrlWithRanges) {
  DownloadOptions opt;
  opt.connections = 4;
  opt.chunk_bytes = 2 * kMiB;
  auto r = downloader_.Download(Request("/m.gguf"), opt);
  ASSERT_OK(r);
  EXPECT_TRUE(r->ranged);
  EXPECT_EQ(r->first_response.status, 206);
  EXPECT_TRUE(r->first_response.headers.Has("ETag"));
  EXPECT_EQ(*ReadFile(Dest()), content_);
}

TEST_F(NginxTest, LocationWithoutRangesIsOneStream) {
  auto r = downloader_.Download(Request("/norange/m.gguf"), DownloadOptions());
  ASSERT_OK(r);
  EXPECT_FALSE(r->ranged);
  EXPECT_EQ(*ReadFile(Dest()), content_);
}

TEST_F(NginxTest, MissingFileIsNotFound) {
  DownloadRequest req = Request("/none.gguf");
  EXPECT_THAT(downloader_.Download(req, DownloadOptions()), StatusIs(StatusCode::kNotFound));
}

TEST_F(NginxTest, KilledAndResumedFromARateLimitedLocation) {
  const uint32_t seed = TestSeed();
  std::mt19937 rng(seed);
  SCOPED_TRACE("kill-moment " + TestSeedNote(seed));
  std::vector<std::string> args = Args(nginx_->Url("/slow/m.gguf"), sha_, {"--connections", "4"});
  for (int k = 0; k < 4; ++k) {
    int pid = testing::SpawnProcess(args, Env());
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 300));
    ::kill(pid, SIGKILL);
    testing::WaitProcess(pid);
  }
  testing::ProcessResult r = testing::RunProcess(args, Env());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ResultLine(r.out)["sha256"], sha_);
  EXPECT_EQ(*ReadFile(Dest()), content_);
}

}  // namespace
}  // namespace hangar
