// PullStatus: a download progress event in the shape of Ollama's
// `/api/pull` stream (`{"status", "digest", "total", "completed"}`), for
// `hangar pull --json` NDJSON output and for the HTTP server's pull endpoint.
// Pure functions, thread-safe.
#ifndef HANGAR_FETCH_PULL_STATUS_H_
#define HANGAR_FETCH_PULL_STATUS_H_

#include <cstdint>
#include <string>

#include "fetch/downloader.h"

namespace hangar {

struct PullStatus {
  std::string status;  // "pulling 3f2a1b4c5d6e", "verifying sha256 digest", "success", ...
  std::string digest;  // "sha256:<hex>"; empty when unknown
  uint64_t total = 0;  // 0: unknown (left out of the JSON)
  uint64_t completed = 0;
  std::string detail;  // why we wait or retry; empty otherwise
};

// kWaiting → "waiting for another download of NAME", kConnecting,
// kDownloading and kRetrying → "pulling <first 12 hex of the digest, or the
// name>", kVerifying → "verifying sha256 digest", kDone → "success".
PullStatus ToPullStatus(const DownloadProgress& progress);

// One NDJSON line (no "\n"); digest, total, completed and detail only when set.
std::string PullStatusJson(const PullStatus& status);

}  // namespace hangar

#endif  // HANGAR_FETCH_PULL_STATUS_H_
