// FakeHub: a Hugging Face hub and an Ollama registry for tests, speaking the
// endpoints and headers of REFERENCE.md on 127.0.0.1, with large files
// redirected to a second server (another origin: "localhost" and another
// port) acting as the CDN. Test code only.
//
//   GET  /api/models/{org}/{repo}/tree/{rev}?recursive=true
//   POST /api/models/{org}/{repo}/paths-info/{rev}   {"paths": [...]}
//   HEAD /{org}/{repo}/resolve/{rev}/{path}   302 to the CDN for LFS files,
//        with X-Repo-Commit, X-Linked-Etag, X-Linked-Size, ETag; 200 for git
//        files; 404 with X-Error-Code RepoNotFound/RevisionNotFound/
//        EntryNotFound; 401 for a gated repository without the token
//   GET  /v2/{ns}/{name}/manifests/{tag}, /v2/{ns}/{name}/blobs/sha256:{hex}
//        (307 to the CDN)
//
// Faults are injected on the CDN (cdn().AddFault("/blobs/<sha256>", ...)).
#ifndef HANGAR_TESTS_FAKE_HUB_H_
#define HANGAR_TESTS_FAKE_HUB_H_

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "fetch/testing/test_http_server.h"

namespace hangar::testing {

struct FakeFile {
  std::string path;
  std::shared_ptr<const TestBlob> content;
  bool lfs = true;  // served by the CDN, with a sha256
};

class FakeHub {
 public:
  FakeHub();

  TestHttpServer& hub() { return hub_; }
  TestHttpServer& cdn() { return cdn_; }
  std::string Endpoint() const { return hub_.BaseUrl(); }

  // Adds (or replaces) `repo` at `branch` = `commit` with `files`; the same
  // repository may hold several commits, the branch moves to the last.
  void AddRepo(const std::string& repo, const std::string& commit, std::vector<FakeFile> files,
               const std::string& branch = "main");
  // A repository answering 401 unless "Authorization: Bearer <token>".
  void SetToken(const std::string& repo, const std::string& token);
  // A listing entry added verbatim (e.g. a hostile path).
  void AddListingPath(const std::string& repo, const std::string& path);

  // An Ollama model NS/NAME:TAG with its layers (media type -> bytes).
  // Returns the manifest's SHA-256.
  std::string AddOllamaModel(const std::string& ns, const std::string& name, const std::string& tag,
                             const std::vector<std::pair<std::string, std::string>>& layers);

  // The CDN path of a blob ("/blobs/<sha256>").
  static std::string BlobPath(const std::string& sha256) { return "/blobs/" + sha256; }
  static std::string Sha256Of(std::string_view bytes);

 private:
  struct Commit {
    std::string sha;
    std::vector<FakeFile> files;
    std::vector<std::string> shas;  // sha256 of each file
  };
  struct Repo {
    std::map<std::string, std::string> branches;  // name -> commit
    std::map<std::string, Commit> commits;
    std::string token;
    std::vector<std::string> extra_paths;
  };
  const Commit* Find(const Repo& repo, const std::string& rev) const;
  void Routes();

  TestHttpServer hub_;
  TestHttpServer cdn_{"localhost"};
  std::mutex mu_;
  std::map<std::string, Repo> repos_;
  std::map<std::string, std::string> manifests_;  // "ns/name:tag" -> manifest JSON
};

}  // namespace hangar::testing

#endif  // HANGAR_TESTS_FAKE_HUB_H_
