#include "fetch/download_job.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <memory>
#include <mutex>
#include <thread>

#include "core/file_util.h"
#include "core/units.h"
#include "fetch/chunk_scheduler.h"
#include "fetch/range_set.h"
#include "fetch/url.h"

namespace hangar::internal {
namespace {
bool IsDiskFull(int err) { return err == ENOSPC || err == EDQUOT || err == EFBIG; }
}  // namespace

// ---------------------------------------------------------------- workers

void DownloadJob::WorkerLoop() {
  while (std::shared_ptr<Segment> seg = Next()) RunSegment(seg);
}

std::shared_ptr<Segment> DownloadJob::Next() {
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
      auto seg = sched_.Start(begin, end, probe_attempts_, epoch_, now);
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
    int64_t retry_at = 0;
    if (auto seg = sched_.Next(now, epoch_, &retry_at)) return seg;
    const int64_t wait_us = retry_at > now ? std::min<int64_t>(retry_at - now, 100'000) : 50'000;
    work_cv_.wait_for(lock, std::chrono::microseconds(wait_us));
  }
}

void DownloadJob::RunSegment(const std::shared_ptr<Segment>& seg) {
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

Status DownloadJob::OnResponse(Segment& seg, const HttpResponse& resp) {
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

Status DownloadJob::OnProbeResponse(Segment& seg, const HttpResponse& resp) {
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
      DiscardWritten();
      seg.epoch = epoch_;
      sched_.AbandonAllBut(&seg);
      sched_.ClearPending();
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
    sched_.AddMissing(done_, *total_);
    pending_built_ = true;
  }
  seg.probe = false;
  probed_ = true;
  probe_in_flight_ = false;
  probe_attempts_ = 0;
  work_cv_.notify_all();
  return Status::Ok();
}

Status DownloadJob::OnBody(Segment& seg, std::string_view data) {
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
  const uint64_t hashed = hasher_->hashed();
  const bool at_front = hashed >= off && hashed < off + n;
  const bool behind = prefix > hashed + kMaxHashLag;
  if (at_front || behind) {
    Status hs = hasher_->Advance(data.substr(0, n), off, /*max_pieces=*/4, /*wait=*/behind);
    if (!hs.ok()) return hs;
  }
  if (finished) return CancelledError(std::string(kSegmentDone));
  return Status::Ok();
}

void DownloadJob::Finish(const std::shared_ptr<Segment>& seg, const Result<HttpResponse>& result) {
  std::lock_guard lock(mu_);
  sched_.Finish(seg);
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
        DiscardWritten();
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

int64_t DownloadJob::BackoffUs(int attempts) {
  int64_t base = opt_.backoff_initial_ms * 1000;
  for (int i = 1; i < attempts && base < opt_.backoff_max_ms * 1000; ++i) base *= 2;
  base = std::min(base, opt_.backoff_max_ms * 1000);
  // Jitter in [base/2, base]: connections that failed together do not retry together.
  std::uniform_int_distribution<int64_t> dist(base / 2, std::max<int64_t>(base / 2, base));
  return dist(rng_);
}

void DownloadJob::Retry(Segment& seg, const Status& why, std::optional<int64_t> retry_after_s) {
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
    DiscardWritten();
    probed_ = false;
    probe_attempts_ = attempts;
    probe_not_before_us_ = now + delay;
    return;
  }
  Requeue(seg.cursor, seg.end, attempts, now + delay);
}

void DownloadJob::SourceFailed(Segment& seg, const Status& why) {
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

void DownloadJob::Requeue(uint64_t begin, uint64_t end, int attempts, int64_t not_before_us) {
  sched_.Add(begin, end, attempts, not_before_us);
  work_cv_.notify_all();
}

}  // namespace hangar::internal
