#include "hardware/disk.h"

#include <sys/statvfs.h>

#include <cerrno>

#include "core/file_util.h"

namespace hangar {

Result<DiskInfo> ProbeDisk(const std::filesystem::path& path) {
  if (path.empty()) return InvalidArgumentError("no path given for the disk space probe");
  std::error_code ec;
  std::filesystem::path probe = std::filesystem::absolute(path, ec);
  if (ec) probe = path;
  // The nearest existing ancestor; "/" (or the relative start) always ends the walk.
  while (!std::filesystem::exists(probe, ec) && probe.has_relative_path()) {
    probe = probe.parent_path();
  }
  struct statvfs st;
  if (::statvfs(probe.c_str(), &st) != 0) {
    return UnavailableError("cannot read the free space of " + probe.string() + ": " +
                            ErrnoText(errno));
  }
  DiskInfo info;
  info.path = path;
  info.total = static_cast<uint64_t>(st.f_blocks) * st.f_frsize;
  info.free = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
  return info;
}

}  // namespace hangar
