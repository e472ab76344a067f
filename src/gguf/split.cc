#include "gguf/split.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cctype>
#include <system_error>
#include <unordered_set>

#include "gguf/parser.h"

namespace hangar::gguf {
namespace {

// The number written in `s`: five to nine digits, nothing else; else nullopt.
std::optional<uint32_t> ParsePartNumber(std::string_view s) {
  if (s.size() < 5 || s.size() > 9) return std::nullopt;
  uint32_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<uint32_t>(c - '0');
  }
  return n;
}

}  // namespace

std::optional<SplitName> ParseSplitName(std::string_view name) {
  constexpr std::string_view kExt = ".gguf";
  if (name.size() <= kExt.size() || name.substr(name.size() - kExt.size()) != kExt) {
    return std::nullopt;
  }
  std::string_view stem = name.substr(0, name.size() - kExt.size());
  const size_t of = stem.rfind("-of-");
  if (of == std::string_view::npos) return std::nullopt;
  std::optional<uint32_t> count = ParsePartNumber(stem.substr(of + 4));
  const size_t dash = stem.substr(0, of).rfind('-');
  if (!count || dash == std::string_view::npos || dash == 0) return std::nullopt;
  std::optional<uint32_t> number = ParsePartNumber(stem.substr(dash + 1, of - dash - 1));
  if (!number || *number == 0 || *number > *count) return std::nullopt;
  return SplitName{std::string(stem.substr(0, dash)), *number, *count};
}

std::string SplitFileName(std::string_view prefix, uint32_t number, uint32_t count) {
  return fmt::format("{}-{:05d}-of-{:05d}.gguf", prefix, number, count);
}

bool IsGgufModelFileName(std::string_view path) {
  const size_t slash = path.rfind('/');
  const std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  if (name.size() < 5) return false;
  std::string ext(name.substr(name.size() - 5));
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (ext != ".gguf") return false;
  for (std::string_view side : {"mmproj", "imatrix", "mtp-", "eagle3-", "dflash-", "dspark-"}) {
    if (name.find(side) != std::string_view::npos) return false;
  }
  return true;
}

bool IsFirstPartOrWhole(std::string_view path) {
  const size_t slash = path.rfind('/');
  std::optional<SplitName> split =
      ParseSplitName(slash == std::string_view::npos ? path : path.substr(slash + 1));
  return !split || split->number == 1;
}

std::vector<std::filesystem::path> SplitPartPaths(const std::filesystem::path& path) {
  std::optional<SplitName> split = ParseSplitName(path.filename().string());
  if (!split) return {path};
  std::vector<std::filesystem::path> out;
  for (uint32_t i = 1; i <= split->count; ++i) {
    out.push_back(path.parent_path() / SplitFileName(split->prefix, i, split->count));
  }
  return out;
}

Result<std::vector<GgufFile>> ReadSplitModel(const std::filesystem::path& path,
                                             bool check_tensor_data) {
  const std::vector<std::filesystem::path> paths = SplitPartPaths(path);
  std::vector<std::string> missing;
  for (const std::filesystem::path& p : paths) {
    std::error_code ec;
    if (!std::filesystem::exists(p, ec)) missing.push_back(p.filename().string());
  }
  if (!missing.empty()) {
    return NotFoundError(fmt::format(
        "{} of the {} parts of the split model {} are missing: {}; download the missing parts",
        missing.size(), paths.size(), path.filename().string(), fmt::join(missing, ", ")));
  }

  std::vector<GgufFile> parts;
  for (size_t i = 0; i < paths.size(); ++i) {
    ASSIGN_OR_RETURN(GgufFile part, ReadHeader(paths[i], check_tensor_data));
    for (TensorInfo& t : part.tensors) t.part = static_cast<uint32_t>(i);
    const std::optional<uint64_t> count = part.GetUint("split.count");
    const std::optional<uint64_t> no = part.GetUint("split.no");
    if (paths.size() == 1) {
      if (count && *count > 1) {
        return InvalidArgumentError(fmt::format(
            "{} says it is part {} of a model split into {} files, but its name does not end "
            "in -0000N-of-{:05d}.gguf; rename the parts as llama.cpp's gguf-split names them",
            part.name, no.value_or(0) + 1, *count, *count));
      }
    } else {
      if (count && *count != paths.size()) {
        return DataLossError(fmt::format(
            "{}: split.count is {}, but the file name says {} parts; the parts come from "
            "different models or were renamed",
            part.name, *count, paths.size()));
      }
      if (no && *no != i) {
        return DataLossError(fmt::format(
            "{}: split.no is {} (part {}), but the file name says part {}; the parts were renamed",
            part.name, *no, *no + 1, i + 1));
      }
      if (!no && i > 0) {
        return DataLossError(fmt::format(
            "{} has no split.no key, so it is not a part of a split model; the parts come from "
            "different models",
            part.name));
      }
    }
    parts.push_back(std::move(part));
  }

  std::unordered_set<std::string> names;
  uint64_t total = 0;
  for (const GgufFile& part : parts) {
    for (const TensorInfo& t : part.tensors) {
      if (!names.insert(t.name).second) {
        return DataLossError(fmt::format(
            "{}: tensor \"{}\" is also in an earlier part; the parts come from different models",
            part.name, t.name));
      }
      ++total;
    }
  }
  if (std::optional<uint64_t> expected = parts[0].GetUint("split.tensors.count");
      expected && paths.size() > 1 && *expected != total) {
    return DataLossError(fmt::format(
        "{}: split.tensors.count is {}, but the {} parts hold {} tensors; the parts come from "
        "different models",
        parts[0].name, *expected, parts.size(), total));
  }
  return parts;
}

}  // namespace hangar::gguf
