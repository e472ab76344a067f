// Test helpers of src/app/ (test code only): a private HOME per test and a
// minimal GGUF writer for files the validator reads.
#ifndef HANGAR_APP_TEST_UTIL_H_
#define HANGAR_APP_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace hangar::app_test {

// A fresh folder removed at the end of the test.
class TempHome {
 public:
  TempHome() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ =
        std::filesystem::temp_directory_path() / ("hangar-app-" + std::to_string(::getpid()) + "-" +
                                                  info->test_suite_name() + "-" + info->name());
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempHome() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Writes a GGUF v3 file with one key (general.architecture = arch), no
// tensors, padded to `total_size` bytes.
inline void WriteTinyGguf(const std::filesystem::path& path, const std::string& arch,
                          uint64_t total_size = 0) {
  std::string b = "GGUF";
  auto u32 = [&](uint32_t v) { b.append(reinterpret_cast<const char*>(&v), 4); };
  auto u64 = [&](uint64_t v) { b.append(reinterpret_cast<const char*>(&v), 8); };
  auto str = [&](const std::string& s) {
    u64(s.size());
    b += s;
  };
  u32(3);  // version
  u64(0);  // tensors
  u64(1);  // key/values
  str("general.architecture");
  u32(8);  // string
  str(arch);
  while (b.size() % 32 != 0) b.push_back('\0');
  if (b.size() < total_size) b.resize(total_size, '\0');
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << b;
}

}  // namespace hangar::app_test

#endif  // HANGAR_APP_TEST_UTIL_H_
