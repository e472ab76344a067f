// HfCache: the Hugging Face hub cache, in the layout huggingface_hub and
// llama.cpp share, so a file fetched by any of them is seen by all.
//
//   <root>/models--{org}--{repo}/
//     blobs/{id}                  the bytes; id = sha256 (LFS) or git sha1
//     blobs/{id}.incomplete       a partial download (Hangar keeps its resume
//                                 state beside it, see fetch/)
//     snapshots/{commit}/{path}   relative symlink to ../../blobs/{id} (one
//                                 more ../ per folder in path); a copy where
//                                 the file system refuses symlinks
//     refs/{branch}               the commit sha the branch pointed at
//   <root>/.locks/models--{org}--{repo}/{id}.lock
//                               flock'd by whoever writes blobs/{id}
//                               (huggingface_hub's filelock uses the same)
//
// Repository ids are "org/repo" (a bare "repo" is allowed, as on the hub);
// paths inside a repository are relative, '/'-separated, and never contain
// "..", an absolute part or a NUL: ValidateRepoPath refuses those, so a
// hostile listing (`../../evil.gguf`) cannot write outside the cache.
//
// Thread-safety: HfCache holds only its root; every method is a file-system
// operation safe to call concurrently (writes are atomic renames).
#ifndef HANGAR_STORE_HF_CACHE_H_
#define HANGAR_STORE_HF_CACHE_H_

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace hangar::store {

// InvalidArgument for an id that is not "org/repo" or "repo" of the hub's
// characters (letters, digits, '-', '_', '.'), or that is "." / "..".
Status ValidateRepoId(std::string_view repo_id);
// InvalidArgument for a path that is empty, absolute, has "." or ".."
// components, a backslash or a NUL.
Status ValidateRepoPath(std::string_view path);
// InvalidArgument unless `id` is 40 (sha1) or 64 (sha256) lowercase hex digits.
Status ValidateBlobId(std::string_view id);

// One file of a cached snapshot.
struct HfCachedFile {
  std::string repo_id;  // "org/repo"
  std::string commit;   // snapshot folder name
  std::string path;     // inside the repository
  std::filesystem::path snapshot_path;
  std::filesystem::path blob_path;  // what the snapshot entry resolves to
  uint64_t size = 0;
};

class HfCache {
 public:
  explicit HfCache(std::filesystem::path root) : root_(std::move(root)) {}

  const std::filesystem::path& root() const { return root_; }

  // "models--org--repo" (the caller validated repo_id).
  static std::string RepoFolderName(std::string_view repo_id);
  // The inverse; nullopt for a folder that is not a model repository's.
  static std::optional<std::string> RepoIdFromFolder(std::string_view folder);

  std::filesystem::path RepoDir(std::string_view repo_id) const;
  std::filesystem::path BlobPath(std::string_view repo_id, std::string_view blob_id) const;
  std::filesystem::path IncompletePath(std::string_view repo_id, std::string_view blob_id) const;
  std::filesystem::path LockPath(std::string_view repo_id, std::string_view blob_id) const;
  std::filesystem::path SnapshotPath(std::string_view repo_id, std::string_view commit,
                                     std::string_view path) const;

  // The commit `refs/{branch}` names; nullopt when the ref file is missing.
  Result<std::optional<std::string>> ReadRef(std::string_view repo_id,
                                             std::string_view branch) const;
  // Writes `refs/{branch}` atomically. Unavailable on I/O errors.
  Status WriteRef(std::string_view repo_id, std::string_view branch, std::string_view commit) const;

  // The snapshot entry of `path` at `commit` if it exists and resolves to a
  // regular file (a dangling link is not a cached file).
  std::optional<HfCachedFile> Find(std::string_view repo_id, std::string_view commit,
                                   std::string_view path) const;

  // Makes snapshots/{commit}/{path} point at blobs/{blob_id} (which must
  // exist): a relative symlink, replaced atomically if present; where the
  // file system refuses symlinks, a hard link, then a copy. InvalidArgument
  // for a bad id or path; NotFound when the blob is missing; Unavailable on
  // I/O errors.
  Result<std::filesystem::path> LinkSnapshot(std::string_view repo_id, std::string_view commit,
                                             std::string_view path, std::string_view blob_id) const;

  // Every file of every snapshot of every model repository in the cache.
  // Unreadable entries are skipped.
  std::vector<HfCachedFile> ListFiles() const;

  // Removes blobs/{blob_id} and every snapshot entry of the repository that
  // resolves to it; empty snapshot folders go too. Returns the bytes freed.
  Result<uint64_t> RemoveBlob(std::string_view repo_id, std::string_view blob_id) const;

 private:
  std::filesystem::path root_;
};

}  // namespace hangar::store

#endif  // HANGAR_STORE_HF_CACHE_H_
