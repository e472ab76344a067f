#include "fetch/downloader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <limits>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include "core/file_util.h"
#include "core/sha256.h"
#include "core/strings.h"
#include "core/units.h"
#include "fetch/download_state.h"
#include "fetch/file_lock.h"
#include "fetch/range_set.h"
#include "fetch/resumable_sha256.h"
#include "fetch/url.h"
#include "hardware/disk.h"

namespace hangar {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kUnknownEnd = std::numeric_limits<uint64_t>::max();
constexpr uint64_t kHashPiece = 4 << 20;
constexpr uint64_t kMaxHashLag = 32 << 20;
constexpr std::string_view kSegmentDone = "segment complete";

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool IsDiskFull(int err) { return err == ENOSPC || err == EDQUOT || err == EFBIG; }

std::string Bytes(uint64_t n) { return FormatBytes(n); }

// One request in flight: bytes [cursor, end) of the file are still wanted
// from it. Guarded by the job's mutex, except `abandoned`.
struct Segment {
  uint64_t cursor = 0;
  uint64_t end = 0;  // exclusive; kUnknownEnd for a stream of unknown length
  uint64_t start_cursor = 0;
  uint64_t request_end = 0;  // `end` when the request was sent
  int attempts = 0;          // failures in a row before this request
  bool probe = false;
  uint64_t epoch = 0;
  int64_t last_progress_us = 0;
  std::atomic<bool> abandoned{false};
};

struct Pending {
  uint64_t end = 0;
  int attempts = 0;
  int64_t not_before_us = 0;
};

class Job {
 public:
  Job(HttpClient& http, const DownloadRequest& req, const DownloadOptions& opt,
      const DownloadProgressFn& progress)
      : http_(http), req_(req), opt_(opt), progress_fn_(progress), rng_(std::random_device{}()) {
    name_ = req.name.empty() ? req.destination.filename().string() : req.name;
    partial_ = req.partial_path.empty() ? fs::path(req.destination.string() + ".incomplete")
                                        : req.partial_path;
    state_path_ = req.state_path.empty() ? fs::path(partial_.string() + ".state") : req.state_path;
    lock_path_ = req.lock_path.empty() ? fs::path(partial_.string() + ".lock") : req.lock_path;
    expected_ = AsciiLower(req.expected_sha256);
    if (opt_.rate_limiter != nullptr) {
      limiter_ = opt_.rate_limiter;
    } else if (opt_.max_bytes_per_second > 0) {
      own_limiter_ = std::make_unique<RateLimiter>(opt_.max_bytes_per_second);
      limiter_ = own_limiter_.get();
    }
    opt_.connections = std::max(1, opt_.connections);
    opt_.chunk_bytes = std::max<uint64_t>(opt_.chunk_bytes, 64 << 10);
    opt_.min_split_bytes = std::max<uint64_t>(opt_.min_split_bytes, 64 << 10);
  }

  Result<DownloadResult> Run();

 private:
  bool UserCancelled() const { return req_.cancelled && req_.cancelled(); }
  bool Complete() const { return total_ && done_.Covers(0, *total_); }

  Result<bool> ReuseDestination(DownloadResult& result);
  Status Transfer();
  void LoadState();
  Status CheckFreeSpace(uint64_t total);
  void Preallocate(uint64_t total);

  void WorkerLoop();
  std::shared_ptr<Segment> Next();
  std::shared_ptr<Segment> NewSegment(uint64_t begin, uint64_t end, int attempts);
  void RunSegment(const std::shared_ptr<Segment>& seg);
  Status OnResponse(Segment& seg, const HttpResponse& resp);
  Status OnProbeResponse(Segment& seg, const HttpResponse& resp);
  Status OnBody(Segment& seg, std::string_view data);
  void Finish(const std::shared_ptr<Segment>& seg, const Result<HttpResponse>& result);
  void Retry(Segment& seg, const Status& why, std::optional<int64_t> retry_after_s);
  void SourceFailed(Segment& seg, const Status& why);
  void Requeue(uint64_t begin, uint64_t end, int attempts, int64_t not_before_us);
  void ResetProgress();
  int64_t BackoffUs(int attempts);

  void Coordinate();
  // Hashes the written prefix past what is hashed, from `data` (the bytes at
  // data_off the caller just wrote) where it can, else read back from the
  // partial file; at most `max_pieces` pieces. `wait` false: returns at once
  // when another thread is hashing.
  Status HashPrefix(std::string_view data, uint64_t data_off, int max_pieces, bool wait);
  void Checkpoint(bool final_stop);
  void EmitProgress(DownloadProgress::Phase phase);

  Status Finalize();
  std::string KeptMessage();

  HttpClient& http_;
  const DownloadRequest& req_;
  DownloadOptions opt_;
  const DownloadProgressFn& progress_fn_;
  std::string name_;
  fs::path partial_, state_path_, lock_path_;
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
  std::map<uint64_t, Pending> pending_;
  std::list<std::shared_ptr<Segment>> active_;
  int64_t global_not_before_us_ = 0;
  Status fatal_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> complete_{false};
  uint64_t epoch_ = 0;
  std::optional<Sha256Midstate> hash_snapshot_;
  uint64_t resumed_bytes_ = 0;
  uint64_t fetched_ = 0;
  int retries_ = 0;
  int steals_ = 0;
  int64_t last_byte_us_ = 0;
  std::string retry_detail_;
  int64_t retry_detail_us_ = 0;
  HttpResponse first_response_;
  bool have_first_response_ = false;

  // The hash of the prefix, guarded by hash_mu_ (taken before mu_, never
  // while holding it); hashed_ is also read without it. hash_epoch_ changes
  // under both locks.
  std::mutex hash_mu_;
  ResumableSha256 sha_;
  std::atomic<uint64_t> hashed_{0};
  uint64_t hash_epoch_ = 0;
  std::string hash_buf_;

  // Coordinator-only state.
  std::deque<std::pair<int64_t, uint64_t>> speed_samples_;  // (time, fetched)
  std::string digest_;
  int64_t verify_ms_ = 0;

  // Checkpoint-only state.
  uint64_t checkpointed_size_ = 0;
};

// ---------------------------------------------------------------- top level

Result<DownloadResult> Job::Run() {
  if (req_.sources.empty()) return InvalidArgumentError("no URL to download " + name_ + " from");
  if (req_.destination.empty()) return InvalidArgumentError("no destination for " + name_);
  if (!expected_.empty() && !IsSha256Hex(expected_)) {
    return InvalidArgumentError("expected SHA-256 of " + name_ +
                                " is not 64 hex digits: " + req_.expected_sha256);
  }
  ASSIGN_OR_RETURN(FileLock lock, FileLock::Acquire(
                                      lock_path_, [&] { return UserCancelled(); },
                                      [&] { EmitProgress(DownloadProgress::Phase::kWaiting); }));
  DownloadResult result;
  result.path = req_.destination;
  ASSIGN_OR_RETURN(bool reused, ReuseDestination(result));
  if (reused) return result;

  for (int attempt = 1;; ++attempt) {
    Status s = Transfer();
    if (!s.ok()) {
      if (fd_ >= 0) ::close(fd_);
      fd_ = -1;
      return s;
    }
    if (expected_.empty() || digest_ == expected_) break;
    // A bad digest: nothing of this partial file can be trusted.
    ::close(fd_);
    fd_ = -1;
    std::error_code ec;
    fs::remove(partial_, ec);
    fs::remove(state_path_, ec);
    if (attempt == 1 && opt_.redownload_on_mismatch) {
      ResetProgress();
      result.attempts = 2;
      continue;
    }
    return DataLossError("checksum mismatch for " + name_ + ": expected " + expected_ + ", got " +
                         digest_ + "; the partial file was removed, run the pull again");
  }
  RETURN_IF_ERROR(Finalize());
  result.size = total_.value_or(0);
  result.sha256 = digest_;
  result.resumed_bytes = resumed_bytes_;
  result.fetched_bytes = fetched_;
  result.retries = retries_;
  result.steals = steals_;
  result.ranged = ranged_;
  result.first_response = first_response_;
  result.verify_ms = verify_ms_;
  EmitProgress(DownloadProgress::Phase::kDone);
  return result;
}

Result<bool> Job::ReuseDestination(DownloadResult& result) {
  std::error_code ec;
  if (!fs::is_regular_file(req_.destination, ec)) return false;
  uint64_t size = fs::file_size(req_.destination, ec);
  if (ec || (req_.expected_size && size != *req_.expected_size)) return false;
  if (expected_.empty()) {
    ASSIGN_OR_RETURN(result.sha256, Sha256File(req_.destination));
  } else {
    // Only verified files are renamed into place, so a file already there is
    // the expected one.
    result.sha256 = expected_;
  }
  result.size = size;
  result.reused = true;
  // Left over by a run that was killed between its rename and its clean-up.
  fs::remove(state_path_, ec);
  fs::remove(partial_, ec);
  {
    std::lock_guard lock(mu_);
    total_ = size;
    done_.Add(0, size);
  }
  EmitProgress(DownloadProgress::Phase::kDone);
  return true;
}

void Job::ResetProgress() {
  std::lock_guard lock(mu_);
  done_.Clear();
  total_.reset();
  etag_.clear();
  free_space_checked_ = false;
  probed_ = probe_in_flight_ = false;
  probe_attempts_ = 0;
  probe_not_before_us_ = 0;
  ranged_ = true;
  pending_built_ = false;
  source_index_ = 0;
  reresolves_ = 0;
  pending_.clear();
  active_.clear();
  global_not_before_us_ = 0;
  fatal_ = Status::Ok();
  stop_ = false;
  complete_ = false;
  ++epoch_;
  hash_snapshot_.reset();
  resumed_bytes_ = 0;
  retry_detail_.clear();
}

Status Job::Transfer() {
  std::error_code ec;
  if (partial_.has_parent_path()) fs::create_directories(partial_.parent_path(), ec);
  fd_ = ::open(partial_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    return UnavailableError("cannot open the partial file " + partial_.string() + ": " +
                            ErrnoText(errno));
  }
  LoadState();
  sha_ = ResumableSha256();
  hashed_ = 0;
  {
    std::lock_guard lock(mu_);
    hash_epoch_ = epoch_;
    if (hash_snapshot_) {
      sha_ = ResumableSha256(*hash_snapshot_);
      hashed_ = hash_snapshot_->bytes;
    }
    resumed_bytes_ = done_.Size();
    checkpointed_size_ = resumed_bytes_;
    if (req_.expected_size) {
      if (total_ && *total_ != *req_.expected_size) done_.Clear();
      total_ = *req_.expected_size;
    }
    if (total_) {
      if (Complete()) {
        probed_ = true;  // nothing left to fetch; only the hash may be missing
        complete_ = true;
      } else {
        RETURN_IF_ERROR(CheckFreeSpace(*total_));
      }
    }
  }

  std::vector<std::thread> workers;
  if (!complete_) {
    for (int i = 0; i < opt_.connections; ++i) workers.emplace_back([this] { WorkerLoop(); });
  }
  // Checkpoints wait for the disk (fdatasync), so they run apart from the
  // hashing and the connections.
  std::thread checkpointer([this] {
    std::unique_lock lock(mu_);
    while (!stop_) {
      checkpoint_cv_.wait_for(lock, std::chrono::milliseconds(opt_.checkpoint_ms),
                              [&] { return stop_.load(); });
      if (stop_) break;
      lock.unlock();
      Checkpoint(/*final_stop=*/false);
      lock.lock();
    }
  });
  Coordinate();
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  checkpoint_cv_.notify_all();
  for (auto& t : workers) t.join();
  checkpointer.join();

  Status fatal;
  {
    std::lock_guard lock(mu_);
    fatal = fatal_;
  }
  if (!fatal.ok()) {
    Checkpoint(/*final_stop=*/true);
    return Status(fatal.code(), fatal.message() + KeptMessage());
  }
  // Every thread that hashes has ended: the hash can be finished.
  digest_ = sha_.FinishHex();
  return Status::Ok();
}

std::string Job::KeptMessage() {
  std::lock_guard lock(mu_);
  uint64_t kept = done_.Size();
  if (kept == 0) return "";
  std::string of = total_ ? " of " + Bytes(*total_) : "";
  return "; " + Bytes(kept) + of + " kept in " + partial_.string() +
         ", run the pull again to resume";
}

void Job::LoadState() {
  struct stat st;
  uint64_t file_size = ::fstat(fd_, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  Result<DownloadState> state = ReadDownloadState(state_path_);
  std::lock_guard lock(mu_);
  if (state.ok()) {
    bool usable =
        state->expected_sha256 == expected_ || state->expected_sha256.empty() || expected_.empty();
    if (usable && req_.expected_size && state->size && *state->size != *req_.expected_size) {
      usable = false;
    }
    if (usable) {
      done_ = state->done;
      // Ranges past the end of the file cannot hold data (cut by another tool).
      done_.TruncateAt(file_size);
      total_ = state->size;
      etag_ = state->etag;
      if (state->hash && done_.Covers(0, state->hash->bytes)) hash_snapshot_ = state->hash;
      return;
    }
  } else if (state.status().code() == StatusCode::kNotFound && file_size > 0 &&
             !expected_.empty()) {
    // A partial file without a state, as huggingface_hub leaves one: its bytes
    // are a prefix of the file. The digest check at the end guards this.
    done_.Add(0, file_size);
    return;
  }
  if (::ftruncate(fd_, 0) != 0) {
    // The stale bytes stay but nothing claims them; they get overwritten.
  }
}

Status Job::CheckFreeSpace(uint64_t total) {
  free_space_checked_ = true;
  if (!opt_.check_free_space) return Status::Ok();
  uint64_t have = done_.Size();
  uint64_t need = total > have ? total - have : 0;
  Result<DiskInfo> disk =
      ProbeDisk(partial_.parent_path().empty() ? fs::path(".") : partial_.parent_path());
  if (!disk.ok()) return Status::Ok();  // cannot tell; writing will say if it fails
  struct stat st;
  uint64_t allocated = ::fstat(fd_, &st) == 0 ? static_cast<uint64_t>(st.st_blocks) * 512 : 0;
  uint64_t free = disk->free + std::min(allocated, need);  // preallocated blocks count as ours
  if (free < need) {
    return ResourceExhaustedError("not enough disk space for " + name_ + ": it needs " +
                                  Bytes(need) + " more, " + Bytes(disk->free) + " free in " +
                                  partial_.parent_path().string() +
                                  "; free some space (hangar cache prune) and run the pull again");
  }
  return Status::Ok();
}

void Job::Preallocate(uint64_t total) {
  if (total == 0) return;
  // Reserves the blocks without changing the file size, so the size keeps
  // meaning "bytes written" for tools that resume by size.
  ::fallocate(fd_, FALLOC_FL_KEEP_SIZE, 0, static_cast<off_t>(total));
}

// ---------------------------------------------------------------- workers

void Job::WorkerLoop() {
  while (std::shared_ptr<Segment> seg = Next()) RunSegment(seg);
}

std::shared_ptr<Segment> Job::NewSegment(uint64_t begin, uint64_t end, int attempts) {
  auto seg = std::make_shared<Segment>();
  seg->cursor = seg->start_cursor = begin;
  seg->end = end;
  seg->attempts = attempts;
  seg->epoch = epoch_;
  seg->last_progress_us = NowUs();
  active_.push_back(seg);
  return seg;
}

std::shared_ptr<Segment> Job::Next() {
  std::unique_lock lock(mu_);
  while (true) {
    if (stop_ || !fatal_.ok() || complete_) return nullptr;
    const int64_t now = NowUs();
    if (!probed_) {
      if (probe_in_flight_ || now < probe_not_before_us_) {
        work_cv_.wait_for(lock, std::chrono::milliseconds(50));
        continue;
      }
      // The first request goes to the source URL and also learns the final
      // URL, the size and whether ranges work; it fetches the first missing chunk.
      uint64_t begin = 0;
      auto missing = done_.Missing(0, total_.value_or(kUnknownEnd));
      if (!missing.empty()) begin = missing.front().first;
      uint64_t end = begin + opt_.chunk_bytes;
      if (total_) end = std::min(end, std::max(*total_, begin + 1));
      auto seg = NewSegment(begin, end, probe_attempts_);
      seg->probe = true;
      probe_in_flight_ = true;
      return seg;
    }
    if (Complete()) {
      complete_ = true;
      hash_cv_.notify_all();
      return nullptr;
    }
    if (!ranged_) return nullptr;  // one stream, owned by the worker that probed
    if (global_not_before_us_ > now) {
      work_cv_.wait_for(
          lock, std::chrono::microseconds(std::min<int64_t>(global_not_before_us_ - now, 100'000)));
      continue;
    }
    // The lowest pending range that is due, cut to one chunk.
    int64_t earliest = std::numeric_limits<int64_t>::max();
    for (auto it = pending_.begin(); it != pending_.end(); ++it) {
      if (it->second.not_before_us > now) {
        earliest = std::min(earliest, it->second.not_before_us);
        continue;
      }
      uint64_t begin = it->first;
      Pending p = it->second;
      pending_.erase(it);
      uint64_t end = std::min(p.end, begin + opt_.chunk_bytes);
      if (end < p.end) pending_[end] = p;
      return NewSegment(begin, end, p.attempts);
    }
    if (!pending_.empty()) {
      work_cv_.wait_for(lock,
                        std::chrono::microseconds(std::min<int64_t>(earliest - now, 100'000)));
      continue;
    }
    // Nothing queued: help the slowest outstanding chunk.
    Segment* split = nullptr;
    Segment* stuck = nullptr;
    for (const auto& s : active_) {
      if (s->abandoned || s->probe || s->epoch != epoch_ || s->end == kUnknownEnd) continue;
      uint64_t left = s->end > s->cursor ? s->end - s->cursor : 0;
      if (left >= 2 * opt_.min_split_bytes && (!split || left > split->end - split->cursor)) {
        split = s.get();
      }
      if (left > 0 && now - s->last_progress_us >= opt_.slow_chunk_ms * 1000 &&
          (!stuck || left > stuck->end - stuck->cursor)) {
        stuck = s.get();
      }
    }
    if (split != nullptr) {
      uint64_t left = split->end - split->cursor;
      uint64_t mid = split->cursor + left / 2;
      mid = std::min(split->end - opt_.min_split_bytes / 2, (mid + 0xffff) & ~uint64_t{0xffff});
      uint64_t end = split->end;
      split->end = mid;
      ++steals_;
      return NewSegment(mid, end, 0);
    }
    if (stuck != nullptr) {
      // No byte for a while: ask again on this connection; the stuck request
      // is cancelled (its bytes would be the same).
      stuck->abandoned = true;
      ++steals_;
      return NewSegment(stuck->cursor, stuck->end, stuck->attempts);
    }
    work_cv_.wait_for(lock, std::chrono::milliseconds(50));
  }
}

void Job::RunSegment(const std::shared_ptr<Segment>& seg) {
  HttpRequest r;
  {
    std::lock_guard lock(mu_);
    if (seg->probe) {
      r.url = req_.sources[source_index_].url;
      r.headers = req_.sources[source_index_].headers;
    } else {
      r.url = final_url_;
      r.headers = chunk_headers_;
    }
    if (seg->end != kUnknownEnd && (ranged_ || seg->probe)) {
      r.range = ByteRange{seg->cursor, seg->end - 1};
    }
    seg->start_cursor = seg->cursor;
    seg->request_end = seg->end;
  }
  r.connect_timeout_ms = opt_.connect_timeout_ms;
  r.stall_timeout_ms = opt_.stall_timeout_ms;
  r.rate_limiter = limiter_;
  r.errors = HttpErrorMode::kResponse;
  r.cancelled = [this, s = seg.get()] {
    return s->abandoned.load() || stop_.load() || complete_.load() || UserCancelled();
  };
  HttpStreamHandler handler;
  handler.on_response = [this, s = seg.get()](const HttpResponse& resp) {
    return OnResponse(*s, resp);
  };
  handler.on_body = [this, s = seg.get()](std::string_view d) { return OnBody(*s, d); };
  Result<HttpResponse> result = http_.Stream(r, handler);
  Finish(seg, result);
}

Status Job::OnResponse(Segment& seg, const HttpResponse& resp) {
  std::lock_guard lock(mu_);
  if (seg.probe) return OnProbeResponse(seg, resp);
  if (seg.end == kUnknownEnd || !ranged_) return Status::Ok();
  if (resp.status != 206) {
    return UnavailableError("the server answered " + std::to_string(resp.status) +
                            " to a range request for " + name_);
  }
  auto cr = ParseContentRange(resp.headers.Get("Content-Range").value_or(""));
  if (!cr || !cr->satisfied || cr->first != seg.cursor) {
    return UnavailableError("unexpected Content-Range \"" +
                            resp.headers.Get("Content-Range").value_or("") + "\" for " + name_);
  }
  std::string etag = UnquoteEtag(resp.headers.Get("ETag").value_or(""));
  if ((cr->total && total_ && *cr->total != *total_) ||
      (!etag.empty() && !etag_.empty() && etag != etag_)) {
    return FailedPreconditionError(name_ + " changed on the server during the download; run the " +
                                   "pull again to start over");
  }
  return Status::Ok();
}

Status Job::OnProbeResponse(Segment& seg, const HttpResponse& resp) {
  const DownloadSource& source = req_.sources[source_index_];
  std::optional<uint64_t> remote_total;
  bool ranged;
  if (resp.status == 206) {
    auto cr = ParseContentRange(resp.headers.Get("Content-Range").value_or(""));
    if (!cr || !cr->satisfied || cr->first != seg.cursor || !cr->total) {
      return UnavailableError("unusable Content-Range \"" +
                              resp.headers.Get("Content-Range").value_or("") + "\" from " +
                              RedactUrl(resp.url));
    }
    remote_total = cr->total;
    ranged = true;
  } else {
    remote_total = resp.ContentLength();
    ranged = false;
  }
  if (req_.expected_size && remote_total && *remote_total != *req_.expected_size) {
    return FailedPreconditionError(RedactUrl(resp.url) + " offers " +
                                   std::to_string(*remote_total) + " bytes for " + name_ +
                                   ", expected " + std::to_string(*req_.expected_size) +
                                   "; the source's listing and the file disagree");
  }
  std::string etag = UnquoteEtag(resp.headers.Get("ETag").value_or(""));
  bool changed = (total_ && remote_total && *total_ != *remote_total && !req_.expected_size) ||
                 (!etag_.empty() && !etag.empty() && etag_ != etag);
  if (changed || !ranged) {
    // Another file than the partial one holds, or a stream from byte 0.
    if (!done_.empty()) {
      done_.Clear();
      ++epoch_;
      seg.epoch = epoch_;
      resumed_bytes_ = 0;
      for (auto& s : active_) {
        if (s.get() != &seg) s->abandoned = true;
      }
      pending_.clear();
      pending_built_ = false;
    }
  }
  if (remote_total) total_ = remote_total;
  etag_ = etag;
  ranged_ = ranged;
  final_url_ = resp.url;
  chunk_headers_ = source.headers;
  if (!SameOrigin(source.url, resp.url)) StripCredentials(chunk_headers_);
  if (!have_first_response_) {
    first_response_ = resp;
    have_first_response_ = true;
  }
  if (!ranged_) {
    seg.cursor = seg.start_cursor = 0;
    seg.end = total_.value_or(kUnknownEnd);
  } else {
    seg.end = std::min(seg.end, *total_);
  }
  if (total_ && !free_space_checked_) RETURN_IF_ERROR(CheckFreeSpace(*total_));
  if (total_) Preallocate(*total_);
  if (ranged_ && !pending_built_) {
    RangeSet taken = done_;
    for (const auto& s : active_) {
      if (!s->abandoned && s->end != kUnknownEnd) taken.Add(s->cursor, s->end);
    }
    for (auto [b, e] : taken.Missing(0, *total_)) Requeue(b, e, 0, 0);
    pending_built_ = true;
  }
  seg.probe = false;
  probed_ = true;
  probe_in_flight_ = false;
  probe_attempts_ = 0;
  work_cv_.notify_all();
  return Status::Ok();
}

Status Job::OnBody(Segment& seg, std::string_view data) {
  uint64_t off;
  size_t n;
  {
    std::lock_guard lock(mu_);
    if (seg.abandoned || seg.epoch != epoch_)
      return CancelledError("chunk handed to another request");
    off = seg.cursor;
    n = static_cast<size_t>(std::min<uint64_t>(data.size(), seg.end - off));
  }
  size_t written = 0;
  while (written < n) {
    ssize_t w =
        ::pwrite(fd_, data.data() + written, n - written, static_cast<off_t>(off + written));
    if (w < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      if (IsDiskFull(err)) {
        return ResourceExhaustedError("the disk is full (" + ErrnoText(err) + ") writing " + name_ +
                                      " to " + partial_.string());
      }
      return UnavailableError("cannot write " + partial_.string() + ": " + ErrnoText(err));
    }
    written += static_cast<size_t>(w);
  }
  bool finished;
  uint64_t prefix;
  {
    std::lock_guard lock(mu_);
    if (seg.abandoned || seg.epoch != epoch_)
      return CancelledError("chunk handed to another request");
    const uint64_t prefix_before = done_.PrefixEnd();
    done_.Add(off, off + n);
    seg.cursor = off + n;
    seg.last_progress_us = last_byte_us_ = NowUs();
    fetched_ += n;
    // Stop early only when the rest of the answer is not wanted (the chunk
    // was split); a request that simply ended keeps its connection for reuse.
    finished = n < data.size() || (seg.cursor >= seg.end && seg.end < seg.request_end);
    prefix = done_.PrefixEnd();
    if (prefix != prefix_before) hash_cv_.notify_one();
  }
  // The connection at the front of the prefix hashes its own bytes while they
  // are in memory. When the hash falls behind (a CPU busier than the network)
  // connections stop to help it, so that the last byte is soon verified.
  const uint64_t hashed = hashed_;
  const bool at_front = hashed >= off && hashed < off + n;
  const bool behind = prefix > hashed + kMaxHashLag;
  if (at_front || behind) {
    Status hs = HashPrefix(data.substr(0, n), off, /*max_pieces=*/4, /*wait=*/behind);
    if (!hs.ok()) return hs;
  }
  if (finished) return CancelledError(std::string(kSegmentDone));
  return Status::Ok();
}

void Job::Finish(const std::shared_ptr<Segment>& seg, const Result<HttpResponse>& result) {
  std::lock_guard lock(mu_);
  active_.remove(seg);
  work_cv_.notify_all();
  hash_cv_.notify_all();
  if (stop_ || !fatal_.ok()) return;
  if (seg->abandoned || seg->epoch != epoch_) {
    if (seg->probe) probe_in_flight_ = false;
    return;
  }
  if (result.ok()) {
    const HttpResponse& resp = *result;
    if (resp.is_success()) {
      if (seg->end == kUnknownEnd) {
        total_ = seg->cursor;  // a stream of unknown length ended cleanly
      } else if (seg->cursor < seg->end) {
        Retry(*seg,
              UnavailableError("the body from " + RedactUrl(resp.url) + " ended " +
                               std::to_string(seg->end - seg->cursor) + " bytes early"),
              std::nullopt);
      }
      if (Complete()) complete_ = true;
      return;
    }
    Status why = HttpErrorStatus(resp);
    if (seg->probe && resp.status == 416) {
      auto cr = ParseContentRange(resp.headers.Get("Content-Range").value_or(""));
      if (cr && cr->total && *cr->total == 0) {
        // An empty file: nothing to fetch.
        total_ = 0;
        probed_ = true;
        probe_in_flight_ = false;
        final_url_ = resp.url;
        if (!have_first_response_) {
          first_response_ = resp;
          have_first_response_ = true;
        }
        complete_ = true;
        return;
      }
      if (cr && cr->total && seg->cursor >= *cr->total && !done_.empty()) {
        // The partial state is of a longer file: start over.
        done_.Clear();
        ++epoch_;
        resumed_bytes_ = 0;
        total_.reset();
        probe_in_flight_ = false;
        return;
      }
    }
    if (IsRetryableHttpStatus(resp.status)) {
      Retry(*seg, why, resp.retry_after_seconds);
      return;
    }
    bool expired =
        resp.status == 401 || resp.status == 403 || resp.status == 404 || resp.status == 410;
    if (expired && !seg->probe && final_url_ != req_.sources[source_index_].url &&
        reresolves_ < 3) {
      // A signed CDN URL may expire: resolve the source URL again.
      ++reresolves_;
      probed_ = false;
      Requeue(seg->cursor, seg->end, seg->attempts, 0);
      return;
    }
    SourceFailed(*seg, why);
    return;
  }
  const Status& st = result.status();
  if (st.code() == StatusCode::kCancelled) {
    if (st.message() == kSegmentDone) {
      if (Complete()) complete_ = true;
      return;
    }
    if (seg->probe) probe_in_flight_ = false;
    if (UserCancelled() && fatal_.ok()) {
      fatal_ = CancelledError("download of " + name_ + " cancelled");
    }
    return;
  }
  if (st.code() == StatusCode::kUnavailable) {
    Retry(*seg, st, std::nullopt);
    return;
  }
  fatal_ = st;
}

int64_t Job::BackoffUs(int attempts) {
  int64_t base = opt_.backoff_initial_ms * 1000;
  for (int i = 1; i < attempts && base < opt_.backoff_max_ms * 1000; ++i) base *= 2;
  base = std::min(base, opt_.backoff_max_ms * 1000);
  // Jitter in [base/2, base]: connections that failed together do not retry together.
  std::uniform_int_distribution<int64_t> dist(base / 2, std::max<int64_t>(base / 2, base));
  return dist(rng_);
}

void Job::Retry(Segment& seg, const Status& why, std::optional<int64_t> retry_after_s) {
  const bool progressed = seg.cursor > seg.start_cursor;
  const int attempts = progressed ? 1 : seg.attempts + 1;
  ++retries_;
  if (attempts >= opt_.max_attempts) {
    SourceFailed(seg, UnavailableError("giving up on " + name_ + " after " +
                                       std::to_string(attempts) + " attempts: " + why.message()));
    return;
  }
  const int64_t now = NowUs();
  int64_t delay = BackoffUs(attempts);
  if (retry_after_s) {
    if (*retry_after_s > opt_.max_retry_after_s) {
      SourceFailed(seg, UnavailableError(why.message() + "; that is longer than Hangar waits (" +
                                         std::to_string(opt_.max_retry_after_s) + " s)"));
      return;
    }
    delay = std::max(delay, *retry_after_s * 1'000'000);
    global_not_before_us_ = std::max(global_not_before_us_, now + *retry_after_s * 1'000'000);
  }
  retry_detail_ =
      why.message() + "; retrying in " + std::to_string((delay + 500'000) / 1'000'000) + " s";
  retry_detail_us_ = now;
  if (seg.probe || !probed_) {
    probe_in_flight_ = false;
    probe_attempts_ = attempts;
    probe_not_before_us_ = now + delay;
    return;
  }
  if (!ranged_) {
    // No ranges: the only way on is from byte 0 again.
    done_.Clear();
    ++epoch_;
    probed_ = false;
    probe_attempts_ = attempts;
    probe_not_before_us_ = now + delay;
    return;
  }
  Requeue(seg.cursor, seg.end, attempts, now + delay);
}

void Job::SourceFailed(Segment& seg, const Status& why) {
  if (source_index_ + 1 < req_.sources.size()) {
    ++source_index_;
    probed_ = false;
    probe_in_flight_ = false;
    probe_attempts_ = 0;
    reresolves_ = 0;
    etag_.clear();  // another server may name the same bytes differently
    if (ranged_ && pending_built_ && !seg.probe && seg.end != kUnknownEnd) {
      Requeue(seg.cursor, seg.end, 0, 0);
    }
    retry_detail_ = why.message() + "; trying the next source";
    retry_detail_us_ = NowUs();
    return;
  }
  fatal_ = why;
}

void Job::Requeue(uint64_t begin, uint64_t end, int attempts, int64_t not_before_us) {
  if (begin >= end) return;
  pending_[begin] = Pending{end, attempts, not_before_us};
  work_cv_.notify_all();
}

// ---------------------------------------------------------------- coordinator

void Job::Coordinate() {
  int64_t last_progress = 0;
  while (true) {
    {
      std::unique_lock lock(mu_);
      hash_cv_.wait_for(lock, std::chrono::milliseconds(50), [&] {
        return !fatal_.ok() || done_.PrefixEnd() > hashed_ + 64 ||
               (total_ && done_.PrefixEnd() == *total_ && hashed_ < *total_) ||
               (total_ && hashed_ == *total_ && complete_);
      });
    }
    if (UserCancelled()) {
      std::lock_guard lock(mu_);
      if (fatal_.ok()) fatal_ = CancelledError("download of " + name_ + " cancelled");
    }
    {
      std::lock_guard lock(mu_);
      if (!fatal_.ok()) break;
    }
    Status hs = HashPrefix({}, 0, /*max_pieces=*/8, /*wait=*/true);
    if (!hs.ok()) {
      std::lock_guard lock(mu_);
      if (fatal_.ok()) fatal_ = hs;
      break;
    }
    bool finished;
    {
      std::lock_guard lock(mu_);
      finished = total_ && complete_ && hashed_ == *total_ && Complete();
    }
    if (finished) {
      std::lock_guard lock(mu_);
      verify_ms_ = last_byte_us_ > 0 ? std::max<int64_t>(0, (NowUs() - last_byte_us_) / 1000) : 0;
      break;
    }
    const int64_t now = NowUs();
    if (now - last_progress >= opt_.progress_ms * 1000) {
      bool all_written;
      {
        std::lock_guard lock(mu_);
        all_written = Complete();
      }
      EmitProgress(all_written ? DownloadProgress::Phase::kVerifying
                               : DownloadProgress::Phase::kDownloading);
      last_progress = now;
    }
  }
}

Status Job::HashPrefix(std::string_view data, uint64_t data_off, int max_pieces, bool wait) {
  std::unique_lock hash_lock(hash_mu_, std::defer_lock);
  if (wait) {
    hash_lock.lock();
  } else if (!hash_lock.try_lock()) {
    return Status::Ok();  // another thread is hashing; it or the next one goes on
  }
  if (hash_buf_.empty()) hash_buf_.resize(kHashPiece);
  for (int pieces = 0; pieces < max_pieces; ++pieces) {
    uint64_t prefix, total;
    {
      std::lock_guard lock(mu_);
      if (hash_epoch_ != epoch_) {
        hash_epoch_ = epoch_;
        sha_ = ResumableSha256();
        hashed_ = 0;
        hash_snapshot_.reset();
      }
      prefix = done_.PrefixEnd();
      total = total_.value_or(kUnknownEnd);
    }
    const uint64_t at = hashed_;
    if (prefix <= at) return Status::Ok();
    // Midstates exist only at block ends: hash whole blocks unless at the end.
    auto whole_blocks = [&](uint64_t n) { return at + n == total ? n : n - n % 64; };
    std::string_view piece;
    if (at >= data_off && at < data_off + data.size()) {
      // The bytes are still in the caller's buffer: no read back.
      uint64_t n = whole_blocks(std::min(prefix, data_off + data.size()) - at);
      piece = data.substr(at - data_off, n);
    }
    if (piece.empty()) {
      uint64_t n = whole_blocks(std::min<uint64_t>(prefix - at, kHashPiece));
      if (n == 0) return Status::Ok();
      size_t got = 0;
      while (got < n) {
        ssize_t r = ::pread(fd_, hash_buf_.data() + got, n - got, static_cast<off_t>(at + got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
          return UnavailableError("cannot read back " + partial_.string() + " for hashing: " +
                                  (r < 0 ? ErrnoText(errno) : std::string("file is shorter")));
        }
        got += static_cast<size_t>(r);
      }
      piece = std::string_view(hash_buf_.data(), n);
    }
    sha_.Update(piece);
    hashed_ = at + piece.size();
    std::lock_guard lock(mu_);
    if (hash_epoch_ == epoch_) {
      if (auto mid = sha_.Midstate()) hash_snapshot_ = mid;
    }
    if (hashed_ == total) hash_cv_.notify_all();
  }
  return Status::Ok();
}

void Job::Checkpoint(bool final_stop) {
  DownloadState st;
  {
    std::lock_guard lock(mu_);
    if (!final_stop && done_.Size() == checkpointed_size_) return;
    checkpointed_size_ = done_.Size();
    st.size = total_;
    st.etag = etag_;
    st.expected_sha256 = expected_;
    st.done = done_;
    if (hash_snapshot_ && hash_epoch_ == epoch_) st.hash = hash_snapshot_;
  }
  if (final_stop && opt_.trim_partial_on_stop) {
    // Keep only the contiguous prefix, and cut the file there: a tool that
    // resumes by file size (huggingface_hub) then appends at the right place.
    uint64_t prefix = st.done.PrefixEnd();
    st.done.TruncateAt(prefix);
    if (st.hash && st.hash->bytes > prefix) st.hash.reset();
    if (::fdatasync(fd_) != 0) return;
    if (!WriteDownloadState(state_path_, st).ok()) return;
    if (::ftruncate(fd_, static_cast<off_t>(prefix)) == 0) {
      std::lock_guard lock(mu_);
      done_.TruncateAt(prefix);
    }
    return;
  }
  // Only ranges that reached the disk may be named: they were taken above,
  // before this sync, so the sync covers every one of them.
  if (::fdatasync(fd_) != 0) return;
  (void)WriteDownloadState(state_path_, st);
}

void Job::EmitProgress(DownloadProgress::Phase phase) {
  if (!progress_fn_) return;
  DownloadProgress p;
  const int64_t now = NowUs();
  {
    std::lock_guard lock(mu_);
    p.completed = done_.Size();
    p.total = total_.value_or(0);
    p.connections = static_cast<int>(active_.size());
    if (phase == DownloadProgress::Phase::kDownloading) {
      if (!probed_ && fetched_ == 0) phase = DownloadProgress::Phase::kConnecting;
      if (!retry_detail_.empty() && now - retry_detail_us_ < 2'000'000) {
        phase = DownloadProgress::Phase::kRetrying;
        p.detail = retry_detail_;
      }
    }
    speed_samples_.emplace_back(now, fetched_);
  }
  while (speed_samples_.size() > 2 && now - speed_samples_.front().first > 3'000'000) {
    speed_samples_.pop_front();
  }
  const auto& [t0, b0] = speed_samples_.front();
  if (now > t0) {
    p.bytes_per_second = static_cast<double>(speed_samples_.back().second - b0) * 1e6 /
                         static_cast<double>(now - t0);
  }
  if (p.total > 0 && p.bytes_per_second > 0 && p.completed <= p.total) {
    p.eta_seconds =
        static_cast<int64_t>(static_cast<double>(p.total - p.completed) / p.bytes_per_second);
  }
  p.phase = phase;
  p.name = name_;
  if (!expected_.empty()) p.digest = "sha256:" + expected_;
  if (phase == DownloadProgress::Phase::kWaiting) {
    p.detail = "another process is downloading " + name_ + " (" + lock_path_.string() + ")";
  }
  progress_fn_(p);
}

Status Job::Finalize() {
  auto fail = [&](const std::string& what) {
    int err = errno;
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    return UnavailableError(what + ": " + ErrnoText(err));
  };
  if (::fdatasync(fd_) != 0) return fail("cannot flush " + partial_.string());
  if (::close(fd_) != 0) {
    fd_ = -1;
    return UnavailableError("cannot close " + partial_.string() + ": " + ErrnoText(errno));
  }
  fd_ = -1;
  std::error_code ec;
  if (req_.destination.has_parent_path())
    fs::create_directories(req_.destination.parent_path(), ec);
  if (::rename(partial_.c_str(), req_.destination.c_str()) != 0) {
    return UnavailableError("cannot move " + partial_.string() + " to " +
                            req_.destination.string() + ": " + ErrnoText(errno));
  }
  fs::path folder = req_.destination.parent_path();
  int dfd = ::open(folder.empty() ? "." : folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  fs::remove(state_path_, ec);
  return Status::Ok();
}

}  // namespace

Downloader::Downloader(HttpClient& http) : http_(http) {}

Result<DownloadResult> Downloader::Download(const DownloadRequest& request,
                                            const DownloadOptions& options,
                                            const DownloadProgressFn& progress) {
  Job job(http_, request, options, progress);
  return job.Run();
}

}  // namespace hangar
