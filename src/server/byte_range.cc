#include "server/byte_range.h"

#include <fmt/format.h>

#include <charconv>
#include <optional>

namespace hangar::server {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Digits only (no sign, no spaces); nullopt otherwise or on overflow.
std::optional<uint64_t> Number(std::string_view s) {
  if (s.empty()) return std::nullopt;
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

std::string ByteRange::ContentRange(uint64_t size) const {
  if (kind == Kind::kUnsatisfiable) return fmt::format("bytes */{}", size);
  return fmt::format("bytes {}-{}/{}", first, first + length - 1, size);
}

ByteRange ParseByteRange(std::string_view header, uint64_t size) {
  ByteRange whole{ByteRange::Kind::kWhole, 0, size};
  header = Trim(header);
  constexpr std::string_view kUnit = "bytes=";
  if (header.size() <= kUnit.size() || header.substr(0, kUnit.size()) != kUnit) return whole;
  std::string_view spec = Trim(header.substr(kUnit.size()));
  if (spec.find(',') != std::string_view::npos) return whole;
  const size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return whole;
  std::string_view from = Trim(spec.substr(0, dash)), to = Trim(spec.substr(dash + 1));
  if (from.empty()) {
    // A suffix: the last N bytes (all of them when N is larger than the file).
    std::optional<uint64_t> n = Number(to);
    if (!n) return whole;
    if (*n == 0 || size == 0) return {ByteRange::Kind::kUnsatisfiable, 0, 0};
    const uint64_t length = std::min(*n, size);
    return {ByteRange::Kind::kPartial, size - length, length};
  }
  std::optional<uint64_t> first = Number(from);
  if (!first) return whole;
  uint64_t last = size == 0 ? 0 : size - 1;
  if (!to.empty()) {
    std::optional<uint64_t> l = Number(to);
    if (!l || *l < *first) return whole;
    last = std::min(*l, last);
  }
  if (*first >= size) return {ByteRange::Kind::kUnsatisfiable, 0, 0};
  return {ByteRange::Kind::kPartial, *first, last - *first + 1};
}

}  // namespace hangar::server
