#include "fetch/pull_status.h"

#include <gtest/gtest.h>

namespace hangar {
namespace {

TEST(PullStatusTest, PhasesAsOllamaNamesThem) {
  const std::string digest =
      "sha256:3f2a1b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708";
  const struct {
    DownloadProgress::Phase phase;
    const char* status;
  } cases[] = {
      {DownloadProgress::Phase::kWaiting, "waiting for another download of m.gguf"},
      {DownloadProgress::Phase::kConnecting, "pulling 3f2a1b4c5d6e"},
      {DownloadProgress::Phase::kDownloading, "pulling 3f2a1b4c5d6e"},
      {DownloadProgress::Phase::kRetrying, "pulling 3f2a1b4c5d6e"},
      {DownloadProgress::Phase::kVerifying, "verifying sha256 digest"},
      {DownloadProgress::Phase::kDone, "success"},
  };
  for (const auto& c : cases) {
    DownloadProgress p;
    p.phase = c.phase;
    p.name = "m.gguf";
    p.digest = digest;
    EXPECT_EQ(ToPullStatus(p).status, c.status);
  }
  DownloadProgress nodigest;
  nodigest.phase = DownloadProgress::Phase::kDownloading;
  nodigest.name = "m.gguf";
  EXPECT_EQ(ToPullStatus(nodigest).status, "pulling m.gguf");
}

TEST(PullStatusTest, JsonLeavesOutUnsetFields) {
  PullStatus s{"pulling 3f2a1b4c5d6e", "sha256:abc", 100, 40, ""};
  EXPECT_EQ(
      PullStatusJson(s),
      R"({"status":"pulling 3f2a1b4c5d6e","digest":"sha256:abc","total":100,"completed":40})");
  EXPECT_EQ(PullStatusJson(PullStatus{"success", "", 0, 0, ""}), R"({"status":"success"})");
  EXPECT_EQ(PullStatusJson(PullStatus{"pulling x", "", 0, 0, "HTTP 503; retrying in 2 s"}),
            R"({"status":"pulling x","detail":"HTTP 503; retrying in 2 s"})");
}

}  // namespace
}  // namespace hangar
