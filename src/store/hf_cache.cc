#include "store/hf_cache.h"

#include <unistd.h>

#include <algorithm>
#include <system_error>

#include "core/file_util.h"

namespace hangar::store {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kModelsPrefix = "models--";

bool IsHubNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.';
}

bool IsLowerHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

Status CheckName(std::string_view part, std::string_view repo_id) {
  if (part.empty() || part == "." || part == ".." ||
      !std::all_of(part.begin(), part.end(), IsHubNameChar) || part.find("--") == 0) {
    return InvalidArgumentError("'" + std::string(repo_id) +
                                "' is not a Hugging Face repository id (ORG/REPO of letters, "
                                "digits, '-', '_' and '.')");
  }
  return Status::Ok();
}

// The relative target of a snapshot entry: one "../" per folder between the
// entry and the repository folder.
fs::path BlobLinkTarget(std::string_view path, std::string_view blob_id) {
  fs::path target = "..";
  target /= "..";
  for (char c : path) {
    if (c == '/') target /= "..";
  }
  return target / "blobs" / std::string(blob_id);
}

}  // namespace

Status ValidateRepoId(std::string_view repo_id) {
  const size_t slash = repo_id.find('/');
  if (slash == std::string_view::npos) return CheckName(repo_id, repo_id);
  if (repo_id.find('/', slash + 1) != std::string_view::npos) {
    return InvalidArgumentError("'" + std::string(repo_id) +
                                "' is not a Hugging Face repository id (one '/' at most)");
  }
  RETURN_IF_ERROR(CheckName(repo_id.substr(0, slash), repo_id));
  return CheckName(repo_id.substr(slash + 1), repo_id);
}

Status ValidateRepoPath(std::string_view path) {
  auto bad = [&](std::string_view why) {
    return InvalidArgumentError("refusing the repository path '" + std::string(path) +
                                "': " + std::string(why));
  };
  if (path.empty()) return bad("it is empty");
  if (path.front() == '/') return bad("it is absolute");
  if (path.find('\\') != std::string_view::npos) return bad("it has a backslash");
  if (path.find('\0') != std::string_view::npos) return bad("it has a NUL byte");
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view part = path.substr(start, end - start);
    if (part.empty()) return bad("it has an empty component");
    if (part == "." || part == "..") return bad("it leaves its folder ('..' or '.')");
    start = end + 1;
  }
  return Status::Ok();
}

Status ValidateBlobId(std::string_view id) {
  if ((id.size() == 40 || id.size() == 64) && IsLowerHex(id)) return Status::Ok();
  return InvalidArgumentError("'" + std::string(id) +
                              "' is not a blob id (40 or 64 lowercase hex digits)");
}

std::string HfCache::RepoFolderName(std::string_view repo_id) {
  std::string name(kModelsPrefix);
  for (char c : repo_id) {
    if (c == '/') {
      name += "--";
    } else {
      name += c;
    }
  }
  return name;
}

std::optional<std::string> HfCache::RepoIdFromFolder(std::string_view folder) {
  if (!folder.starts_with(kModelsPrefix)) return std::nullopt;
  std::string rest(folder.substr(kModelsPrefix.size()));
  const size_t sep = rest.find("--");
  std::string id =
      sep == std::string::npos ? rest : rest.substr(0, sep) + "/" + rest.substr(sep + 2);
  if (!ValidateRepoId(id).ok()) return std::nullopt;
  return id;
}

fs::path HfCache::RepoDir(std::string_view repo_id) const {
  return root_ / RepoFolderName(repo_id);
}

fs::path HfCache::BlobPath(std::string_view repo_id, std::string_view blob_id) const {
  return RepoDir(repo_id) / "blobs" / std::string(blob_id);
}

fs::path HfCache::IncompletePath(std::string_view repo_id, std::string_view blob_id) const {
  return RepoDir(repo_id) / "blobs" / (std::string(blob_id) + ".incomplete");
}

fs::path HfCache::LockPath(std::string_view repo_id, std::string_view blob_id) const {
  return root_ / ".locks" / RepoFolderName(repo_id) / (std::string(blob_id) + ".lock");
}

fs::path HfCache::SnapshotPath(std::string_view repo_id, std::string_view commit,
                               std::string_view path) const {
  return RepoDir(repo_id) / "snapshots" / std::string(commit) / std::string(path);
}

Result<std::optional<std::string>> HfCache::ReadRef(std::string_view repo_id,
                                                    std::string_view branch) const {
  Result<std::string> text = ReadFile(RepoDir(repo_id) / "refs" / std::string(branch));
  if (!text.ok()) {
    if (text.status().code() == StatusCode::kNotFound) return std::optional<std::string>();
    return text.status();
  }
  std::string commit = *text;
  while (!commit.empty() && (commit.back() == '\n' || commit.back() == ' ')) commit.pop_back();
  if (commit.empty()) return std::optional<std::string>();
  return std::optional<std::string>(commit);
}

Status HfCache::WriteRef(std::string_view repo_id, std::string_view branch,
                         std::string_view commit) const {
  RETURN_IF_ERROR(ValidateRepoPath(branch));
  // huggingface_hub writes the bare sha, no newline.
  return WriteFileAtomic(RepoDir(repo_id) / "refs" / std::string(branch), commit);
}

std::optional<HfCachedFile> HfCache::Find(std::string_view repo_id, std::string_view commit,
                                          std::string_view path) const {
  if (!ValidateRepoPath(path).ok() || !ValidateRepoPath(commit).ok()) return std::nullopt;
  const fs::path entry = SnapshotPath(repo_id, commit, path);
  std::error_code ec;
  const fs::path resolved = fs::canonical(entry, ec);
  if (ec || !fs::is_regular_file(resolved, ec)) return std::nullopt;
  HfCachedFile f;
  f.repo_id = std::string(repo_id);
  f.commit = std::string(commit);
  f.path = std::string(path);
  f.snapshot_path = entry;
  f.blob_path = resolved;
  f.size = fs::file_size(resolved, ec);
  if (ec) return std::nullopt;
  return f;
}

Result<fs::path> HfCache::LinkSnapshot(std::string_view repo_id, std::string_view commit,
                                       std::string_view path, std::string_view blob_id) const {
  RETURN_IF_ERROR(ValidateRepoId(repo_id));
  RETURN_IF_ERROR(ValidateRepoPath(path));
  RETURN_IF_ERROR(ValidateRepoPath(commit));
  RETURN_IF_ERROR(ValidateBlobId(blob_id));
  const fs::path blob = BlobPath(repo_id, blob_id);
  std::error_code ec;
  if (!fs::is_regular_file(blob, ec)) {
    return NotFoundError("blob " + blob.string() + " is missing; download it first");
  }
  const fs::path entry = SnapshotPath(repo_id, commit, path);
  fs::create_directories(entry.parent_path(), ec);
  if (ec)
    return UnavailableError("cannot create " + entry.parent_path().string() + ": " + ec.message());
  // Build the new entry beside the old one and rename it over: readers see
  // the old entry or the new one.
  const fs::path tmp = entry.parent_path() /
                       ("." + entry.filename().string() + ".hangar-" + std::to_string(getpid()));
  fs::remove(tmp, ec);
  fs::create_symlink(BlobLinkTarget(path, blob_id), tmp, ec);
  if (ec) {
    ec.clear();
    fs::create_hard_link(blob, tmp, ec);
  }
  if (ec) {
    ec.clear();
    fs::copy_file(blob, tmp, fs::copy_options::overwrite_existing, ec);
  }
  if (ec) return UnavailableError("cannot create " + entry.string() + ": " + ec.message());
  fs::rename(tmp, entry, ec);
  if (ec) {
    fs::remove(tmp);
    return UnavailableError("cannot create " + entry.string() + ": " + ec.message());
  }
  return entry;
}

std::vector<HfCachedFile> HfCache::ListFiles() const {
  std::vector<HfCachedFile> files;
  std::error_code ec;
  for (const fs::directory_entry& repo : fs::directory_iterator(root_, ec)) {
    std::optional<std::string> repo_id = RepoIdFromFolder(repo.path().filename().string());
    if (!repo_id) continue;
    const fs::path snapshots = repo.path() / "snapshots";
    std::error_code sec;
    for (const fs::directory_entry& snap : fs::directory_iterator(snapshots, sec)) {
      std::error_code wec;
      for (auto it = fs::recursive_directory_iterator(snap.path(), wec);
           !wec && it != fs::recursive_directory_iterator(); it.increment(wec)) {
        std::error_code fec;
        if (it->is_directory(fec)) continue;
        // Lexically: the entries are symlinks, which fs::relative would follow.
        const std::string rel = it->path().lexically_relative(snap.path()).generic_string();
        if (std::optional<HfCachedFile> f = Find(*repo_id, snap.path().filename().string(), rel)) {
          files.push_back(std::move(*f));
        }
      }
    }
  }
  std::sort(files.begin(), files.end(), [](const HfCachedFile& a, const HfCachedFile& b) {
    return std::tie(a.repo_id, a.commit, a.path) < std::tie(b.repo_id, b.commit, b.path);
  });
  return files;
}

Result<uint64_t> HfCache::RemoveBlob(std::string_view repo_id, std::string_view blob_id) const {
  RETURN_IF_ERROR(ValidateRepoId(repo_id));
  RETURN_IF_ERROR(ValidateBlobId(blob_id));
  const fs::path blob = BlobPath(repo_id, blob_id);
  std::error_code ec;
  const fs::path canonical_blob = fs::weakly_canonical(blob, ec);
  uint64_t freed = 0;
  // Snapshot entries first (links, or copies with the blob's bytes).
  const fs::path snapshots = RepoDir(repo_id) / "snapshots";
  std::vector<fs::path> doomed;
  for (auto it = fs::recursive_directory_iterator(snapshots, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code lec;
    if (!it->is_symlink(lec)) continue;
    const fs::path target = fs::weakly_canonical(it->path(), lec);
    if (!lec && target == canonical_blob) doomed.push_back(it->path());
  }
  for (const fs::path& p : doomed) {
    std::error_code rec;
    fs::remove(p, rec);
    // Empty folders up to the snapshot's.
    for (fs::path dir = p.parent_path(); dir != snapshots && dir.has_parent_path();
         dir = dir.parent_path()) {
      if (!fs::is_empty(dir, rec) || rec) break;
      fs::remove(dir, rec);
    }
  }
  if (fs::exists(blob, ec)) {
    freed = fs::file_size(blob, ec);
    if (!fs::remove(blob, ec) || ec) {
      return UnavailableError("cannot remove " + blob.string() + ": " + ec.message());
    }
  }
  return freed;
}

}  // namespace hangar::store
