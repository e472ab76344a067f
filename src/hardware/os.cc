// Kernel and distribution: uname() or proc/sys/kernel, and os-release.
#include "hardware/os.h"

#include <sys/utsname.h>

#include "hardware/probe_files.h"

namespace hangar {
namespace hardware_internal {

std::string OsReleaseValue(std::string_view text, std::string_view key) {
  std::string out;
  bool found = false;
  ForEachKeyValue(text, '=', [&](std::string_view k, std::string_view v) {
    if (found || k != key) return;
    found = true;
    if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) {
      char quote = v.front();
      v = v.substr(1, v.size() - 2);
      for (size_t i = 0; i < v.size(); ++i) {
        if (quote == '"' && v[i] == '\\' && i + 1 < v.size()) ++i;
        out += v[i];
      }
    } else {
      out = v;
    }
  });
  return out;
}

}  // namespace hardware_internal

KernelInfo ProbeKernel(const std::filesystem::path& root) {
  using hardware_internal::ReadProbeLine;
  KernelInfo kernel;
  if (root == "/") {
    struct utsname u;
    if (::uname(&u) == 0) {
      kernel.name = u.sysname;
      kernel.release = u.release;
      kernel.machine = u.machine;
    }
    return kernel;
  }
  kernel.name = ReadProbeLine(root, "proc/sys/kernel/ostype").value_or("");
  kernel.release = ReadProbeLine(root, "proc/sys/kernel/osrelease").value_or("");
  kernel.machine = ReadProbeLine(root, "proc/sys/kernel/arch").value_or("");
  return kernel;
}

OsInfo ProbeOs(const std::filesystem::path& root, const KernelInfo& kernel) {
  using hardware_internal::OsReleaseValue;
  using hardware_internal::ReadProbeFile;
  std::optional<std::string> text = ReadProbeFile(root, "etc/os-release");
  if (!text) text = ReadProbeFile(root, "usr/lib/os-release");
  OsInfo os;
  if (text) {
    os.name = OsReleaseValue(*text, "PRETTY_NAME");
    if (os.name.empty()) os.name = OsReleaseValue(*text, "NAME");
    os.version = OsReleaseValue(*text, "VERSION_ID");
  }
  if (os.name.empty()) os.name = kernel.name;
  os.kernel = kernel.release;
  return os;
}

}  // namespace hangar
