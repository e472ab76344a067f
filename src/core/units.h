// Parsing and formatting of the quantities users type and read: sizes
// ("4.7 GB", "512MiB", "2GB", "1.5T"), percentages ("80%"), amounts that are
// either ("2GB" or "80%"), durations ("30d", "12h") and rates ("10MB/s").
//
// Decimal units (kB, MB, GB, TB) are powers of 1000, binary ones (KiB, MiB,
// GiB, TiB) powers of 1024; a bare number is bytes. Units are case-insensitive
// ("gb", "GiB"), a space between number and unit is allowed. All functions are
// pure and thread-safe.
#ifndef HANGAR_CORE_UNITS_H_
#define HANGAR_CORE_UNITS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace hangar {

inline constexpr uint64_t kKiB = 1024;
inline constexpr uint64_t kMiB = 1024 * kKiB;
inline constexpr uint64_t kGiB = 1024 * kMiB;
inline constexpr uint64_t kGB = 1000ULL * 1000 * 1000;

// Bytes in `text`. InvalidArgument on an empty, negative, malformed or
// overflowing value, naming the text.
Result<uint64_t> ParseSize(std::string_view text);

// A percentage "80%" or "80 %" as a fraction 0.8. InvalidArgument outside
// 0–100 % or when malformed.
Result<double> ParsePercent(std::string_view text);

// Either an absolute size or a share of a whole ("80%", "6GB").
struct Amount {
  bool is_fraction = false;
  double fraction = 0;  // when is_fraction
  uint64_t bytes = 0;   // otherwise

  // The bytes this amount stands for, given the whole it is a share of.
  uint64_t Of(uint64_t whole) const;
  std::string ToString() const;
  friend bool operator==(const Amount&, const Amount&) = default;
};
Result<Amount> ParseAmount(std::string_view text);

// Seconds in "90s", "15m", "12h", "30d", "2w" (a bare number is seconds).
Result<int64_t> ParseDuration(std::string_view text);

// Bytes per second in "10MB/s", "10M" or "500k" (the "/s" is optional).
Result<uint64_t> ParseRate(std::string_view text);

// "4.68 GiB", "512 MiB", "999 B": binary units, three significant digits.
std::string FormatBytes(uint64_t bytes);
// "4.7 GB": decimal units, as model sizes are usually quoted.
std::string FormatBytesDecimal(uint64_t bytes);
// "1h 02m", "3m 05s", "12s".
std::string FormatDuration(int64_t seconds);

}  // namespace hangar

#endif  // HANGAR_CORE_UNITS_H_
