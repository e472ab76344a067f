// PrefixHasher: the SHA-256 of the written prefix of a partial file, advanced
// while the file is being written in any order, so that the digest is known
// moments after the last byte, without a second pass over the file.
//
// The owner (the downloader) knows which bytes are written; the hasher asks
// it through `frontier` (the end of the contiguous written prefix, the total
// size, and an epoch that changes whenever the written bytes were thrown away,
// which restarts the hash). Bytes are hashed from the caller's buffer when it
// holds them (a connection that just wrote them), otherwise read back from
// the file, in whole 64-byte blocks so that every step leaves a midstate to
// persist (`publish`, resumable_sha256.h).
//
// Thread-safe: any thread may call Advance(); one hashes at a time. The
// callbacks run on the calling thread, with the hasher's own lock held, so
// they may take the owner's lock (never the other way round: the owner must
// not call Advance() holding a lock the callbacks take).
#ifndef HANGAR_FETCH_PREFIX_HASHER_H_
#define HANGAR_FETCH_PREFIX_HASHER_H_

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "fetch/resumable_sha256.h"

namespace hangar {

class PrefixHasher {
 public:
  struct Frontier {
    uint64_t prefix = 0;  // bytes [0, prefix) are written
    uint64_t total = 0;   // file size; UINT64_MAX while unknown
    uint64_t epoch = 0;
  };
  using FrontierFn = std::function<Frontier()>;
  // After each step: the epoch hashed, the midstate (when at a block end),
  // the bytes hashed.
  using PublishFn = std::function<void(uint64_t epoch, const std::optional<Sha256Midstate>& mid,
                                       uint64_t hashed)>;

  // `fd` is the partial file (not owned), `path` names it in messages.
  PrefixHasher(int fd, std::filesystem::path path, FrontierFn frontier, PublishFn publish);

  // Starts at `epoch`, from a saved midstate or from byte 0. Call before any
  // thread uses Advance().
  void Start(uint64_t epoch, const std::optional<Sha256Midstate>& from);

  // Bytes hashed so far (may be read at any time).
  uint64_t hashed() const { return hashed_; }

  // Hashes the prefix past hashed(), at most `max_pieces` pieces of up to
  // 4 MiB. `data` holds the file's bytes at [data_off, data_off + size) when
  // the caller has them. `wait` false: returns at once (OK) when another
  // thread is hashing. Unavailable when the file cannot be read back.
  Status Advance(std::string_view data, uint64_t data_off, int max_pieces, bool wait);

  // The digest. Call once, after every thread has stopped calling Advance().
  std::string Finish();

 private:
  const int fd_;
  const std::filesystem::path path_;
  const FrontierFn frontier_;
  const PublishFn publish_;
  std::mutex mu_;  // one hashing thread at a time
  ResumableSha256 sha_;
  std::atomic<uint64_t> hashed_{0};
  uint64_t epoch_ = 0;
  std::string buf_;
};

}  // namespace hangar

#endif  // HANGAR_FETCH_PREFIX_HASHER_H_
