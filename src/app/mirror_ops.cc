#include "app/mirror_ops.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <set>
#include <system_error>

#include "core/file_util.h"
#include "core/sha256.h"
#include "fetch/hf_hub.h"
#include "fetch/ollama_registry.h"
#include "store/blob_store.h"
#include "store/hf_cache.h"

namespace hangar::app {
namespace {

namespace fs = std::filesystem;

bool IsCommit(std::string_view s) {
  return s.size() == 40 && std::all_of(s.begin(), s.end(), [](char c) {
           return std::isdigit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'f');
         });
}

// A regular file, not a symlink.
bool IsPlainFile(const fs::path& p) {
  std::error_code ec;
  return fs::symlink_status(p, ec).type() == fs::file_type::regular;
}

// `path` below `dir` ("a/b.gguf"), or empty when it is not below it.
std::string Below(const fs::path& path, const fs::path& dir) {
  const fs::path rel = path.lexically_normal().lexically_relative(dir.lexically_normal());
  const std::string s = rel.generic_string();
  if (rel.empty() || s == "." || s.rfind("..", 0) == 0) return {};
  return s;
}

// An Ollama name part: the registry's characters, not "." or "..".
Status ValidateOllamaName(std::string_view part, std::string_view what) {
  const bool ok =
      !part.empty() && part.size() <= 128 && part != "." && part != ".." &&
      std::all_of(part.begin(), part.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
      });
  if (ok) return Status::Ok();
  return InvalidArgumentError(fmt::format("\"{}\" is not a valid Ollama {}", part, what));
}

// The text of git's LFS pointer file for a blob: what the repository holds
// in place of the bytes (its git object id is the listing's `oid`).
std::string LfsPointer(std::string_view sha256, uint64_t size) {
  return fmt::format("version https://git-lfs.github.com/spec/v1\noid sha256:{}\nsize {}\n", sha256,
                     size);
}

}  // namespace

const HfMirrorFile* HfMirrorRevision::Find(std::string_view path) const {
  for (const HfMirrorFile& f : files) {
    if (f.path == path) return &f;
  }
  return nullptr;
}

MirrorFileHandle::~MirrorFileHandle() {
  if (fd_ >= 0) ::close(fd_);
}

MirrorFileHandle::MirrorFileHandle(MirrorFileHandle&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), size_(other.size_) {}

MirrorFileHandle& MirrorFileHandle::operator=(MirrorFileHandle&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    size_ = other.size_;
  }
  return *this;
}

Result<MirrorFileHandle> MirrorOps::Open(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    const int e = errno;
    if (e == ENOENT || e == ELOOP)
      return NotFoundError(fmt::format("{} is not in the store", path.string()));
    return UnavailableError(fmt::format("cannot open {}: {}", path.string(), std::strerror(e)));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return NotFoundError(fmt::format("{} is not a regular file", path.string()));
  }
  return MirrorFileHandle(fd, static_cast<uint64_t>(st.st_size));
}

bool MirrorOps::HasHfRepository(std::string_view repo) {
  if (!store::ValidateRepoId(repo).ok()) return false;
  auto s = core_->snapshot();
  if (!s.ok()) return false;
  const fs::path blobs = store::HfCache((*s)->paths.hf_hub_cache).RepoDir(repo) / "blobs";
  for (const store::InstalledModel& m : (*s)->installed) {
    if (m.source != "hf") continue;
    for (const store::InstalledFile& f : m.files) {
      if (!Below(f.blob, blobs).empty()) return true;
    }
  }
  return false;
}

Result<HfMirrorRevision> MirrorOps::HfRevision(std::string_view repo, std::string_view revision) {
  RETURN_IF_ERROR(store::ValidateRepoId(repo));
  // A branch name may hold '/' ("refs/pr/1"), never "..".
  RETURN_IF_ERROR(store::ValidateRepoPath(revision));
  ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> s, core_->snapshot());
  const store::HfCache cache(s->paths.hf_hub_cache);
  // "HEAD" is the default branch (what @huggingface/hub's modelInfo asks for).
  if (revision == "HEAD") revision = "main";
  std::string commit(revision);
  if (!IsCommit(revision)) {
    ASSIGN_OR_RETURN(std::optional<std::string> c, cache.ReadRef(repo, revision));
    if (!c || !IsCommit(*c)) {
      return NotFoundError(fmt::format("this mirror has no revision {} of {}", revision, repo));
    }
    commit = *c;
  }
  HfMirrorRevision out;
  out.repo = std::string(repo);
  out.commit = commit;
  const fs::path snapshot = cache.RepoDir(repo) / "snapshots" / commit;
  std::set<std::string> seen;
  for (const store::InstalledModel& m : s->installed) {
    if (m.source != "hf") continue;
    for (const store::InstalledFile& f : m.files) {
      const std::string path = Below(f.path, snapshot);
      if (path.empty() || !store::ValidateRepoPath(path).ok() || seen.contains(path)) continue;
      // The blob is named by its id inside this repository's blobs/: a
      // recorded path elsewhere is not served.
      const std::string id = f.blob.filename().string();
      if (!store::ValidateBlobId(id).ok()) continue;
      HfMirrorFile file;
      file.blob = cache.BlobPath(repo, id);
      if (file.blob.lexically_normal() != f.blob.lexically_normal() || !IsPlainFile(file.blob)) {
        continue;
      }
      std::error_code ec;
      file.size = fs::file_size(file.blob, ec);
      if (ec) continue;
      file.path = path;
      file.blob_id = id;
      file.lfs = id.size() == 64;
      if (file.lfs) {
        const std::string pointer = LfsPointer(id, file.size);
        file.oid = GitBlobSha1(pointer);
        file.pointer_size = pointer.size();
      } else {
        file.oid = id;
      }
      seen.insert(path);
      out.files.push_back(std::move(file));
    }
  }
  if (out.files.empty()) {
    return NotFoundError(fmt::format("this mirror has no file of {} at {}", repo, revision));
  }
  std::sort(out.files.begin(), out.files.end(),
            [](const HfMirrorFile& a, const HfMirrorFile& b) { return a.path < b.path; });
  return out;
}

Result<OllamaMirrorManifest> MirrorOps::OllamaManifest(std::string_view ns, std::string_view name,
                                                       std::string_view tag) {
  RETURN_IF_ERROR(ValidateOllamaName(ns, "namespace"));
  RETURN_IF_ERROR(ValidateOllamaName(name, "model name"));
  RETURN_IF_ERROR(ValidateOllamaName(tag, "tag"));
  ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> s, core_->snapshot());
  const store::BlobStore blobs(s->paths.data_dir);
  const std::string want = fmt::format("{}/{}/{}", ns, name, tag);
  for (const store::InstalledModel& m : s->installed) {
    if (m.source != "ollama" || !m.metadata.contains("manifest")) continue;
    const fs::path manifest(m.metadata.value("manifest", ""));
    // manifests/{host}/{ns}/{name}/{tag}, from whichever registry host.
    const std::string rel = Below(manifest, blobs.ManifestsDir());
    const size_t slash = rel.find('/');
    if (rel.empty() || slash == std::string::npos || rel.substr(slash + 1) != want) continue;
    if (!IsPlainFile(manifest)) continue;
    ASSIGN_OR_RETURN(std::string text, ReadFile(manifest));
    Sha256 h;
    h.Update(text);
    return OllamaMirrorManifest{std::move(text), h.FinishHex()};
  }
  return NotFoundError(fmt::format("this mirror has no Ollama model {}/{}:{}", ns, name, tag));
}

Result<fs::path> MirrorOps::OllamaBlob(std::string_view hex) {
  RETURN_IF_ERROR(store::ValidateSha256(hex));
  ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> s, core_->snapshot());
  const store::BlobStore blobs(s->paths.data_dir);
  const fs::path blob = blobs.BlobPath(hex);
  const std::string digest = "sha256:" + std::string(hex);
  for (const store::InstalledModel& m : s->installed) {
    if (m.source != "ollama" || !m.metadata.contains("manifest")) continue;
    const fs::path manifest(m.metadata.value("manifest", ""));
    if (Below(manifest, blobs.ManifestsDir()).empty() || !IsPlainFile(manifest)) continue;
    Result<std::string> text = ReadFile(manifest);
    if (!text.ok()) continue;
    Result<fetch::OllamaManifest> parsed = fetch::ParseOllamaManifest(std::move(text).value());
    if (!parsed.ok()) continue;
    bool named = parsed->config.digest == hex;
    for (const fetch::OllamaLayer& l : parsed->layers) named = named || l.digest == hex;
    if (named && IsPlainFile(blob)) return blob;
  }
  return NotFoundError(fmt::format("this mirror has no blob {}", digest));
}

// ---------------------------------------------------------------- upstream

Result<UpstreamAnswer> MirrorOps::UpstreamHf(HttpMethod method, std::string_view path_and_query,
                                             std::string_view body,
                                             std::string_view content_type) {
  if (!settings_.upstream) return FailedPreconditionError("this mirror has no upstream");
  fetch::HfSettings hf = fetch::HfSettings::FromEnvironment(core_->env());
  if (!settings_.hf_endpoint.empty()) hf.endpoint = settings_.hf_endpoint;
  while (!hf.endpoint.empty() && hf.endpoint.back() == '/') hf.endpoint.pop_back();
  fetch::HfHub hub(core_->http(), hf);
  HttpRequest req;
  req.method = method;
  req.url = hf.endpoint + std::string(path_and_query);
  req.body = std::string(body);
  req.content_type = std::string(content_type);
  req.headers = hub.Headers();
  req.errors = HttpErrorMode::kResponse;
  req.max_redirects = 0;  // the CDN's address is the upstream's business
  req.timeout_ms = 60'000;
  ASSIGN_OR_RETURN(HttpResponse r, core_->http().Fetch(req, 64 << 20));
  UpstreamAnswer out;
  out.status = r.status;
  out.body = std::move(r.body);
  out.content_type = r.headers.Get("Content-Type").value_or("application/json");
  for (const char* name : {"X-Error-Code", "X-Error-Message", "X-Repo-Commit", "X-Linked-Etag",
                           "X-Linked-Size", "ETag", "Content-Length"}) {
    if (auto v = r.headers.Get(name)) out.headers.emplace_back(name, *v);
  }
  return out;
}

Status MirrorOps::SingleFlight(const std::string& key, const std::function<Status()>& work,
                               const std::function<bool()>& cancelled) {
  std::shared_ptr<Flight> flight;
  bool leader = false;
  {
    std::lock_guard lock(flights_mu_);
    auto it = flights_.find(key);
    if (it == flights_.end()) {
      it = flights_.emplace(key, std::make_shared<Flight>()).first;
      leader = true;
    }
    flight = it->second;
  }
  if (leader) {
    // The leader's work goes on when its own client leaves: others may wait.
    Status s = work();
    std::lock_guard lock(flights_mu_);
    flight->status = s;
    flight->done = true;
    flights_.erase(key);
    flights_cv_.notify_all();
    return s;
  }
  std::unique_lock lock(flights_mu_);
  while (!flight->done) {
    flights_cv_.wait_for(lock, std::chrono::milliseconds(200));
    if (!flight->done && cancelled && cancelled()) {
      return CancelledError("the client left while " + key + " was being fetched");
    }
  }
  return flight->status;
}

Status MirrorOps::Pull(std::string ref) {
  PullQuery q;
  q.ref = std::move(ref);
  // The mirror keeps files for other machines: whether they fit this one
  // does not matter.
  q.skip_fit_check = true;
  q.force = true;
  q.hf_endpoint = settings_.hf_endpoint;
  return pulls_->Pull(q, {}).status();
}

Status MirrorOps::FetchHf(std::string_view repo, std::string_view revision, std::string_view path,
                          const std::function<bool()>& cancelled) {
  if (!settings_.upstream) return FailedPreconditionError("this mirror has no upstream");
  RETURN_IF_ERROR(store::ValidateRepoId(repo));
  RETURN_IF_ERROR(store::ValidateRepoPath(revision));
  RETURN_IF_ERROR(store::ValidateRepoPath(path));
  const std::string ref = fmt::format("hf://{}/{}@{}", repo, path, revision);
  return SingleFlight(
      ref, [&] { return Pull(ref); }, cancelled);
}

Status MirrorOps::FetchOllama(std::string_view ns, std::string_view name, std::string_view tag,
                              const std::function<bool()>& cancelled) {
  if (!settings_.upstream) return FailedPreconditionError("this mirror has no upstream");
  RETURN_IF_ERROR(ValidateOllamaName(ns, "namespace"));
  RETURN_IF_ERROR(ValidateOllamaName(name, "model name"));
  RETURN_IF_ERROR(ValidateOllamaName(tag, "tag"));
  const std::string ref = fmt::format("ollama://{}/{}:{}", ns, name, tag);
  return SingleFlight(
      ref, [&] { return Pull(ref); }, cancelled);
}

}  // namespace hangar::app
