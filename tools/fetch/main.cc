// hangar-fetch URL DEST: downloads one URL with Hangar's downloader (segmented,
// verified, resumable), printing progress, and a JSON result line with --json.
// Exit status: 0 on success, 10 + the StatusCode number on failure (for example
// 18 for Cancelled after SIGINT/SIGTERM, 15 for ResourceExhausted), 2 for usage.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "core/units.h"
#include "fetch/curl_http_client.h"
#include "fetch/downloader.h"
#include "fetch/pull_status.h"

namespace {

std::atomic<bool> g_interrupted{false};

void OnSignal(int) { g_interrupted = true; }

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

int main(int argc, char** argv) {
  using namespace hangar;
  CLI::App app{"Download one URL with Hangar's segmented, verified, resumable downloader"};
  std::string url, dest, partial, lock, sha256, chunk = "8MiB", max_speed, stall = "30s";
  std::vector<std::string> headers;
  int connections = 8;
  uint64_t size = 0;
  bool json = false, quiet = false;
  int64_t checkpoint_ms = 1000;
  app.add_option("url", url, "http(s) URL")->required();
  app.add_option("dest", dest, "destination file")->required();
  app.add_option("--sha256", sha256, "expected SHA-256 (hex)");
  app.add_option("--size", size, "expected size in bytes");
  app.add_option("--connections,-c", connections, "parallel connections")->default_val(8);
  app.add_option("--chunk-size", chunk, "chunk size (e.g. 8MiB)");
  app.add_option("--max-speed", max_speed, "bandwidth cap (e.g. 10MB/s)");
  app.add_option("--stall-timeout", stall, "no byte this long on a connection: retry (e.g. 30s)");
  app.add_option("--partial", partial, "partial file (default DEST.incomplete)");
  app.add_option("--lock", lock, "lock file (default PARTIAL.lock)");
  app.add_option("--header,-H", headers, "request header 'Name: value' (repeatable)");
  app.add_option("--checkpoint-ms", checkpoint_ms, "state checkpoint interval");
  app.add_flag("--json", json, "NDJSON progress (Ollama pull shape) and a result line");
  app.add_flag("--quiet,-q", quiet, "no progress output");
  CLI11_PARSE(app, argc, argv);

  DownloadRequest req;
  DownloadSource source{url, {}};
  for (const std::string& h : headers) {
    size_t colon = h.find(':');
    if (colon == std::string::npos) {
      std::fprintf(stderr, "hangar-fetch: header without ':': %s\n", h.c_str());
      return 2;
    }
    size_t v = h.find_first_not_of(' ', colon + 1);
    source.headers.Add(h.substr(0, colon), v == std::string::npos ? "" : h.substr(v));
  }
  req.sources.push_back(std::move(source));
  req.destination = dest;
  req.partial_path = partial;
  req.lock_path = lock;
  req.expected_sha256 = sha256;
  if (size > 0) req.expected_size = size;
  req.cancelled = [] { return g_interrupted.load(); };

  DownloadOptions opt;
  opt.connections = connections;
  opt.checkpoint_ms = checkpoint_ms;
  auto chunk_bytes = ParseSize(chunk);
  auto stall_s = ParseDuration(stall);
  if (!chunk_bytes.ok() || !stall_s.ok()) {
    std::fprintf(stderr, "hangar-fetch: %s\n",
                 (!chunk_bytes.ok() ? chunk_bytes.status() : stall_s.status()).ToString().c_str());
    return 2;
  }
  opt.chunk_bytes = *chunk_bytes;
  opt.stall_timeout_ms = *stall_s * 1000;
  if (!max_speed.empty()) {
    auto rate = ParseRate(max_speed);
    if (!rate.ok()) {
      std::fprintf(stderr, "hangar-fetch: %s\n", rate.status().ToString().c_str());
      return 2;
    }
    opt.max_bytes_per_second = *rate;
  }

  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  CurlHttpClient http;
  Downloader downloader(http);
  const int64_t start = NowMs();
  int64_t last_line = 0;
  std::string last_json;
  auto progress = [&](const DownloadProgress& p) {
    if (quiet) return;
    if (json) {
      std::string line = PullStatusJson(ToPullStatus(p));
      if (line == last_json) return;
      last_json = line;
      std::printf("%s\n", line.c_str());
      std::fflush(stdout);
      return;
    }
    int64_t now = NowMs();
    if (now - last_line < 500 && p.phase != DownloadProgress::Phase::kDone) return;
    last_line = now;
    std::fprintf(stderr, "%s: %s / %s  %s/s%s%s\n", p.name.c_str(),
                 FormatBytes(p.completed).c_str(), p.total ? FormatBytes(p.total).c_str() : "?",
                 FormatBytes(static_cast<uint64_t>(p.bytes_per_second)).c_str(),
                 p.eta_seconds ? ("  ETA " + FormatDuration(*p.eta_seconds)).c_str() : "",
                 p.detail.empty() ? "" : ("  (" + p.detail + ")").c_str());
  };
  Result<DownloadResult> r = downloader.Download(req, opt, progress);
  if (!r.ok()) {
    std::fprintf(stderr, "hangar-fetch: %s\n", r.status().ToString().c_str());
    if (json) {
      std::printf("%s\n", nlohmann::json{{"error", r.status().message()}}.dump().c_str());
    }
    return 10 + static_cast<int>(r.status().code());
  }
  if (json) {
    nlohmann::ordered_json j;
    j["path"] = r->path.string();
    j["size"] = r->size;
    j["sha256"] = r->sha256;
    j["reused"] = r->reused;
    j["ranged"] = r->ranged;
    j["resumed_bytes"] = r->resumed_bytes;
    j["fetched_bytes"] = r->fetched_bytes;
    j["retries"] = r->retries;
    j["steals"] = r->steals;
    j["attempts"] = r->attempts;
    j["verify_ms"] = r->verify_ms;
    j["elapsed_ms"] = NowMs() - start;
    std::printf("%s\n", nlohmann::json{{"result", j}}.dump().c_str());
  } else if (!quiet) {
    std::fprintf(stderr, "%s  %s  verified\n", r->sha256.c_str(), r->path.c_str());
  }
  return 0;
}
