// The operating system and kernel.
//
// KernelInfo comes from uname() on the real root "/" and, below any other root
// (a fixture tree), from proc/sys/kernel/{ostype,osrelease,arch}. OsInfo reads
// etc/os-release (else usr/lib/os-release) below the root. Probing never fails:
// what cannot be read stays empty. Thread-safe.
#ifndef HANGAR_HARDWARE_OS_H_
#define HANGAR_HARDWARE_OS_H_

#include <filesystem>
#include <string>
#include <string_view>

namespace hangar {

struct KernelInfo {
  std::string name;     // "Linux", "Darwin"
  std::string release;  // "6.1.0-18-amd64"
  std::string machine;  // "x86_64", "aarch64", "arm64"
};

struct OsInfo {
  std::string name;     // os-release PRETTY_NAME, else NAME, else the kernel name
  std::string version;  // os-release VERSION_ID ("12"); may be empty (rolling releases)
  std::string kernel;   // the kernel release

  friend bool operator==(const OsInfo&, const OsInfo&) = default;
};

KernelInfo ProbeKernel(const std::filesystem::path& root);

OsInfo ProbeOs(const std::filesystem::path& root, const KernelInfo& kernel);

namespace hardware_internal {

// The value of `key` in os-release text (KEY=value, KEY="value" or
// KEY='value', with shell backslash escapes inside double quotes); empty when
// absent.
std::string OsReleaseValue(std::string_view text, std::string_view key);

}  // namespace hardware_internal
}  // namespace hangar

#endif  // HANGAR_HARDWARE_OS_H_
