#include "hardware/process.h"

#include <sstream>
#include <string>

#include "hardware/probe_files.h"

namespace hangar {
namespace {

std::string ProcDir(int64_t pid) { return pid == 0 ? "proc/self" : "proc/" + std::to_string(pid); }

// The kB value of "KEY:   123 kB" in a status file, in bytes.
uint64_t StatusBytes(const std::string& text, std::string_view key) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) != 0 || line.size() <= key.size() || line[key.size()] != ':') continue;
    try {
      return std::stoull(line.substr(key.size() + 1)) * 1024;
    } catch (...) {
      return 0;
    }
  }
  return 0;
}

}  // namespace

std::optional<ProcessMemory> ReadProcessMemory(const std::filesystem::path& root, int64_t pid) {
  std::optional<std::string> text =
      hardware_internal::ReadProbeFile(root, ProcDir(pid) + "/status");
  if (!text) return std::nullopt;
  return ProcessMemory{StatusBytes(*text, "VmRSS"), StatusBytes(*text, "VmHWM")};
}

std::optional<uint64_t> ProcessStartTicks(const std::filesystem::path& root, int64_t pid) {
  std::optional<std::string> text = hardware_internal::ReadProbeFile(root, ProcDir(pid) + "/stat");
  if (!text) return std::nullopt;
  // The command name (field 2) is in parentheses and may hold spaces.
  const size_t close = text->rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(text->substr(close + 1));
  std::string field;
  // Fields 3.. follow; the start time is field 22.
  for (int i = 3; i <= 22; ++i) {
    if (!(rest >> field)) return std::nullopt;
  }
  try {
    return std::stoull(field);
  } catch (...) {
    return std::nullopt;
  }
}

}  // namespace hangar
