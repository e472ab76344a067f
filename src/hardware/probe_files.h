// Reading the kernel's text files (/proc, /sys, /etc) below a root folder.
//
// Every hardware probe reads through these helpers with a root that is "/" on a
// real machine and a fixture tree in tests (tests/fixtures/hw/<machine>/), so a
// probe never names an absolute path itself. A file that cannot be read is an
// answer ("unknown"), not an error: the helpers return std::nullopt.
//
// Internal to src/hardware/. All functions are pure or only read files, and are
// thread-safe.
#ifndef HANGAR_HARDWARE_PROBE_FILES_H_
#define HANGAR_HARDWARE_PROBE_FILES_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace hangar::hardware_internal {

// The content of `relative` ("proc/meminfo", no leading slash) below `root`;
// nullopt when it does not exist or cannot be read.
std::optional<std::string> ReadProbeFile(const std::filesystem::path& root,
                                         std::string_view relative);

// The file parsed as one unsigned decimal number (surrounding blanks ignored);
// nullopt when absent or not a number.
std::optional<uint64_t> ReadProbeNumber(const std::filesystem::path& root,
                                        std::string_view relative);

// The file's content without surrounding blanks; nullopt when absent.
std::optional<std::string> ReadProbeLine(const std::filesystem::path& root,
                                         std::string_view relative);

std::string_view TrimBlanks(std::string_view s);

// An unsigned decimal ("4096", " 12 ") or, with `allow_hex`, "0x1002".
// nullopt on anything else, including overflow.
std::optional<uint64_t> ParseUnsigned(std::string_view s, bool allow_hex = false);

// A decimal with an optional fraction ("2096.035").
std::optional<double> ParseDecimal(std::string_view s);

// Calls `fn(key, value)` for each line "key<sep>value" of `text`, both trimmed;
// lines without `sep` are passed with an empty key and the trimmed line as value
// (so a caller can see blank lines, which separate /proc/cpuinfo blocks).
void ForEachKeyValue(std::string_view text, char sep,
                     const std::function<void(std::string_view, std::string_view)>& fn);

// Sizes as sysfs writes cache sizes: "32K", "1024K", "8M", "512" (bytes).
std::optional<uint64_t> ParseSuffixedSize(std::string_view s);

}  // namespace hangar::hardware_internal

#endif  // HANGAR_HARDWARE_PROBE_FILES_H_
