#include "fetch/prefix_hasher.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "core/file_util.h"

namespace hangar {
namespace {
constexpr uint64_t kPiece = 4 << 20;
}  // namespace

PrefixHasher::PrefixHasher(int fd, std::filesystem::path path, FrontierFn frontier,
                           PublishFn publish)
    : fd_(fd), path_(std::move(path)), frontier_(std::move(frontier)), publish_(std::move(publish)) {}

void PrefixHasher::Start(uint64_t epoch, const std::optional<Sha256Midstate>& from) {
  std::lock_guard lock(mu_);
  epoch_ = epoch;
  sha_ = from ? ResumableSha256(*from) : ResumableSha256();
  hashed_ = sha_.bytes();
}

Status PrefixHasher::Advance(std::string_view data, uint64_t data_off, int max_pieces,
                             bool wait) {
  std::unique_lock lock(mu_, std::defer_lock);
  if (wait) {
    lock.lock();
  } else if (!lock.try_lock()) {
    return Status::Ok();  // another thread is hashing; it or a later call goes on
  }
  if (buf_.empty()) buf_.resize(kPiece);
  for (int pieces = 0; pieces < max_pieces; ++pieces) {
    const Frontier f = frontier_();
    if (f.epoch != epoch_) {
      // The written bytes were thrown away: start over.
      epoch_ = f.epoch;
      sha_ = ResumableSha256();
      hashed_ = 0;
    }
    const uint64_t at = hashed_;
    if (f.prefix <= at) return Status::Ok();
    // Whole blocks only (a midstate after each step), except at the very end.
    auto whole_blocks = [&](uint64_t n) { return at + n == f.total ? n : n - n % 64; };
    std::string_view piece;
    if (at >= data_off && at < data_off + data.size()) {
      piece = data.substr(at - data_off,
                          whole_blocks(std::min(f.prefix, data_off + data.size()) - at));
    }
    if (piece.empty()) {
      const uint64_t n = whole_blocks(std::min<uint64_t>(f.prefix - at, kPiece));
      if (n == 0) return Status::Ok();
      size_t got = 0;
      while (got < n) {
        ssize_t r = ::pread(fd_, buf_.data() + got, n - got, static_cast<off_t>(at + got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
          return UnavailableError("cannot read back " + path_.string() + " for hashing: " +
                                  (r < 0 ? ErrnoText(errno) : std::string("file is shorter")));
        }
        got += static_cast<size_t>(r);
      }
      piece = std::string_view(buf_.data(), n);
    }
    sha_.Update(piece);
    hashed_ = at + piece.size();
    publish_(epoch_, sha_.Midstate(), hashed_);
  }
  return Status::Ok();
}

std::string PrefixHasher::Finish() {
  std::lock_guard lock(mu_);
  return sha_.FinishHex();
}

}  // namespace hangar
