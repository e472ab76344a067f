// Memory probe for Linux: /proc/meminfo and cgroup v1/v2 limits.
#include <algorithm>
#include <string>
#include <vector>

#include "hardware/memory.h"
#include "hardware/probe_files.h"

namespace hangar {
namespace hardware_internal {
namespace {

// cgroup v1 writes "no limit" as PAGE_COUNTER_MAX pages (9223372036854771712 with
// 4 KiB pages); anything this large is no limit.
constexpr uint64_t kUnlimitedV1 = 1ULL << 62;

struct CgroupFiles {
  std::string_view mount;     // below the root
  std::string_view limit;     // file name of the limit
  std::string_view usage;     // file name of the usage
  std::string_view inactive;  // memory.stat key of droppable page cache
};
constexpr CgroupFiles kV2 = {"sys/fs/cgroup", "memory.max", "memory.current", "inactive_file"};
constexpr CgroupFiles kV1 = {"sys/fs/cgroup/memory", "memory.limit_in_bytes",
                             "memory.usage_in_bytes", "total_inactive_file"};

// The cgroup path of the process and which hierarchy it belongs to, from
// /proc/self/cgroup ("ID:CONTROLLERS:PATH" lines). A v1 memory controller wins
// over the v2 line (hybrid hosts keep memory in v1).
struct OwnCgroup {
  const CgroupFiles* files = nullptr;
  std::string path;  // without leading '/'
};

OwnCgroup FindOwnCgroup(std::string_view text) {
  OwnCgroup v2, v1;
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    size_t c1 = line.find(':');
    size_t c2 = c1 == std::string_view::npos ? c1 : line.find(':', c1 + 1);
    if (c2 == std::string_view::npos) continue;
    std::string_view id = line.substr(0, c1);
    std::string_view controllers = line.substr(c1 + 1, c2 - c1 - 1);
    std::string path(TrimBlanks(line.substr(c2 + 1)));
    while (!path.empty() && path.front() == '/') path.erase(0, 1);
    // A cgroup outside this namespace ("/../.."): only the mount point is ours.
    if (path.find("..") != std::string::npos) path.clear();
    if (id == "0" && controllers.empty()) {
      v2 = {&kV2, path};
      continue;
    }
    // "memory" as one of the comma-separated controllers.
    std::string_view rest = controllers;
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      if (rest.substr(0, comma) == "memory") v1 = {&kV1, path};
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
  }
  return v1.files ? v1 : v2;
}

std::optional<uint64_t> StatValue(std::string_view stat, std::string_view key) {
  std::optional<uint64_t> out;
  ForEachKeyValue(stat, ' ', [&](std::string_view k, std::string_view v) {
    if (!out && k == key) out = ParseUnsigned(v);
  });
  return out;
}

// Reads one hierarchy from `path` up to its mount point.
CgroupMemory ReadHierarchy(const std::filesystem::path& root, const CgroupFiles& files,
                           std::string path) {
  CgroupMemory out;
  while (true) {
    std::string dir(files.mount);
    if (!path.empty()) dir += "/" + path;
    if (std::optional<std::string> text =
            ReadProbeLine(root, dir + "/" + std::string(files.limit))) {
      std::optional<uint64_t> limit = ParseUnsigned(*text);  // "max" (v2) stays nullopt
      if (limit && *limit < kUnlimitedV1) {
        out.limit = std::min(out.limit.value_or(*limit), *limit);
        uint64_t used = ReadProbeNumber(root, dir + "/" + std::string(files.usage)).value_or(0);
        std::optional<std::string> stat = ReadProbeFile(root, dir + "/memory.stat");
        uint64_t inactive = stat ? StatValue(*stat, files.inactive).value_or(0) : 0;
        used -= std::min(used, inactive);
        uint64_t headroom = *limit - std::min(*limit, used);
        out.headroom = std::min(out.headroom.value_or(headroom), headroom);
      }
    }
    if (path.empty()) break;
    size_t slash = path.rfind('/');
    path.resize(slash == std::string::npos ? 0 : slash);
  }
  return out;
}

}  // namespace

MemoryInfo ParseMeminfo(std::string_view text) {
  MemoryInfo info;
  std::optional<uint64_t> available;
  uint64_t free = 0, buffers = 0, cached = 0;
  ForEachKeyValue(text, ':', [&](std::string_view key, std::string_view value) {
    if (key.empty()) return;
    // "3915412 kB"
    size_t space = value.find(' ');
    std::optional<uint64_t> kb = ParseUnsigned(value.substr(0, space));
    if (!kb) return;
    uint64_t bytes = *kb * 1024;
    if (key == "MemTotal") {
      info.total = bytes;
    } else if (key == "MemAvailable") {
      available = bytes;
    } else if (key == "MemFree") {
      free = bytes;
    } else if (key == "Buffers") {
      buffers = bytes;
    } else if (key == "Cached") {
      cached = bytes;
    } else if (key == "SwapTotal") {
      info.swap_total = bytes;
    } else if (key == "SwapFree") {
      info.swap_free = bytes;
    }
  });
  info.available = available.value_or(free + buffers + cached);
  info.usable = info.total;
  return info;
}

CgroupMemory ProbeCgroupMemory(const std::filesystem::path& root) {
  OwnCgroup own = FindOwnCgroup(ReadProbeFile(root, "proc/self/cgroup").value_or(""));
  if (own.files) return ReadHierarchy(root, *own.files, own.path);
  // No /proc/self/cgroup: look at both mount points.
  CgroupMemory v2 = ReadHierarchy(root, kV2, "");
  return v2.limit ? v2 : ReadHierarchy(root, kV1, "");
}

}  // namespace hardware_internal

MemoryInfo ProbeMemory(const std::filesystem::path& root) {
  using namespace hardware_internal;
  MemoryInfo info = ParseMeminfo(ReadProbeFile(root, "proc/meminfo").value_or(""));
  CgroupMemory cgroup = ProbeCgroupMemory(root);
  info.cgroup_limit = cgroup.limit;
  if (cgroup.limit) {
    info.usable = info.total == 0 ? *cgroup.limit : std::min(info.total, *cgroup.limit);
    info.available =
        std::min({info.available, cgroup.headroom.value_or(info.available), info.usable});
  }
  return info;
}

}  // namespace hangar
