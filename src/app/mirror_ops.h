// MirrorOps: what `hangar serve --mirror` answers other machines with: the
// files of this store, in the shapes of the Hugging Face hub (repository
// revisions, file listings, files by revision and path) and of an Ollama
// registry (manifests, blobs), and, with an upstream, what the store lacks,
// fetched once.
//
// Only what Hangar recorded is served: a file of an installed model (its HF
// snapshot entry and blob, or its Ollama manifest and the blobs that
// manifest names). Names from requests are checked (store::ValidateRepoId,
// ValidateRepoPath, ValidateBlobId, ValidateSha256) and the path of every
// file served is built from the store's root and those checked names, never
// taken from a link; files are opened without following a final symlink, so
// nothing outside the store is read.
//
// Upstream (MirrorSettings::upstream): a file the store lacks is pulled
// (PullOps::Pull: segmented, SHA-256 verified, recorded like any pull) from
// the hub endpoint (MirrorSettings::hf_endpoint, else HF_ENDPOINT, else
// huggingface.co) or the Ollama registry (OLLAMA_REGISTRY, else
// registry.ollama.ai), then served from the store. Concurrent requests for
// the same missing file share one pull (single flight): the first runs it,
// the others wait for its end.
//
// Thread-safe: reads the shared snapshot; the flights are guarded by flights_mu_.
#ifndef HANGAR_APP_MIRROR_OPS_H_
#define HANGAR_APP_MIRROR_OPS_H_

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "app/core.h"
#include "app/pull_ops.h"
#include "core/status.h"

namespace hangar::app {

struct MirrorSettings {
  bool upstream = false;    // fetch what the store lacks
  std::string hf_endpoint;  // upstream hub; empty: HF_ENDPOINT, else huggingface.co
};

// One file of a repository revision in the store.
struct HfMirrorFile {
  std::string path;  // inside the repository
  uint64_t size = 0;
  std::string blob_id;  // sha256 (an LFS file) or git sha1 (a small file)
  bool lfs = false;
  std::string oid;             // git object id: of the LFS pointer, or blob_id
  uint64_t pointer_size = 0;   // of the LFS pointer
  std::filesystem::path blob;  // the bytes
};

struct HfMirrorRevision {
  std::string repo;                 // "org/repo"
  std::string commit;               // 40 hex digits
  std::vector<HfMirrorFile> files;  // sorted by path
  // nullptr when the revision has no recorded file at `path`.
  const HfMirrorFile* Find(std::string_view path) const;
};

struct OllamaMirrorManifest {
  std::string text;    // the manifest's bytes, as pulled
  std::string digest;  // its SHA-256 (Docker-Content-Digest)
};

// A read-only file opened for serving; closed by the destructor.
class MirrorFileHandle {
 public:
  MirrorFileHandle() = default;
  MirrorFileHandle(int fd, uint64_t size) : fd_(fd), size_(size) {}
  ~MirrorFileHandle();
  MirrorFileHandle(MirrorFileHandle&& other) noexcept;
  MirrorFileHandle& operator=(MirrorFileHandle&& other) noexcept;
  int fd() const { return fd_; }
  uint64_t size() const { return size_; }

 private:
  int fd_ = -1;
  uint64_t size_ = 0;
};

// An upstream hub's answer passed on as it is (status, error code, body).
struct UpstreamAnswer {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // those a hub client reads
  std::string body;
  std::string content_type;
};

class MirrorOps {
 public:
  MirrorOps(Core* core, PullOps* pulls) : core_(core), pulls_(pulls) {}

  // Set once, before serving.
  void Configure(MirrorSettings settings) { settings_ = std::move(settings); }
  const MirrorSettings& settings() const { return settings_; }

  // Whether the store holds a recorded file of `repo` (any revision).
  bool HasHfRepository(std::string_view repo);
  // The recorded files of `repo` at `revision` (a branch in refs/, "HEAD"
  // for main, or a commit). InvalidArgument for a malformed repo id or revision; NotFound
  // when the store has no such revision of it.
  Result<HfMirrorRevision> HfRevision(std::string_view repo, std::string_view revision);

  // The manifest of NAMESPACE/NAME:TAG as pulled from a registry.
  // InvalidArgument for a malformed name; NotFound when not recorded.
  Result<OllamaMirrorManifest> OllamaManifest(std::string_view ns, std::string_view name,
                                              std::string_view tag);
  // The blob `sha256_hex` when a recorded manifest names it. InvalidArgument
  // for a malformed digest; NotFound otherwise.
  Result<std::filesystem::path> OllamaBlob(std::string_view sha256_hex);

  // Opens `path` (a file this class returned) for reading, refusing a final
  // symlink and anything but a regular file. NotFound / Unavailable.
  static Result<MirrorFileHandle> Open(const std::filesystem::path& path);

  // Upstream (FailedPrecondition without one).
  // The hub's answer to `method` (GET, HEAD or POST with `body` of
  // `content_type`) on `path_and_query` ("/api/models/a/b/tree/main?recursive=true"),
  // redirects not followed. Unavailable when the hub cannot be reached.
  Result<UpstreamAnswer> UpstreamHf(HttpMethod method, std::string_view path_and_query,
                                    std::string_view body = {},
                                    std::string_view content_type = {});
  // Pulls `path` of `repo` at `revision` into the store, once for all the
  // callers asking at the same time; `cancelled` lets a waiting caller give
  // up (Cancelled) while the pull goes on for the others. Errors of PullOps::Pull.
  Status FetchHf(std::string_view repo, std::string_view revision, std::string_view path,
                 const std::function<bool()>& cancelled);
  // Pulls the Ollama model NAMESPACE/NAME:TAG into the store, likewise.
  Status FetchOllama(std::string_view ns, std::string_view name, std::string_view tag,
                     const std::function<bool()>& cancelled);

 private:
  struct Flight {
    bool done = false;
    Status status;
  };
  // Runs `work` once for every caller asking with `key` at the same time.
  Status SingleFlight(const std::string& key, const std::function<Status()>& work,
                      const std::function<bool()>& cancelled);
  Status Pull(std::string ref);

  Core* core_;
  PullOps* pulls_;
  MirrorSettings settings_;
  std::mutex flights_mu_;  // guards flights_
  std::condition_variable flights_cv_;
  std::map<std::string, std::shared_ptr<Flight>> flights_;
};

}  // namespace hangar::app

#endif  // HANGAR_APP_MIRROR_OPS_H_
