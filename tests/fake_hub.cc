#include "fake_hub.h"

#include <nlohmann/json.hpp>

#include "core/sha256.h"

namespace hangar::testing {

std::string FakeHub::Sha256Of(std::string_view bytes) {
  Sha256 h;
  h.Update(bytes);
  return h.FinishHex();
}

FakeHub::FakeHub() { Routes(); }

void FakeHub::AddRepo(const std::string& repo, const std::string& commit,
                      std::vector<FakeFile> files, const std::string& branch) {
  Commit c;
  c.sha = commit;
  for (const FakeFile& f : files) {
    const std::string sha = Sha256Of(f.content->data());
    c.shas.push_back(sha);
    if (f.lfs) cdn_.AddFile(BlobPath(sha), f.content);
  }
  c.files = std::move(files);
  std::lock_guard<std::mutex> lock(mu_);
  Repo& r = repos_[repo];
  r.commits[commit] = std::move(c);
  r.branches[branch] = commit;
}

void FakeHub::SetToken(const std::string& repo, const std::string& token) {
  std::lock_guard<std::mutex> lock(mu_);
  repos_[repo].token = token;
}

void FakeHub::AddListingPath(const std::string& repo, const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  repos_[repo].extra_paths.push_back(path);
}

std::string FakeHub::AddOllamaModel(
    const std::string& ns, const std::string& name, const std::string& tag,
    const std::vector<std::pair<std::string, std::string>>& layers) {
  nlohmann::json ls = nlohmann::json::array();
  for (const auto& [media, bytes] : layers) {
    const std::string sha = Sha256Of(bytes);
    cdn_.AddFile(BlobPath(sha), bytes);
    ls.push_back({{"mediaType", media}, {"digest", "sha256:" + sha}, {"size", bytes.size()}});
  }
  const std::string config = R"({"model_format":"gguf","model_family":"llama"})";
  const std::string config_sha = Sha256Of(config);
  cdn_.AddFile(BlobPath(config_sha), config);
  nlohmann::json manifest = {{"schemaVersion", 2},
                             {"mediaType", "application/vnd.docker.distribution.manifest.v2+json"},
                             {"config",
                              {{"mediaType", "application/vnd.docker.container.image.v1+json"},
                               {"digest", "sha256:" + config_sha},
                               {"size", config.size()}}},
                             {"layers", ls}};
  const std::string text = manifest.dump();
  std::lock_guard<std::mutex> lock(mu_);
  manifests_[ns + "/" + name + ":" + tag] = text;
  return Sha256Of(text);
}

const FakeHub::Commit* FakeHub::Find(const Repo& repo, const std::string& rev) const {
  std::string commit = rev;
  if (auto b = repo.branches.find(rev); b != repo.branches.end()) commit = b->second;
  auto c = repo.commits.find(commit);
  return c == repo.commits.end() ? nullptr : &c->second;
}

void FakeHub::Routes() {
  // Checks the repository and token; false (with the answer set) on failure.
  auto open = [this](const TestRequest& req, TestResponse& res, const std::string& repo_id,
                     const Repo** out) {
    auto it = repos_.find(repo_id);
    if (it == repos_.end()) {
      res.SetJson(404, R"({"error":"Repository not found"})");
      res.headers.Set("X-Error-Code", "RepoNotFound");
      return false;
    }
    if (!it->second.token.empty() &&
        req.headers.Get("Authorization").value_or("") != "Bearer " + it->second.token) {
      res.SetJson(401, R"({"error":"Invalid credentials in Authorization header"})");
      return false;
    }
    *out = &it->second;
    return true;
  };
  // `open` for routes of OWNER/NAME (params 0, 1) at a revision (param 2).
  auto open_rev = [this, open](const TestRequest& req, TestResponse& res, const Repo** repo,
                               const Commit** commit) {
    if (!open(req, res, req.params[0] + "/" + req.params[1], repo)) return false;
    *commit = Find(**repo, req.params[2]);
    if (*commit == nullptr) {
      res.SetJson(404, R"({"error":"Invalid rev id"})");
      res.headers.Set("X-Error-Code", "RevisionNotFound");
      return false;
    }
    return true;
  };
  // A file's listing entry.
  auto entry = [](const Commit& c, size_t i) {
    const FakeFile& f = c.files[i];
    const uint64_t size = f.content->data().size();
    nlohmann::json e = {
        {"type", "file"}, {"oid", c.shas[i].substr(0, 40)}, {"size", size}, {"path", f.path}};
    if (f.lfs) e["lfs"] = {{"oid", c.shas[i]}, {"size", size}, {"pointerSize", 134}};
    return e;
  };
  hub_.Route("GET", R"(/api/models/([^/]+)/([^/]+)/tree/([^/]+))",
             [this, open_rev, entry](const TestRequest& req, TestResponse& res) {
               std::lock_guard<std::mutex> lock(mu_);
               const Repo* repo = nullptr;
               const Commit* c = nullptr;
               if (!open_rev(req, res, &repo, &c)) return;
               nlohmann::json list = nlohmann::json::array();
               for (size_t i = 0; i < c->files.size(); ++i) list.push_back(entry(*c, i));
               for (const std::string& p : repo->extra_paths) {
                 list.push_back(
                     {{"type", "file"}, {"oid", std::string(40, 'a')}, {"size", 4}, {"path", p}});
               }
               res.SetJson(200, list.dump());
             });
  hub_.Route("POST", R"(/api/models/([^/]+)/([^/]+)/paths-info/([^/]+))",
             [this, open_rev, entry](const TestRequest& req, TestResponse& res) {
               std::lock_guard<std::mutex> lock(mu_);
               const Repo* repo = nullptr;
               const Commit* c = nullptr;
               if (!open_rev(req, res, &repo, &c)) return;
               const nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
               nlohmann::json list = nlohmann::json::array();
               if (body.is_object() && body.contains("paths") && body["paths"].is_array()) {
                 for (const auto& p : body["paths"]) {
                   for (size_t i = 0; i < c->files.size(); ++i) {
                     if (p.is_string() && p.get<std::string>() == c->files[i].path) {
                       list.push_back(entry(*c, i));
                     }
                   }
                 }
               }
               res.SetJson(200, list.dump());
             });
  hub_.Route("GET", R"(/([^/]+)/([^/]+)/resolve/([^/]+)/(.+))",
             [this, open_rev](const TestRequest& req, TestResponse& res) {
               std::lock_guard<std::mutex> lock(mu_);
               const Repo* repo = nullptr;
               const Commit* c = nullptr;
               if (!open_rev(req, res, &repo, &c)) return;
               for (size_t i = 0; i < c->files.size(); ++i) {
                 const FakeFile& f = c->files[i];
                 if (f.path != req.params[3]) continue;
                 const std::string size = std::to_string(f.content->data().size());
                 res.headers.Set("X-Repo-Commit", c->sha);
                 if (f.lfs) {
                   res.SetRedirect(cdn_.Url(BlobPath(c->shas[i])));
                   res.headers.Set("X-Linked-Etag", "\"" + c->shas[i] + "\"");
                   res.headers.Set("X-Linked-Size", size);
                   res.headers.Set("ETag", "\"" + c->shas[i].substr(0, 40) + "\"");
                 } else {
                   res.SetText(200, std::string(f.content->data()), "application/octet-stream");
                   res.headers.Set("ETag", "\"" + c->shas[i].substr(0, 40) + "\"");
                 }
                 return;
               }
               res.SetJson(404, R"({"error":"Entry not found"})");
               res.headers.Set("X-Error-Code", "EntryNotFound");
             });
  hub_.Route("GET", R"(/v2/([^/]+)/([^/]+)/manifests/([^/]+))",
             [this](const TestRequest& req, TestResponse& res) {
               std::lock_guard<std::mutex> lock(mu_);
               auto it = manifests_.find(req.params[0] + "/" + req.params[1] + ":" + req.params[2]);
               if (it == manifests_.end()) {
                 res.SetJson(404, R"({"errors":[{"code":"MANIFEST_UNKNOWN"}]})");
                 return;
               }
               res.SetText(200, it->second, "application/vnd.docker.distribution.manifest.v2+json");
             });
  hub_.Route("GET", R"(/v2/([^/]+)/([^/]+)/blobs/sha256:([0-9a-f]{64}))",
             [this](const TestRequest& req, TestResponse& res) {
               res.SetRedirect(cdn_.Url(BlobPath(req.params[2])), 307);
             });
}

}  // namespace hangar::testing
