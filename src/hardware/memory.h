// Main memory: what the machine has and what this process may use of it.
//
// Read below a root folder ("/" on a real machine, a fixture tree in tests):
// /proc/meminfo for the machine, and the memory limit of the process's cgroup:
//   cgroup v2: /proc/self/cgroup "0::/PATH"; memory.max and memory.current of
//              /sys/fs/cgroup/PATH and each ancestor up to /sys/fs/cgroup
//              ("max" means no limit);
//   cgroup v1: the "memory" line of /proc/self/cgroup; memory.limit_in_bytes and
//              memory.usage_in_bytes of /sys/fs/cgroup/memory/PATH and each
//              ancestor (values of 2^62 and more mean no limit).
// Levels whose files are absent are skipped, so a container that sees its own
// cgroup at the mount point (cgroup namespace, Docker's v1 mounts) is read there.
// The tightest level wins. Usage counts page cache the kernel can drop, so the
// "inactive_file" ("total_inactive_file" in v1) of memory.stat is taken off it.
//
// Probing never fails: what cannot be read stays 0 / nullopt. Thread-safe.
#ifndef HANGAR_HARDWARE_MEMORY_H_
#define HANGAR_HARDWARE_MEMORY_H_

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string_view>

namespace hangar {

struct MemoryInfo {
  uint64_t total = 0;                    // bytes, MemTotal
  uint64_t available = 0;                // bytes, MemAvailable capped by the cgroup's headroom
  uint64_t swap_total = 0;               // bytes
  uint64_t swap_free = 0;                // bytes
  std::optional<uint64_t> cgroup_limit;  // bytes; nullopt when not limited
  uint64_t usable = 0;                   // bytes this process may hold: min(total, cgroup_limit)

  friend bool operator==(const MemoryInfo&, const MemoryInfo&) = default;
};

MemoryInfo ProbeMemory(const std::filesystem::path& root);

namespace hardware_internal {

// total, available, swap_total, swap_free from /proc/meminfo text (kB values).
// Kernels older than 3.14 have no MemAvailable: MemFree + Buffers + Cached then.
// usable = total; no cgroup.
MemoryInfo ParseMeminfo(std::string_view text);

struct CgroupMemory {
  std::optional<uint64_t> limit;     // the tightest limit, bytes
  std::optional<uint64_t> headroom;  // min over limited levels of limit - usage
};

// The memory limit of the process's cgroup (see the file comment).
CgroupMemory ProbeCgroupMemory(const std::filesystem::path& root);

}  // namespace hardware_internal
}  // namespace hangar

#endif  // HANGAR_HARDWARE_MEMORY_H_
