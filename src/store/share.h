// Sharing an installed model with another tool without a second copy of its
// bytes: each file is hard-linked into that tool's store (a symlink when the
// store is on another file system), and the tool's own index is written.
//
//   ollama    {ollama_models}/blobs/sha256-{hex} for every layer, a config
//             blob (application/vnd.docker.container.image.v1+json: format,
//             family, type, file type) and the manifest
//             manifests/registry.ollama.ai/{ns}/{name}/{tag} (Docker
//             distribution v2, the model layer first, then the template /
//             params / system / license layers the model has); afterwards
//             `ollama run {name}:{tag}` finds it.
//   lmstudio  {lmstudio_models}/{publisher}/{model}/{file}.gguf (LM Studio
//             reads that layout: publisher "hangar" unless given); every
//             part of a split set.
//
// Ollama names blobs by SHA-256: a file whose digest is unknown is hashed
// once (the digest is returned so the caller can record it).
//
// Thread-safety: file-system operations only.
#ifndef HANGAR_STORE_SHARE_H_
#define HANGAR_STORE_SHARE_H_

#include <filesystem>
#include <string>
#include <vector>

#include "core/status.h"
#include "store/model_db.h"

namespace hangar::store {

enum class LinkKind { kHardLink, kSymlink, kAlreadyThere };
std::string_view LinkKindName(LinkKind kind);  // "hardlink", "symlink", "existing"

struct SharedFile {
  std::filesystem::path from;  // the blob
  std::filesystem::path to;    // in the other tool's store
  LinkKind link = LinkKind::kHardLink;
};

struct ShareResult {
  std::string tool;             // "ollama", "lmstudio"
  std::string name;             // how that tool names it: "qwen3:8b", "hangar/qwen3-8b"
  std::filesystem::path index;  // the manifest written (ollama), or the folder (lmstudio)
  std::vector<SharedFile> files;
  std::vector<std::pair<std::string, std::string>> digests;  // file path -> sha256 computed
};

// Links `file` to `to`: hard link, else (another file system, or links
// refused) a symlink; an existing `to` with the same inode, or a symlink to
// `file`, is left alone. AlreadyExists when `to` is another file.
Result<LinkKind> LinkInto(const std::filesystem::path& file, const std::filesystem::path& to);

// Ollama name: "[NS/]NAME[:TAG]" of lowercase letters, digits, '.', '-', '_'
// (NS default "library", TAG default "latest"). InvalidArgument otherwise.
Result<ShareResult> ShareWithOllama(const InstalledModel& model,
                                    const std::filesystem::path& ollama_models,
                                    std::string_view name);

// `name` is "PUBLISHER/MODEL" or "MODEL" (publisher "hangar").
Result<ShareResult> ShareWithLmStudio(const InstalledModel& model,
                                      const std::filesystem::path& lmstudio_models,
                                      std::string_view name);

// A default name for `model` in another tool: its catalog id, else its file
// name without ".gguf" and quantization tag, lowercased, with characters
// other tools refuse replaced by '-'.
std::string DefaultShareName(const InstalledModel& model);

}  // namespace hangar::store

#endif  // HANGAR_STORE_SHARE_H_
