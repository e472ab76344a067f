// What /proc tells about one process: its resident and peak memory and its
// start time (which, with the pid, names a process uniquely: a pid reused by
// a later process has another start time). Read under a probe root (the
// hardware probe's seam: "/" on a real machine, a fixture folder in tests).
//
// Stateless and thread-safe.
#ifndef HANGAR_HARDWARE_PROCESS_H_
#define HANGAR_HARDWARE_PROCESS_H_

#include <cstdint>
#include <filesystem>
#include <optional>

namespace hangar {

struct ProcessMemory {
  uint64_t resident = 0;       // VmRSS, bytes
  uint64_t peak_resident = 0;  // VmHWM, bytes
};

// `pid` 0 means this process ("self"). nullopt when the process does not
// exist or its status file cannot be read.
std::optional<ProcessMemory> ReadProcessMemory(const std::filesystem::path& root, int64_t pid);

// Field 22 of /proc/PID/stat (clock ticks after boot). nullopt when the
// process does not exist.
std::optional<uint64_t> ProcessStartTicks(const std::filesystem::path& root, int64_t pid);

}  // namespace hangar

#endif  // HANGAR_HARDWARE_PROCESS_H_
