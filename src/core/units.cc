#include "core/units.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <string>

#include "core/strings.h"

namespace hangar {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Splits "4.7 GB" into 4.7 and "gb". False when there is no leading number.
bool SplitNumber(std::string_view text, double* number, std::string* unit) {
  text = Trim(text);
  size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) {
    ++i;
  }
  if (i == 0) return false;
  std::string num(text.substr(0, i));
  char* end = nullptr;
  *number = std::strtod(num.c_str(), &end);
  if (end != num.c_str() + num.size() || !std::isfinite(*number)) return false;
  *unit = AsciiLower(Trim(text.substr(i)));
  return true;
}

Status BadValue(std::string_view what, std::string_view text, std::string_view hint) {
  return InvalidArgumentError("invalid " + std::string(what) + " \"" + std::string(text) +
                              "\": " + std::string(hint));
}

std::string FormatScaled(uint64_t bytes, double base, const char* const* names) {
  double v = static_cast<double>(bytes);
  int idx = 0;
  while (v >= base && names[idx + 1] != nullptr) {
    v /= base;
    ++idx;
  }
  char buf[32];
  if (idx == 0) {
    std::snprintf(buf, sizeof buf, "%llu %s", static_cast<unsigned long long>(bytes), names[0]);
  } else if (v < 10) {
    std::snprintf(buf, sizeof buf, "%.2f %s", v, names[idx]);
  } else if (v < 100) {
    std::snprintf(buf, sizeof buf, "%.1f %s", v, names[idx]);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f %s", v, names[idx]);
  }
  return buf;
}

}  // namespace

Result<uint64_t> ParseSize(std::string_view text) {
  double number = 0;
  std::string unit;
  if (!SplitNumber(text, &number, &unit)) {
    return BadValue("size", text, "expected a number with an optional unit, e.g. 4.7GB or 512MiB");
  }
  if (!unit.empty() && unit.back() == 'b' && unit.size() > 1) unit.pop_back();  // "gb" -> "g"
  if (unit == "b") unit.clear();
  double mult = 0;
  if (unit.empty())
    mult = 1;
  else if (unit == "k")
    mult = 1e3;
  else if (unit == "m")
    mult = 1e6;
  else if (unit == "g")
    mult = 1e9;
  else if (unit == "t")
    mult = 1e12;
  else if (unit == "ki")
    mult = 1024.0;
  else if (unit == "mi")
    mult = 1024.0 * 1024;
  else if (unit == "gi")
    mult = 1024.0 * 1024 * 1024;
  else if (unit == "ti")
    mult = 1024.0 * 1024 * 1024 * 1024;
  else
    return BadValue("size", text, "unknown unit; use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB");
  double bytes = std::round(number * mult);
  if (bytes >= 1.8e19) return BadValue("size", text, "too large");
  return static_cast<uint64_t>(bytes);
}

Result<double> ParsePercent(std::string_view text) {
  std::string_view t = Trim(text);
  if (t.empty() || t.back() != '%') return BadValue("percentage", text, "expected e.g. 80%");
  double number = 0;
  std::string unit;
  if (!SplitNumber(t.substr(0, t.size() - 1), &number, &unit) || !unit.empty()) {
    return BadValue("percentage", text, "expected e.g. 80%");
  }
  if (number > 100) return BadValue("percentage", text, "must be between 0% and 100%");
  return number / 100.0;
}

uint64_t Amount::Of(uint64_t whole) const {
  if (!is_fraction) return bytes;
  return static_cast<uint64_t>(std::floor(static_cast<double>(whole) * fraction));
}

std::string Amount::ToString() const {
  if (!is_fraction) return FormatBytes(bytes);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g%%", fraction * 100);
  return buf;
}

Result<Amount> ParseAmount(std::string_view text) {
  std::string_view t = Trim(text);
  Amount a;
  if (!t.empty() && t.back() == '%') {
    ASSIGN_OR_RETURN(a.fraction, ParsePercent(t));
    a.is_fraction = true;
    return a;
  }
  auto size = ParseSize(t);
  if (!size.ok())
    return BadValue("amount", text, "expected a size such as 2GB or a share such as 80%");
  a.bytes = *size;
  return a;
}

Result<int64_t> ParseDuration(std::string_view text) {
  double number = 0;
  std::string unit;
  if (!SplitNumber(text, &number, &unit)) {
    return BadValue("duration", text, "expected e.g. 30d, 12h, 15m or 90s");
  }
  double mult = 0;
  if (unit.empty() || unit == "s" || unit == "sec")
    mult = 1;
  else if (unit == "m" || unit == "min")
    mult = 60;
  else if (unit == "h")
    mult = 3600;
  else if (unit == "d")
    mult = 86400;
  else if (unit == "w")
    mult = 7 * 86400;
  else
    return BadValue("duration", text, "unknown unit; use s, m, h, d or w");
  return static_cast<int64_t>(std::llround(number * mult));
}

Result<uint64_t> ParseRate(std::string_view text) {
  std::string_view t = Trim(text);
  std::string low = AsciiLower(t);
  if (low.size() > 2 && low.compare(low.size() - 2, 2, "/s") == 0) t.remove_suffix(2);
  auto r = ParseSize(t);
  if (!r.ok()) return BadValue("rate", text, "expected e.g. 10MB/s");
  return r;
}

std::string FormatBytes(uint64_t bytes) {
  static const char* const kNames[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", nullptr};
  return FormatScaled(bytes, 1024.0, kNames);
}

std::string FormatBytesDecimal(uint64_t bytes) {
  static const char* const kNames[] = {"B", "kB", "MB", "GB", "TB", "PB", nullptr};
  return FormatScaled(bytes, 1000.0, kNames);
}

std::string FormatDuration(int64_t seconds) {
  char buf[48];
  if (seconds < 0) seconds = 0;
  if (seconds < 60) {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(seconds));
  } else if (seconds < 3600) {
    std::snprintf(buf, sizeof buf, "%lldm %02llds", static_cast<long long>(seconds / 60),
                  static_cast<long long>(seconds % 60));
  } else if (seconds < 86400) {
    std::snprintf(buf, sizeof buf, "%lldh %02lldm", static_cast<long long>(seconds / 3600),
                  static_cast<long long>((seconds % 3600) / 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lldd %02lldh", static_cast<long long>(seconds / 86400),
                  static_cast<long long>((seconds % 86400) / 3600));
  }
  return buf;
}

}  // namespace hangar
