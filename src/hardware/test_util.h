// Test helpers of src/hardware/ (test code only): fixture roots, temporary
// file trees standing in for /proc and /sys, and the fixture GPUs.
#ifndef HANGAR_HARDWARE_TEST_UTIL_H_
#define HANGAR_HARDWARE_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "hardware/fake_nvml.h"

namespace hangar::hardware_test {

// tests/fixtures/hw/<machine>: laptop, workstation, container_v2,
// container_v1, amd, arm (described in tests/fixtures/hw/README.md).
inline std::filesystem::path FixtureRoot(std::string_view machine) {
  return std::filesystem::path(HANGAR_SOURCE_DIR) / "tests/fixtures/hw" / machine;
}

// The workstation's GPUs: two GeForce RTX 4090 (24 GiB, compute 8.9).
inline constexpr uint64_t kRtx4090Vram = 25757220864;  // 24564 MiB
inline std::vector<FakeNvmlDevice> TwoRtx4090s() {
  return {{"NVIDIA GeForce RTX 4090", NvmlMemory{kRtx4090Vram, 25238044672, 519176192},
           NvmlComputeCapability{8, 9}, 45, "00000000:01:00.0"},
          {"NVIDIA GeForce RTX 4090", NvmlMemory{kRtx4090Vram, 3221225472, 22535995392},
           NvmlComputeCapability{8, 9}, 52, "00000000:41:00.0"}};
}

// A temporary folder, removed with the object; Write() creates files below it.
class TempTree {
 public:
  TempTree() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "hangar-hw-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed for " << tmpl;
    root_ = tmpl;
  }
  ~TempTree() {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  TempTree(const TempTree&) = delete;
  TempTree& operator=(const TempTree&) = delete;

  const std::filesystem::path& root() const { return root_; }

  void Write(std::string_view relative, std::string_view content) const {
    std::filesystem::path path = root_ / relative;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << content;
  }

 private:
  std::filesystem::path root_;
};

}  // namespace hangar::hardware_test

#endif  // HANGAR_HARDWARE_TEST_UTIL_H_
