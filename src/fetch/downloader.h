// Downloader: one remote file to one local file, fast and safe.
//
//  - Parallel ranged GETs over N connections on the final (redirected) URL;
//    small chunks handed out in ascending order; when the queue is empty an
//    idle connection halves the largest outstanding chunk, or takes over a
//    chunk that has made no progress for `slow_chunk_ms`: no slow tail. A
//    server without Range support gets one stream.
//  - SHA-256 computed while downloading: the contiguous written prefix is
//    hashed as it grows (read back from the page cache), so verification needs
//    no second pass over the file. A mismatch removes the partial file,
//    downloads once more, then fails with DataLoss naming both digests.
//  - Resumable: the partial file (e.g. the Hugging Face cache's
//    `blobs/<sha256>.incomplete`) has a state file beside it
//    (download_state.h) naming the written ranges and the hash midstate,
//    written before a run's first byte and then about every `checkpoint_ms`
//    after an fdatasync of the data. After Ctrl-C (cancellation) or an error
//    the partial file is cut to its contiguous written prefix
//    (trim_partial_on_stop), which other tools that resume by file size also
//    understand.
//  - Retries per chunk with jittered exponential backoff, honouring
//    Retry-After, on 408/429/5xx, connection errors, cut bodies and stalls.
//  - An exclusive flock on the lock path: a second process downloading the
//    same file waits, then finds the destination and reuses it.
//  - The destination appears only after verification, by an atomic rename of
//    the fsynced partial file (and an fsync of its folder).
//  - A bandwidth cap shared by every connection (and by other downloads when
//    a RateLimiter is passed), a free-space check before writing.
//
// Memory stays small whatever the file size: connections write straight to
// the partial file; the hasher reads it back in 4 MiB pieces.
//
// A Hugging Face file into the HF cache, for example:
//
//   CurlHttpClient http;  // one per process, wired in main()
//   Downloader downloader(http);
//   DownloadRequest req;
//   req.sources = {{hub + "/org/repo/resolve/" + commit + "/" + path,
//                   {{"Authorization", "Bearer " + token}}}};  // never sent to the CDN
//   req.destination = repo_dir / "blobs" / sha256;
//   req.partial_path = repo_dir / "blobs" / (sha256 + ".incomplete");
//   req.lock_path = hub_cache / ".locks" / "models--org--repo" / (sha256 + ".lock");
//   req.expected_sha256 = sha256;  // X-Linked-Etag / the tree listing's lfs.oid
//   req.expected_size = size;
//   ASSIGN_OR_RETURN(DownloadResult r, downloader.Download(req, options, on_progress));
//   // r.first_response.FindHeader("X-Repo-Commit") comes from the hub's redirect.
//
// A Downloader is thread-safe: several downloads may run at once on one
// object (each call has its own threads and state). The HttpClient is not
// owned and must outlive it. Progress callbacks run on the calling thread.
#ifndef HANGAR_FETCH_DOWNLOADER_H_
#define HANGAR_FETCH_DOWNLOADER_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "fetch/http_client.h"
#include "fetch/rate_limiter.h"

namespace hangar {

// Where the bytes come from. Several sources are mirrors of the same bytes,
// tried in order when one fails for good.
struct DownloadSource {
  std::string url;      // as resolved by a source; redirects are followed
  HttpHeaders headers;  // e.g. Authorization; never sent to another origin
};

struct DownloadRequest {
  std::vector<DownloadSource> sources;  // at least one
  std::filesystem::path destination;    // the finished, verified file
  std::filesystem::path partial_path;   // empty: destination + ".incomplete"
  std::filesystem::path state_path;     // empty: partial_path + ".state"
  std::filesystem::path lock_path;      // empty: partial_path + ".lock"
  std::optional<uint64_t> expected_size;
  std::string expected_sha256;  // hex; empty: not checked (the digest is still computed)
  std::string name;             // in messages and progress; empty: destination's file name
  // Polled often; true stops the download with Cancelled (partial kept).
  std::function<bool()> cancelled;
};

struct DownloadOptions {
  int connections = 8;
  uint64_t chunk_bytes = 8 << 20;      // unit handed to a connection
  uint64_t min_split_bytes = 1 << 20;  // a chunk is halved only if each half is this big
  uint64_t max_bytes_per_second = 0;   // 0: no cap
  // A cap shared with other downloads; used instead of max_bytes_per_second.
  // Not owned.
  RateLimiter* rate_limiter = nullptr;
  int64_t connect_timeout_ms = 15'000;
  int64_t stall_timeout_ms = 30'000;  // no byte on a connection this long: retry it
  int64_t slow_chunk_ms = 3'000;      // no progress this long: an idle connection takes over
  int max_attempts = 6;               // per chunk, failures in a row without progress
  int64_t backoff_initial_ms = 500;
  int64_t backoff_max_ms = 30'000;
  int64_t max_retry_after_s = 600;  // a longer Retry-After fails instead of waiting
  bool check_free_space = true;
  int64_t checkpoint_ms = 1'000;
  int64_t progress_ms = 200;
  bool redownload_on_mismatch = true;  // one automatic re-download after a bad digest
  // On a clean stop (cancel, error) cut the partial file to its contiguous
  // written prefix, dropping chunks written out of order (at most about
  // connections x chunk_bytes), so that tools which resume by file size (the
  // Hugging Face cache's `.incomplete` files) can never append at the wrong
  // place. false keeps every written chunk for Hangar's own resume.
  bool trim_partial_on_stop = true;
};

struct DownloadProgress {
  enum class Phase {
    kWaiting,      // another process holds the lock
    kConnecting,   // first request in flight
    kDownloading,  // bytes arriving
    kRetrying,     // a request failed; `detail` says why and when
    kVerifying,    // all bytes written, hash finishing
    kDone,         // verified and in place
  };
  Phase phase = Phase::kConnecting;
  std::string name;
  std::string digest;      // "sha256:<hex>" when the expected digest is known
  uint64_t completed = 0;  // bytes written (including those of an earlier run)
  uint64_t total = 0;      // 0 while unknown
  double bytes_per_second = 0;
  std::optional<int64_t> eta_seconds;
  int connections = 0;  // requests in flight
  std::string detail;
};
using DownloadProgressFn = std::function<void(const DownloadProgress&)>;

struct DownloadResult {
  std::filesystem::path path;  // the destination
  uint64_t size = 0;
  std::string sha256;          // computed (equal to the expected one when that was given)
  bool reused = false;         // the destination was already there (earlier run, other process)
  uint64_t resumed_bytes = 0;  // bytes kept from an earlier, interrupted run
  uint64_t fetched_bytes = 0;  // body bytes written by this call
  int retries = 0;             // failed requests that were retried
  int steals = 0;              // chunks split or taken over by an idle connection
  bool ranged = true;          // false: the server had no Range support (one stream)
  int attempts = 1;            // 2 after a re-download for a bad digest
  // The first answer (status, headers, every redirect hop); empty when reused
  // or when nothing was left to fetch.
  HttpResponse first_response;
  int64_t verify_ms = 0;  // from the last byte written to the digest known
};

class Downloader {
 public:
  explicit Downloader(HttpClient& http);

  // Downloads `request` into its destination. On success the destination
  // holds the verified bytes. Failures (the partial file and its state are
  // kept for a later resume unless said otherwise):
  //   InvalidArgument     no source, no destination, a malformed expected digest
  //   NotFound, FailedPrecondition, InvalidArgument  from the server (404,
  //                       401/403, ...) via every source; FailedPrecondition
  //                       also when the server's size differs from the expected
  //   Unavailable         network failures after max_attempts per chunk
  //   ResourceExhausted   not enough free space (with the numbers), or the disk
  //                       filled up while writing (partial kept, "resume")
  //   DataLoss            digest still wrong after the re-download (both named;
  //                       partial removed)
  //   Cancelled           request.cancelled turned true
  Result<DownloadResult> Download(const DownloadRequest& request, const DownloadOptions& options,
                                  const DownloadProgressFn& progress = {});

 private:
  HttpClient& http_;
};

}  // namespace hangar

#endif  // HANGAR_FETCH_DOWNLOADER_H_
