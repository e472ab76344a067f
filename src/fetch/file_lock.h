// FileLock: an exclusive flock(2) on a lock file, held while the object lives.
//
// flock is what huggingface_hub's filelock uses on POSIX for
// `.locks/models--org--repo/<blob>.lock`, so Hangar and other tools that
// download into the same cache interlock. The lock file is created (with its
// folder) when missing and left in place afterwards, as those tools do:
// removing it would let a third process lock a different inode.
// A FileLock is movable, not copyable; separate objects are independent.
#ifndef HANGAR_FETCH_FILE_LOCK_H_
#define HANGAR_FETCH_FILE_LOCK_H_

#include <filesystem>
#include <functional>
#include <optional>

#include "core/status.h"

namespace hangar {

class FileLock {
 public:
  // Takes the lock without waiting. FailedPrecondition ("held by another
  // process") when someone holds it; Unavailable when the file cannot be made.
  static Result<FileLock> TryAcquire(const std::filesystem::path& path);

  // Takes the lock, waiting for it. `on_wait` runs once if the lock is busy;
  // `cancelled` is polled every `poll_ms` while waiting (Cancelled when true).
  static Result<FileLock> Acquire(const std::filesystem::path& path,
                                  const std::function<bool()>& cancelled = {},
                                  const std::function<void()>& on_wait = {}, int poll_ms = 100);

  FileLock(FileLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  FileLock& operator=(FileLock&& other) noexcept;
  ~FileLock();

  // Releases early (the destructor does it otherwise).
  void Release();

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace hangar

#endif  // HANGAR_FETCH_FILE_LOCK_H_
