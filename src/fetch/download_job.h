// DownloadJob: one call of Downloader::Download() (downloader.h): its
// threads (one per connection, a checkpoint thread, the calling thread as
// coordinator and hasher) and everything they share. Private to the fetch
// module.
//
// Concurrency: every member below `mu_` is guarded by it, except the atomics
// and what a comment says otherwise. The hasher has its own lock, taken before
// mu_ (its callbacks take mu_), never while holding mu_.
//
// Epochs: `epoch_` counts how often the written bytes were thrown away (the
// remote file changed, a server without ranges restarted from byte 0). A
// request or a hash step of an older epoch must not mark or publish anything.
//
// downloader.cc has the top level (lock, reuse, attempts, the partial file's
// state, checkpoints, progress, the final rename); download_job.cc the
// connections (what to ask for, answers, bodies, retries).
#ifndef HANGAR_FETCH_DOWNLOAD_JOB_H_
#define HANGAR_FETCH_DOWNLOAD_JOB_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "core/status.h"
#include "fetch/chunk_scheduler.h"
#include "fetch/downloader.h"
#include "fetch/http_client.h"
#include "fetch/prefix_hasher.h"
#include "fetch/range_set.h"
#include "fetch/rate_limiter.h"
#include "fetch/resumable_sha256.h"

namespace hangar::internal {

inline constexpr uint64_t kMaxHashLag = 32 << 20;
inline constexpr std::string_view kSegmentDone = "segment complete";

int64_t NowUs();

class DownloadJob {
 public:
  // Neither the client, the request nor the callback are owned; they must
  // outlive the job.
  DownloadJob(HttpClient& http, const DownloadRequest& req, const DownloadOptions& opt,
              const DownloadProgressFn& progress);

  // The whole download (Downloader::Download's contract).
  Result<DownloadResult> Run();

 private:
  static DownloadOptions Sanitized(DownloadOptions o);

  bool UserCancelled() const { return req_.cancelled && req_.cancelled(); }
  bool Complete() const { return total_ && done_.Covers(0, *total_); }

  Result<bool> ReuseDestination(DownloadResult& result);
  Status Transfer();
  void LoadState();
  Status CheckFreeSpace(uint64_t total);
  void Preallocate(uint64_t total);

  void WorkerLoop();
  std::shared_ptr<Segment> Next();
  void RunSegment(const std::shared_ptr<Segment>& seg);
  Status OnResponse(Segment& seg, const HttpResponse& resp);
  Status OnProbeResponse(Segment& seg, const HttpResponse& resp);
  Status OnBody(Segment& seg, std::string_view data);
  void Finish(const std::shared_ptr<Segment>& seg, const Result<HttpResponse>& result);
  void Retry(Segment& seg, const Status& why, std::optional<int64_t> retry_after_s);
  void SourceFailed(Segment& seg, const Status& why);
  void Requeue(uint64_t begin, uint64_t end, int attempts, int64_t not_before_us);
  void ResetProgress();
  // Forgets every written byte (a new epoch: the hash restarts). Under mu_.
  void DiscardWritten() {
    done_.Clear();
    ++epoch_;
    hash_snapshot_.reset();
    resumed_bytes_ = 0;
  }
  int64_t BackoffUs(int attempts);

  void Coordinate();
  enum class CheckpointKind {
    kFirst,      // before any connection writes: the state this run starts from
    kPeriodic,   // every checkpoint_ms, when more bytes were written since the last
    kFinalStop,  // the run stops on an error or a cancellation (may trim the file)
  };
  // Persists done_ and the hash midstate (download_state.h) after an
  // fdatasync of the partial file; best effort: a state that cannot be
  // written leaves the previous one (a resume then redoes more).
  void Checkpoint(CheckpointKind kind);
  void EmitProgress(DownloadProgress::Phase phase);

  Status Finalize();
  std::string KeptMessage();

  HttpClient& http_;
  const DownloadRequest& req_;
  DownloadOptions opt_;
  const DownloadProgressFn& progress_fn_;
  std::string name_;
  std::filesystem::path partial_, state_path_, lock_path_;
  std::string expected_;
  std::unique_ptr<RateLimiter> own_limiter_;
  RateLimiter* limiter_ = nullptr;
  int fd_ = -1;

  // Everything below is guarded by mu_ unless said otherwise.
  std::mutex mu_;
  std::condition_variable work_cv_;  // workers wait for work
  std::condition_variable hash_cv_;  // the coordinator waits for a longer prefix
  std::condition_variable checkpoint_cv_;
  std::mt19937_64 rng_;
  RangeSet done_;
  std::optional<uint64_t> total_;
  std::string etag_;
  bool free_space_checked_ = false;
  bool probed_ = false;
  bool probe_in_flight_ = false;
  int probe_attempts_ = 0;
  int64_t probe_not_before_us_ = 0;
  bool ranged_ = true;
  bool pending_built_ = false;
  size_t source_index_ = 0;
  int reresolves_ = 0;
  std::string final_url_;
  HttpHeaders chunk_headers_;
  ChunkScheduler sched_;
  int64_t global_not_before_us_ = 0;
  Status fatal_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> complete_{false};
  uint64_t epoch_ = 0;
  std::optional<Sha256Midstate> hash_snapshot_;
  uint64_t resumed_bytes_ = 0;
  uint64_t fetched_ = 0;
  int retries_ = 0;
  int64_t last_byte_us_ = 0;
  std::string retry_detail_;
  int64_t retry_detail_us_ = 0;
  HttpResponse first_response_;
  bool have_first_response_ = false;

  // The hash of the written prefix (made per attempt, with the partial file).
  std::unique_ptr<PrefixHasher> hasher_;

  // Coordinator-only state.
  std::deque<std::pair<int64_t, uint64_t>> speed_samples_;  // (time, fetched)
  std::string digest_;
  int64_t verify_ms_ = 0;

  // Checkpoint-only state.
  uint64_t checkpointed_size_ = 0;
};

}  // namespace hangar::internal

#endif  // HANGAR_FETCH_DOWNLOAD_JOB_H_
