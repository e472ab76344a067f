// ChunkScheduler: which bytes of a file each connection of a download asks
// for next, and which requests are in flight (Segments).
//
// Pending ranges are handed out lowest first, cut to `chunk_bytes`, once they
// are due (a retried range waits for its backoff). When nothing is pending an
// idle connection helps the slowest outstanding request: it takes the upper
// half of the largest one (each half at least `min_split_bytes`), or, when a
// request has made no progress for `slow_chunk_us`, takes over all of its
// remaining bytes (that request is marked abandoned and stops). This is what
// keeps a download from crawling at 99 %.
//
// Not thread-safe: the downloader calls it under its own mutex. Segment
// fields are guarded by that same mutex, except `abandoned`, which a request's
// cancellation predicate reads without it.
#ifndef HANGAR_FETCH_CHUNK_SCHEDULER_H_
#define HANGAR_FETCH_CHUNK_SCHEDULER_H_

#include <atomic>
#include <cstdint>
#include <limits>
#include <list>
#include <map>
#include <memory>

#include "fetch/range_set.h"

namespace hangar {

inline constexpr uint64_t kUnknownEnd = std::numeric_limits<uint64_t>::max();

// One request in flight: bytes [cursor, end) are still wanted from it.
struct Segment {
  uint64_t cursor = 0;
  uint64_t end = 0;          // exclusive; kUnknownEnd for a stream of unknown length
  uint64_t start_cursor = 0;  // `cursor` when the request was sent
  uint64_t request_end = 0;   // `end` when the request was sent (a split lowers `end`)
  int attempts = 0;           // failures in a row before this request
  bool probe = false;         // the first request of a download (learns size, final URL)
  uint64_t epoch = 0;         // the download's epoch when it started (see downloader.cc)
  int64_t last_progress_us = 0;
  std::atomic<bool> abandoned{false};
};

class ChunkScheduler {
 public:
  ChunkScheduler(uint64_t chunk_bytes, uint64_t min_split_bytes, int64_t slow_chunk_us);

  // Queues [begin, end) (replacing a pending range that starts at `begin`),
  // to be handed out from `not_before_us` on.
  void Add(uint64_t begin, uint64_t end, int attempts, int64_t not_before_us);
  // Queues every byte of [0, total) that is neither in `done` nor in flight.
  void AddMissing(const RangeSet& done, uint64_t total);
  void ClearPending() { pending_.clear(); }
  bool has_pending() const { return !pending_.empty(); }

  // Registers a request for [begin, end) as in flight.
  std::shared_ptr<Segment> Start(uint64_t begin, uint64_t end, int attempts, uint64_t epoch,
                                 int64_t now_us);

  // The next request for an idle connection at `now_us`: the lowest due
  // pending range, else half of the largest request in flight of `epoch`,
  // else the remainder of a stuck one. nullptr when there is nothing to do
  // now; then `*retry_at_us` is when a pending range becomes due (or 0).
  std::shared_ptr<Segment> Next(int64_t now_us, uint64_t epoch, int64_t* retry_at_us);

  // Forgets a request that ended (whatever became of it).
  void Finish(const std::shared_ptr<Segment>& seg) { active_.remove(seg); }
  // Marks every request in flight but `keep` abandoned (the bytes they fetch
  // belong to another version of the file).
  void AbandonAllBut(const Segment* keep);
  void Clear();

  const std::list<std::shared_ptr<Segment>>& active() const { return active_; }
  // Requests split or taken over so far.
  int steals() const { return steals_; }

 private:
  struct Pending {
    uint64_t end = 0;
    int attempts = 0;
    int64_t not_before_us = 0;
  };

  const uint64_t chunk_bytes_;
  const uint64_t min_split_bytes_;
  const int64_t slow_chunk_us_;
  std::map<uint64_t, Pending> pending_;  // begin → range
  std::list<std::shared_ptr<Segment>> active_;
  int steals_ = 0;
};

}  // namespace hangar

#endif  // HANGAR_FETCH_CHUNK_SCHEDULER_H_
