#include "fetch/chunk_scheduler.h"

#include <algorithm>

namespace hangar {

ChunkScheduler::ChunkScheduler(uint64_t chunk_bytes, uint64_t min_split_bytes,
                               int64_t slow_chunk_us)
    : chunk_bytes_(std::max<uint64_t>(chunk_bytes, 1)),
      min_split_bytes_(std::max<uint64_t>(min_split_bytes, 1)),
      slow_chunk_us_(slow_chunk_us) {}

void ChunkScheduler::Add(uint64_t begin, uint64_t end, int attempts, int64_t not_before_us) {
  if (begin >= end) return;
  pending_[begin] = Pending{end, attempts, not_before_us};
}

void ChunkScheduler::AddMissing(const RangeSet& done, uint64_t total) {
  RangeSet taken = done;
  for (const auto& s : active_) {
    if (!s->abandoned && s->end != kUnknownEnd) taken.Add(s->cursor, s->end);
  }
  for (auto [b, e] : taken.Missing(0, total)) Add(b, e, 0, 0);
}

std::shared_ptr<Segment> ChunkScheduler::Start(uint64_t begin, uint64_t end, int attempts,
                                               uint64_t epoch, int64_t now_us) {
  auto seg = std::make_shared<Segment>();
  seg->cursor = seg->start_cursor = begin;
  seg->end = seg->request_end = end;
  seg->attempts = attempts;
  seg->epoch = epoch;
  seg->last_progress_us = now_us;
  active_.push_back(seg);
  return seg;
}

std::shared_ptr<Segment> ChunkScheduler::Next(int64_t now_us, uint64_t epoch,
                                              int64_t* retry_at_us) {
  *retry_at_us = 0;
  for (auto it = pending_.begin(); it != pending_.end(); ++it) {
    if (it->second.not_before_us > now_us) {
      if (*retry_at_us == 0 || it->second.not_before_us < *retry_at_us) {
        *retry_at_us = it->second.not_before_us;
      }
      continue;
    }
    const uint64_t begin = it->first;
    const Pending p = it->second;
    pending_.erase(it);
    const uint64_t end = std::min(p.end, begin + chunk_bytes_);
    if (end < p.end) pending_[end] = p;
    return Start(begin, end, p.attempts, epoch, now_us);
  }
  if (!pending_.empty()) return nullptr;  // retries to come; stealing would race them

  Segment* split = nullptr;
  Segment* stuck = nullptr;
  auto left = [](const Segment* s) { return s->end > s->cursor ? s->end - s->cursor : 0; };
  for (const auto& s : active_) {
    if (s->abandoned || s->probe || s->epoch != epoch || s->end == kUnknownEnd) continue;
    if (left(s.get()) >= 2 * min_split_bytes_ && (!split || left(s.get()) > left(split))) {
      split = s.get();
    }
    if (left(s.get()) > 0 && now_us - s->last_progress_us >= slow_chunk_us_ &&
        (!stuck || left(s.get()) > left(stuck))) {
      stuck = s.get();
    }
  }
  if (split != nullptr) {
    // The upper half, on a 64 KiB boundary, each half at least half the minimum.
    uint64_t mid = split->cursor + left(split) / 2;
    mid = std::min(split->end - min_split_bytes_ / 2, (mid + 0xffff) & ~uint64_t{0xffff});
    const uint64_t end = split->end;
    split->end = mid;
    ++steals_;
    return Start(mid, end, 0, epoch, now_us);
  }
  if (stuck != nullptr) {
    // No byte for a while: ask again; the stuck request is cancelled (the
    // bytes either would bring are the same).
    stuck->abandoned = true;
    ++steals_;
    return Start(stuck->cursor, stuck->end, stuck->attempts, epoch, now_us);
  }
  return nullptr;
}

void ChunkScheduler::AbandonAllBut(const Segment* keep) {
  for (auto& s : active_) {
    if (s.get() != keep) s->abandoned = true;
  }
}

void ChunkScheduler::Clear() {
  pending_.clear();
  active_.clear();
}

}  // namespace hangar
