// HfHub: the Hugging Face Hub's HTTP API, as much of it as pulling needs
// (REFERENCE.md, "Hugging Face Hub"):
//
//   GET  {endpoint}/api/models/{repo}/tree/{revision}?recursive=true   the file listing
//   HEAD {endpoint}/{repo}/resolve/{revision}/{path}                   one file: the commit
//        (X-Repo-Commit), the SHA-256 of an LFS file (X-Linked-Etag), its
//        size (X-Linked-Size, else Content-Length) and where its bytes are
//        (the CDN URL the hub redirects to)
//
// The endpoint is `HF_ENDPOINT` (default https://huggingface.co); the token
// `HF_TOKEN` (or HUGGING_FACE_HUB_TOKEN) is sent as `Authorization: Bearer`
// to the endpoint only, never to the CDN (HttpClient drops credentials when
// a redirect leaves the first origin). Errors:
//   NotFound             RepoNotFound / RevisionNotFound / EntryNotFound (the
//                        hub's X-Error-Code), naming what is missing
//   FailedPrecondition   401/403: a gated or private repository, naming
//                        HF_TOKEN
//   InvalidArgument      a listing entry whose path would leave the repository
//                        (`../../evil.gguf`): the whole listing is refused
//   Unavailable          network errors, 429/5xx (after the client's own
//                        attempts; the caller retries)
//
// Thread-safe as far as the HttpClient is.
#ifndef HANGAR_FETCH_HF_HUB_H_
#define HANGAR_FETCH_HF_HUB_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/env.h"
#include "core/status.h"
#include "fetch/hf_files.h"
#include "fetch/http_client.h"

namespace hangar::fetch {

inline constexpr std::string_view kHfDefaultEndpoint = "https://huggingface.co";

struct HfSettings {
  std::string endpoint{kHfDefaultEndpoint};
  std::string token;     // empty: anonymous
  bool offline = false;  // HF_HUB_OFFLINE=1

  // From HF_ENDPOINT, HF_TOKEN / HUGGING_FACE_HUB_TOKEN and HF_HUB_OFFLINE.
  static HfSettings FromEnvironment(const Environment& env);
};

// What a HEAD on /resolve/ says about one file.
struct HfFileInfo {
  std::string commit;    // X-Repo-Commit
  std::string sha256;    // X-Linked-Etag of an LFS file; empty for a git file
  std::string etag;      // ETag (the git sha1 for a git file)
  uint64_t size = 0;     // X-Linked-Size, else Content-Length
  std::string url;       // the resolve URL
  std::string data_url;  // where the bytes are (the CDN URL, or url)
};

class HfHub {
 public:
  HfHub(HttpClient& http, HfSettings settings) : http_(http), settings_(std::move(settings)) {}

  const HfSettings& settings() const { return settings_; }

  // Every file of `repo` at `revision`. Folders are left out.
  Result<std::vector<HfFile>> ListFiles(std::string_view repo, std::string_view revision);
  // HEAD of one file (see HfFileInfo).
  Result<HfFileInfo> Resolve(std::string_view repo, std::string_view revision,
                             std::string_view path);

  // {endpoint}/{repo}/resolve/{revision}/{path}, path segments escaped.
  std::string ResolveUrl(std::string_view repo, std::string_view revision,
                         std::string_view path) const;
  // The headers every hub request carries (the token, identity encoding).
  HttpHeaders Headers() const;

 private:
  Status ErrorFor(const HttpResponse& response, std::string_view repo, std::string_view revision,
                  std::string_view path) const;

  HttpClient& http_;
  HfSettings settings_;
};

// Parses a tree listing (the JSON array the hub returns). InvalidArgument for
// a malformed document or a path that leaves the repository.
Result<std::vector<HfFile>> ParseHfTree(std::string_view json, std::string_view repo);

}  // namespace hangar::fetch

#endif  // HANGAR_FETCH_HF_HUB_H_
