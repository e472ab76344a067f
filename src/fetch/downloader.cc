#include "fetch/downloader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "core/file_util.h"
#include "core/sha256.h"
#include "core/strings.h"
#include "core/units.h"
#include "fetch/chunk_scheduler.h"
#include "fetch/download_job.h"
#include "fetch/download_state.h"
#include "fetch/file_lock.h"
#include "fetch/prefix_hasher.h"
#include "fetch/range_set.h"
#include "fetch/resumable_sha256.h"
#include "hardware/disk.h"

namespace hangar {
namespace internal {

namespace fs = std::filesystem;

namespace {
std::string Bytes(uint64_t n) { return FormatBytes(n); }
}  // namespace

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// ---------------------------------------------------------------- top level

DownloadJob::DownloadJob(HttpClient& http, const DownloadRequest& req, const DownloadOptions& opt,
                         const DownloadProgressFn& progress)
    : http_(http),
      req_(req),
      opt_(Sanitized(opt)),
      progress_fn_(progress),
      rng_(std::random_device{}()),
      sched_(opt_.chunk_bytes, opt_.min_split_bytes, opt_.slow_chunk_ms * 1000) {
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
}

DownloadOptions DownloadJob::Sanitized(DownloadOptions o) {
  o.connections = std::max(1, o.connections);
  o.chunk_bytes = std::max<uint64_t>(o.chunk_bytes, 64 << 10);
  o.min_split_bytes = std::max<uint64_t>(o.min_split_bytes, 64 << 10);
  return o;
}

Result<DownloadResult> DownloadJob::Run() {
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
  result.steals = sched_.steals();
  result.ranged = ranged_;
  result.first_response = first_response_;
  result.verify_ms = verify_ms_;
  EmitProgress(DownloadProgress::Phase::kDone);
  return result;
}

Result<bool> DownloadJob::ReuseDestination(DownloadResult& result) {
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

void DownloadJob::ResetProgress() {
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
  sched_.Clear();
  global_not_before_us_ = 0;
  fatal_ = Status::Ok();
  stop_ = false;
  complete_ = false;
  ++epoch_;
  hash_snapshot_.reset();
  resumed_bytes_ = 0;
  retry_detail_.clear();
}

Status DownloadJob::Transfer() {
  std::error_code ec;
  if (partial_.has_parent_path()) fs::create_directories(partial_.parent_path(), ec);
  fd_ = ::open(partial_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    return UnavailableError("cannot open the partial file " + partial_.string() + ": " +
                            ErrnoText(errno));
  }
  LoadState();
  hasher_ = std::make_unique<PrefixHasher>(
      fd_, partial_,
      [this] {
        std::lock_guard lock(mu_);
        return PrefixHasher::Frontier{done_.PrefixEnd(), total_.value_or(kUnknownEnd), epoch_};
      },
      [this](uint64_t epoch, const std::optional<Sha256Midstate>& mid, uint64_t hashed) {
        std::lock_guard lock(mu_);
        if (epoch != epoch_) return;
        if (mid) hash_snapshot_ = mid;
        if (total_ && hashed == *total_) hash_cv_.notify_all();
      });
  {
    // Started outside mu_: the hasher calls back into mu_ with its own lock
    // held, so holding mu_ around its lock would be the opposite order.
    uint64_t epoch = 0;
    std::optional<Sha256Midstate> from;
    {
      std::lock_guard lock(mu_);
      epoch = epoch_;
      from = hash_snapshot_;
    }
    hasher_->Start(epoch, from);
  }
  {
    std::lock_guard lock(mu_);
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
  // The state goes to disk before the first byte does. Connections write
  // chunks out of order, so without it a kill before the first periodic
  // checkpoint would leave a partial file with holes and no state, which the
  // next run would take for a prefix written by another tool (LoadState): it
  // would hash the holes as data, fail the digest and download everything
  // again.
  if (!complete_) Checkpoint(CheckpointKind::kFirst);

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
      Checkpoint(CheckpointKind::kPeriodic);
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
    Checkpoint(CheckpointKind::kFinalStop);
    return Status(fatal.code(), fatal.message() + KeptMessage());
  }
  // Every thread that hashes has ended: the hash can be finished.
  digest_ = hasher_->Finish();
  return Status::Ok();
}

std::string DownloadJob::KeptMessage() {
  std::lock_guard lock(mu_);
  uint64_t kept = done_.Size();
  if (kept == 0) return "";
  std::string of = total_ ? " of " + Bytes(*total_) : "";
  return "; " + Bytes(kept) + of + " kept in " + partial_.string() +
         ", run the pull again to resume";
}

void DownloadJob::LoadState() {
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
    // are a prefix of the file. (Hangar's own partial files always have a
    // state, written before their first byte.) The digest check at the end
    // guards this.
    done_.Add(0, file_size);
    return;
  }
  if (::ftruncate(fd_, 0) != 0) {
    // The stale bytes stay but nothing claims them; they get overwritten.
  }
}

Status DownloadJob::CheckFreeSpace(uint64_t total) {
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

void DownloadJob::Preallocate(uint64_t total) {
  if (total == 0) return;
  // Reserves the blocks without changing the file size, so the size keeps
  // meaning "bytes written" for tools that resume by size.
  ::fallocate(fd_, FALLOC_FL_KEEP_SIZE, 0, static_cast<off_t>(total));
}

// ---------------------------------------------------------------- coordinator

void DownloadJob::Coordinate() {
  int64_t last_progress = 0;
  while (true) {
    {
      std::unique_lock lock(mu_);
      hash_cv_.wait_for(lock, std::chrono::milliseconds(50), [&] {
        const uint64_t hashed = hasher_->hashed();
        return !fatal_.ok() || done_.PrefixEnd() > hashed + 64 ||
               (total_ && done_.PrefixEnd() == *total_ && hashed < *total_) ||
               (total_ && hashed == *total_ && complete_);
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
    Status hs = hasher_->Advance({}, 0, /*max_pieces=*/8, /*wait=*/true);
    if (!hs.ok()) {
      std::lock_guard lock(mu_);
      if (fatal_.ok()) fatal_ = hs;
      break;
    }
    bool finished;
    {
      std::lock_guard lock(mu_);
      finished = total_ && complete_ && hasher_->hashed() == *total_ && Complete();
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

void DownloadJob::Checkpoint(CheckpointKind kind) {
  DownloadState st;
  {
    std::lock_guard lock(mu_);
    if (kind == CheckpointKind::kPeriodic && done_.Size() == checkpointed_size_) return;
    checkpointed_size_ = done_.Size();
    st.size = total_;
    st.etag = etag_;
    st.expected_sha256 = expected_;
    st.done = done_;
    st.hash = hash_snapshot_;
  }
  if (kind == CheckpointKind::kFinalStop && opt_.trim_partial_on_stop) {
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

void DownloadJob::EmitProgress(DownloadProgress::Phase phase) {
  if (!progress_fn_) return;
  DownloadProgress p;
  const int64_t now = NowUs();
  {
    std::lock_guard lock(mu_);
    p.completed = done_.Size();
    p.total = total_.value_or(0);
    p.connections = static_cast<int>(sched_.active().size());
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

Status DownloadJob::Finalize() {
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

}  // namespace internal

Downloader::Downloader(HttpClient& http) : http_(http) {}

Result<DownloadResult> Downloader::Download(const DownloadRequest& request,
                                            const DownloadOptions& options,
                                            const DownloadProgressFn& progress) {
  internal::DownloadJob job(http_, request, options, progress);
  return job.Run();
}

}  // namespace hangar
