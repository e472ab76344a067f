#include "hardware/probe_files.h"

#include <cctype>
#include <charconv>
#include <cstdlib>

#include "core/file_util.h"

namespace hangar::hardware_internal {

std::optional<std::string> ReadProbeFile(const std::filesystem::path& root,
                                         std::string_view relative) {
  Result<std::string> content = ReadFile(root / relative);
  if (!content.ok()) return std::nullopt;
  return std::move(content).value();
}

std::optional<uint64_t> ReadProbeNumber(const std::filesystem::path& root,
                                        std::string_view relative) {
  std::optional<std::string> text = ReadProbeFile(root, relative);
  if (!text) return std::nullopt;
  return ParseUnsigned(*text);
}

std::optional<std::string> ReadProbeLine(const std::filesystem::path& root,
                                         std::string_view relative) {
  std::optional<std::string> text = ReadProbeFile(root, relative);
  if (!text) return std::nullopt;
  return std::string(TrimBlanks(*text));
}

std::string_view TrimBlanks(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::optional<uint64_t> ParseUnsigned(std::string_view s, bool allow_hex) {
  s = TrimBlanks(s);
  int base = 10;
  if (allow_hex && s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    s.remove_prefix(2);
    base = 16;
  }
  if (s.empty()) return std::nullopt;
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value, base);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return value;
}

std::optional<double> ParseDecimal(std::string_view s) {
  s = TrimBlanks(s);
  if (s.empty()) return std::nullopt;
  // strtod needs a terminated string; the values here are short.
  std::string text(s);
  char* end = nullptr;
  double value = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size()) return std::nullopt;
  return value;
}

void ForEachKeyValue(std::string_view text, char sep,
                     const std::function<void(std::string_view, std::string_view)>& fn) {
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    size_t at = line.find(sep);
    if (at == std::string_view::npos) {
      fn(std::string_view(), TrimBlanks(line));
    } else {
      fn(TrimBlanks(line.substr(0, at)), TrimBlanks(line.substr(at + 1)));
    }
  }
}

std::optional<uint64_t> ParseSuffixedSize(std::string_view s) {
  s = TrimBlanks(s);
  uint64_t scale = 1;
  if (!s.empty()) {
    switch (std::toupper(static_cast<unsigned char>(s.back()))) {
      case 'K':
        scale = 1024;
        break;
      case 'M':
        scale = 1024 * 1024;
        break;
      case 'G':
        scale = 1024ULL * 1024 * 1024;
        break;
    }
    if (scale != 1) s.remove_suffix(1);
  }
  std::optional<uint64_t> n = ParseUnsigned(s);
  if (!n) return std::nullopt;
  return *n * scale;
}

}  // namespace hangar::hardware_internal
