// Disk space where Hangar keeps models (the store location).
//
// statvfs() of the path, or of its nearest existing ancestor when the folder
// does not exist yet (a store about to be created lands on that file system).
// Thread-safe.
#ifndef HANGAR_HARDWARE_DISK_H_
#define HANGAR_HARDWARE_DISK_H_

#include <cstdint>
#include <filesystem>

#include "core/status.h"

namespace hangar {

struct DiskInfo {
  std::filesystem::path path;  // the path asked about
  uint64_t total = 0;          // bytes of the file system
  uint64_t free = 0;           // bytes an unprivileged user may still write

  friend bool operator==(const DiskInfo&, const DiskInfo&) = default;
};

// InvalidArgument for an empty path; Unavailable (with errno text) when
// statvfs() fails, e.g. for lack of permission on an ancestor.
Result<DiskInfo> ProbeDisk(const std::filesystem::path& path);

}  // namespace hangar

#endif  // HANGAR_HARDWARE_DISK_H_
