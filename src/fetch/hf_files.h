// Choosing files of a Hugging Face repository: the GGUF file a quantization
// tag names (as llama.cpp's `-hf ORG/REPO:TAG` does), the other parts of a
// split model, and the projector of a vision model.
//
// The rule, for a tag T given: the first GGUF model file (not an mmproj,
// imatrix or draft-model file) whose path contains T followed by '.' or '-',
// case-insensitive; for no tag: the same with Q4_K_M, then Q8_0, then the
// first GGUF model file. Of a split set only part 1 is chosen; its siblings
// come with it. Pure functions.
#ifndef HANGAR_FETCH_HF_FILES_H_
#define HANGAR_FETCH_HF_FILES_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace hangar::fetch {

// One file of a repository listing (`/api/models/{repo}/tree/{rev}`).
struct HfFile {
  std::string path;
  uint64_t size = 0;
  std::string oid;     // git blob sha1
  std::string sha256;  // LFS sha256; empty for a file stored in git
  // The blob id in the cache: the LFS sha256, else the git sha1.
  const std::string& blob_id() const { return sha256.empty() ? oid : sha256; }
};

inline constexpr std::string_view kDefaultQuantTags[] = {"Q4_K_M", "Q8_0"};

// True for a .gguf file that is a model (not mmproj/imatrix/draft files).
bool IsGgufModelFile(std::string_view path);

struct HfSelection {
  std::vector<HfFile> files;   // the model's files, part 1 first
  std::string quant;           // the tag that matched; empty for the fallback
  std::vector<HfFile> extras;  // an mmproj projector in the same folder, if any
  uint64_t total_size() const;
};

// The files `tag` (may be empty) names in `listing`. NotFound naming the
// repository and listing the GGUF files there when nothing matches (or the
// repository has no GGUF file); DataLoss when a split set is incomplete.
Result<HfSelection> SelectGgufFiles(std::span<const HfFile> listing, std::string_view tag,
                                    std::string_view repo);

// The files under `path` (a file, or a folder prefix) for a non-GGUF pull.
// NotFound when nothing matches.
Result<std::vector<HfFile>> SelectPath(std::span<const HfFile> listing, std::string_view path,
                                       std::string_view repo);

}  // namespace hangar::fetch

#endif  // HANGAR_FETCH_HF_FILES_H_
