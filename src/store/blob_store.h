// BlobStore: Hangar's own content-addressed store, for files that do not
// come from the Hugging Face hub (Ollama registry layers, plain URLs,
// imports with --copy or --move). It uses Ollama's naming, so a blob can be
// hard-linked into Ollama's store unchanged:
//
//   <root>/blobs/sha256-{hex}            the verified bytes, read-only
//   <root>/blobs/sha256-{hex}-partial    a download in progress (resume state
//                                        beside it, see fetch/)
//   <root>/blobs/.locks/sha256-{hex}.lock  flock'd by the downloader
//   <root>/manifests/{host}/{namespace}/{name}/{tag}
//                                        Ollama-format manifests of models
//                                        pulled from a registry
//
// Thread-safety: only paths and atomic file-system operations; safe to use
// concurrently.
#ifndef HANGAR_STORE_BLOB_STORE_H_
#define HANGAR_STORE_BLOB_STORE_H_

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace hangar::store {

// InvalidArgument unless `hex` is 64 lowercase hex digits.
Status ValidateSha256(std::string_view hex);

class BlobStore {
 public:
  explicit BlobStore(std::filesystem::path root) : root_(std::move(root)) {}

  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path BlobPath(std::string_view sha256_hex) const;
  std::filesystem::path PartialPath(std::string_view sha256_hex) const;
  std::filesystem::path LockPath(std::string_view sha256_hex) const;
  std::filesystem::path ManifestsDir() const { return root_ / "manifests"; }

  // True when the blob exists as a regular file.
  bool Has(std::string_view sha256_hex) const;

  // Moves (rename; copy + remove across file systems) or copies `file` into
  // the store as the blob `sha256_hex`, whose digest the caller verified.
  // An existing blob is kept (same bytes by construction). Returns the blob
  // path. Unavailable on I/O errors.
  Result<std::filesystem::path> Adopt(const std::filesystem::path& file,
                                      std::string_view sha256_hex, bool keep_source) const;

  // Every blob: {hex, size}.
  struct Blob {
    std::string sha256;
    std::filesystem::path path;
    uint64_t size = 0;
  };
  std::vector<Blob> List() const;
  // Partial downloads (blobs/*-partial and their state files).
  std::vector<std::filesystem::path> Partials() const;

 private:
  std::filesystem::path root_;
};

}  // namespace hangar::store

#endif  // HANGAR_STORE_BLOB_STORE_H_
