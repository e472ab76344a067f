#include "fetch/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>

#include "core/file_util.h"

namespace hangar {
namespace {

Result<int> OpenLockFile(const std::filesystem::path& path) {
  std::error_code ec;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return UnavailableError("cannot open the lock file " + path.string() + ": " + ErrnoText(errno));
  }
  return fd;
}

// 1: locked, 0: busy, -1: error (errno set).
int TryLock(int fd) {
  while (true) {
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return 1;
    if (errno == EINTR) continue;
    return errno == EWOULDBLOCK ? 0 : -1;
  }
}

}  // namespace

Result<FileLock> FileLock::TryAcquire(const std::filesystem::path& path) {
  ASSIGN_OR_RETURN(int fd, OpenLockFile(path));
  int r = TryLock(fd);
  if (r == 1) return FileLock(fd);
  int err = errno;
  ::close(fd);
  if (r == 0) return FailedPreconditionError(path.string() + " is held by another process");
  return UnavailableError("cannot lock " + path.string() + ": " + ErrnoText(err));
}

Result<FileLock> FileLock::Acquire(const std::filesystem::path& path,
                                   const std::function<bool()>& cancelled,
                                   const std::function<void()>& on_wait, int poll_ms) {
  ASSIGN_OR_RETURN(int fd, OpenLockFile(path));
  bool told = false;
  while (true) {
    int r = TryLock(fd);
    if (r == 1) return FileLock(fd);
    if (r < 0) {
      int err = errno;
      ::close(fd);
      return UnavailableError("cannot lock " + path.string() + ": " + ErrnoText(err));
    }
    if (!told && on_wait) on_wait();
    told = true;
    if (cancelled && cancelled()) {
      ::close(fd);
      return CancelledError("stopped waiting for " + path.string());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(poll_ms));
  }
}

FileLock& FileLock::operator=(FileLock&& other) noexcept {
  if (this != &other) {
    Release();
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

FileLock::~FileLock() { Release(); }

void FileLock::Release() {
  if (fd_ >= 0) {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
    fd_ = -1;
  }
}

}  // namespace hangar
