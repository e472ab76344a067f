#include "fetch/hf_files.h"

#include <algorithm>
#include <cctype>

#include "gguf/split.h"

namespace hangar::fetch {
namespace {

std::string Upper(std::string_view s) {
  std::string u(s);
  for (char& c : u) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return u;
}

std::string_view FileName(std::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

std::string_view Folder(std::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string_view{} : path.substr(0, slash);
}

bool NamesTag(std::string_view path, std::string_view tag) {
  const std::string p = Upper(path);
  const std::string t = Upper(tag);
  for (size_t at = p.find(t); at != std::string::npos; at = p.find(t, at + 1)) {
    const size_t end = at + t.size();
    if (end < p.size() && (p[end] == '.' || p[end] == '-')) return true;
  }
  return false;
}

std::string ListGguf(std::span<const HfFile> listing) {
  std::string names;
  for (const HfFile& f : listing) {
    if (!IsGgufModelFile(f.path)) continue;
    if (!names.empty()) names += ", ";
    names += f.path;
  }
  return names.empty() ? "none" : names;
}

}  // namespace

bool IsGgufModelFile(std::string_view path) { return gguf::IsGgufModelFileName(path); }

uint64_t HfSelection::total_size() const {
  uint64_t total = 0;
  for (const HfFile& f : files) total += f.size;
  return total;
}

Result<HfSelection> SelectGgufFiles(std::span<const HfFile> listing, std::string_view tag,
                                    std::string_view repo) {
  std::vector<std::string_view> tags;
  if (!tag.empty()) {
    tags.push_back(tag);
  } else {
    tags.assign(std::begin(kDefaultQuantTags), std::end(kDefaultQuantTags));
  }
  const HfFile* primary = nullptr;
  HfSelection sel;
  for (std::string_view t : tags) {
    for (const HfFile& f : listing) {
      if (IsGgufModelFile(f.path) && gguf::IsFirstPartOrWhole(f.path) && NamesTag(f.path, t)) {
        primary = &f;
        sel.quant = std::string(t);
        break;
      }
    }
    if (primary != nullptr) break;
  }
  if (primary == nullptr && tag.empty()) {
    for (const HfFile& f : listing) {
      if (IsGgufModelFile(f.path) && gguf::IsFirstPartOrWhole(f.path)) {
        primary = &f;
        break;
      }
    }
  }
  if (primary == nullptr) {
    return NotFoundError(
        tag.empty() ? "the repository " + std::string(repo) + " has no GGUF model file"
                    : "no GGUF file of " + std::string(repo) + " matches the quantization '" +
                          std::string(tag) + "'; its GGUF files: " + ListGguf(listing));
  }
  sel.files.push_back(*primary);
  if (std::optional<gguf::SplitName> split = gguf::ParseSplitName(primary->path)) {
    for (uint32_t n = 2; n <= split->count; ++n) {
      const std::string want = gguf::SplitFileName(split->prefix, n, split->count);
      auto it = std::find_if(listing.begin(), listing.end(),
                             [&](const HfFile& f) { return f.path == want; });
      if (it == listing.end()) {
        return DataLossError("the split model " + primary->path + " of " + std::string(repo) +
                             " is incomplete: " + want + " is not in the repository");
      }
      sel.files.push_back(*it);
    }
  }
  // A vision model's projector beside it (llama.cpp fetches it too).
  const std::string_view folder = Folder(primary->path);
  for (const HfFile& f : listing) {
    if (Upper(f.path).ends_with(".GGUF") && Folder(f.path) == folder &&
        FileName(f.path).find("mmproj") != std::string_view::npos) {
      sel.extras.push_back(f);
      break;
    }
  }
  return sel;
}

Result<std::vector<HfFile>> SelectPath(std::span<const HfFile> listing, std::string_view path,
                                       std::string_view repo) {
  std::vector<HfFile> out;
  const std::string prefix = std::string(path) + (path.ends_with("/") ? "" : "/");
  for (const HfFile& f : listing) {
    if (f.path == path || f.path.starts_with(prefix)) out.push_back(f);
  }
  if (out.empty()) {
    return NotFoundError("the repository " + std::string(repo) + " has no file " +
                         std::string(path));
  }
  return out;
}

}  // namespace hangar::fetch
