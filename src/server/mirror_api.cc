// `hangar serve --mirror`: the read routes of a Hugging Face hub and of an
// Ollama registry over this store (app/mirror_ops.h), so that other machines
// pull from this one with HF_ENDPOINT / OLLAMA_REGISTRY pointing here.
//
//   GET  /api/models/{repo}[/revision/{rev}]      {id, sha, siblings[...]}
//   GET  /api/models/{repo}/tree/{rev}[/{path}]    [{type, oid, size, path, lfs?}]
//   POST /api/models/{repo}/paths-info/{rev}       the same entries for the paths asked
//   GET|HEAD /{repo}/resolve/{rev}/{path}          the file, with the hub's headers
//   GET|HEAD /v2/{ns}/{name}/manifests/{tag}       an Ollama manifest
//   GET|HEAD /v2/{ns}/{name}/blobs/sha256:{hex}    a blob
//
// Files go out with sendfile, honouring one `Range`.
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>

#include "server/byte_range.h"
#include "server/server_internal.h"
#include "store/hf_cache.h"

namespace hangar::server {
namespace {

constexpr std::string_view kManifestType = "application/vnd.docker.distribution.manifest.v2+json";

// "/a/b%2Fc/d" -> {"a", "b/c", "d"}: split first, then decoded, so an
// escaped '/' stays inside its segment (a branch such as refs%2Fpr%2F1).
std::vector<std::string> Segments(std::string_view path) {
  std::vector<std::string> out;
  while (!path.empty()) {
    const size_t slash = path.find('/');
    std::string_view seg = path.substr(0, slash);
    if (!seg.empty()) out.push_back(PercentDecode(seg));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

std::string Join(const std::vector<std::string>& parts, size_t from) {
  std::string out;
  for (size_t i = from; i < parts.size(); ++i) out += (out.empty() ? "" : "/") + parts[i];
  return out;
}

// The hub's 404 answer, with the code its clients read (huggingface_hub
// raises RepositoryNotFoundError, RevisionNotFoundError, EntryNotFoundError).
void HubError(Response& res, int status, std::string_view code, std::string_view message) {
  wire::HeaderList h;
  if (!code.empty()) {
    h.emplace_back("X-Error-Code", std::string(code));
    h.emplace_back("X-Error-Message", std::string(message));
  }
  res.Send(status, "application/json; charset=utf-8", Json{{"error", message}}.dump(),
           std::move(h));
}

void RegistryError(Response& res, int status, std::string_view code, std::string_view message) {
  res.Send(status, "application/json; charset=utf-8",
           Json{{"errors", {{{"code", code}, {"message", message}}}}}.dump());
}

// The bytes of `file`, honouring the request's Range.
void SendRange(const wire::HttpRequest& req, Response& res, const app::MirrorFileHandle& file,
               std::string_view content_type, wire::HeaderList headers) {
  headers.emplace_back("Accept-Ranges", "bytes");
  const ByteRange range = ParseByteRange(req.Header("Range"), file.size());
  switch (range.kind) {
    case ByteRange::Kind::kUnsatisfiable:
      headers.emplace_back("Content-Range", range.ContentRange(file.size()));
      res.Send(416, "application/json; charset=utf-8",
               Json{{"error", fmt::format("the range {} is outside the file ({} bytes)",
                                          req.Header("Range"), file.size())}}
                   .dump(),
               std::move(headers));
      return;
    case ByteRange::Kind::kPartial:
      headers.emplace_back("Content-Range", range.ContentRange(file.size()));
      res.SendFile(206, content_type, file.fd(), range.first, range.length, std::move(headers));
      return;
    case ByteRange::Kind::kWhole:
      res.SendFile(200, content_type, file.fd(), 0, file.size(), std::move(headers));
      return;
  }
}

// A repository id from the front of `segs` ("org/repo", or a bare "repo"
// when `segs[1]` is `marker`); 0 when none.
size_t RepoLength(const std::vector<std::string>& segs, std::string_view marker) {
  if (segs.size() >= 2 && segs[1] == marker) return 1;
  if (segs.size() >= 3 && segs[2] == marker) return 2;
  return 0;
}

// The paths of a paths-info request: a JSON body {"paths": [...]} (the npm
// client) or a form, paths=a&paths=b (huggingface_hub).
Result<std::vector<std::string>> PathsAsked(const wire::HttpRequest& req) {
  std::vector<std::string> paths;
  if (req.Header("Content-Type").find("application/json") != std::string_view::npos) {
    Json body = Json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
      return InvalidArgumentError("the body is not a JSON object");
    }
    Json asked = body.value("paths", Json::array());
    if (asked.is_string()) asked = Json::array({asked});
    if (!asked.is_array()) return InvalidArgumentError("paths must be a list of strings");
    for (const Json& p : asked) {
      if (!p.is_string()) return InvalidArgumentError("paths must be a list of strings");
      paths.push_back(p.get<std::string>());
    }
    return paths;
  }
  std::string_view form = req.body;
  while (!form.empty()) {
    const size_t amp = form.find('&');
    std::string pair(form.substr(0, amp));
    form.remove_prefix(amp == std::string_view::npos ? form.size() : amp + 1);
    std::replace(pair.begin(), pair.end(), '+', ' ');
    const size_t eq = pair.find('=');
    if (eq == std::string::npos || PercentDecode(pair.substr(0, eq)) != "paths") continue;
    paths.push_back(PercentDecode(std::string_view(pair).substr(eq + 1)));
  }
  return paths;
}

Json TreeEntry(const app::HfMirrorFile& f) {
  Json e = {{"type", "file"}, {"oid", f.oid}, {"size", f.size}, {"path", f.path}};
  if (f.lfs) e["lfs"] = {{"oid", f.blob_id}, {"size", f.size}, {"pointerSize", f.pointer_size}};
  return e;
}

}  // namespace

// GET /api/models/{repo}, /api/models/{repo}/revision/{rev},
// /api/models/{repo}/tree/{rev}[/{path}]; POST /api/models/{repo}/paths-info/{rev}
void Server::MirrorHubApi(Call& call) {
  const std::vector<std::string> segs = Segments(call.req.Path().substr(12));
  std::string kind = "revision";
  size_t n = RepoLength(segs, "revision");
  if (n == 0 && (n = RepoLength(segs, "tree")) != 0) kind = "tree";
  if (n == 0 && (n = RepoLength(segs, "paths-info")) != 0) kind = "paths-info";
  if ((kind == "paths-info") != (call.req.method == "POST")) {
    const char* allowed = kind == "paths-info" ? "POST" : "GET";
    call.res.Send(405, "application/json; charset=utf-8",
                  Json{{"error", fmt::format("{} is not allowed on {}; use {}", call.req.method,
                                             call.req.Path(), allowed)}}
                      .dump(),
                  {{"Allow", allowed}});
    return;
  }
  std::string repo, rev = "main", sub;
  if (n == 0) {
    // /api/models/{repo}: its main branch.
    if (segs.empty() || segs.size() > 2) {
      return HubError(call.res, 404, "", fmt::format("no route {}", call.req.Path()));
    }
    repo = Join(segs, 0);
  } else {
    repo = Join(std::vector<std::string>(segs.begin(), segs.begin() + n), 0);
    if (segs.size() > n + 1) rev = segs[n + 1];
    sub = Join(segs, n + 2);
  }
  call.model = repo;
  app::MirrorOps& mirror = app_->mirror();
  if (kind == "paths-info" && !sub.empty()) {
    return HubError(call.res, 404, "", fmt::format("no route {}", call.req.Path()));
  }
  if (mirror.settings().upstream) {
    // Listings come from upstream while it answers: they show what a pull
    // through the mirror can fetch, not only what it holds.
    Result<app::UpstreamAnswer> up =
        kind == "paths-info"
            ? mirror.UpstreamHf(HttpMethod::kPost, call.req.target, call.req.body,
                                call.req.Header("Content-Type"))
            : mirror.UpstreamHf(HttpMethod::kGet, call.req.target);
    if (up.ok() && up->status < 500) {
      wire::HeaderList h(up->headers.begin(), up->headers.end());
      std::erase_if(h, [](const auto& kv) { return kv.first == "Content-Length"; });
      call.res.Send(up->status, up->content_type, up->body, std::move(h));
      return;
    }
  }
  Result<app::HfMirrorRevision> r = mirror.HfRevision(repo, rev);
  if (!r.ok()) {
    if (r.status().code() == StatusCode::kInvalidArgument) {
      return HubError(call.res, 400, "", r.status().message());
    }
    if (!mirror.HasHfRepository(repo)) {
      return HubError(call.res, 404, "RepoNotFound",
                      fmt::format("Repository {} not found on this mirror", repo));
    }
    return HubError(call.res, 404, "RevisionNotFound",
                    fmt::format("Invalid rev id: {} of {} is not on this mirror", rev, repo));
  }
  if (kind == "revision") {
    Json siblings = Json::array();
    for (const app::HfMirrorFile& f : r->files) {
      Json s = {{"rfilename", f.path}, {"size", f.size}, {"blobId", f.oid}};
      if (f.lfs)
        s["lfs"] = {{"sha256", f.blob_id}, {"size", f.size}, {"pointerSize", f.pointer_size}};
      siblings.push_back(std::move(s));
    }
    return call.Send(200, Json{{"_id", r->repo},
                               {"id", r->repo},
                               {"modelId", r->repo},
                               {"sha", r->commit},
                               {"private", false},
                               {"disabled", false},
                               {"gated", false},
                               {"tags", Json::array()},
                               {"siblings", std::move(siblings)}});
  }
  if (kind == "paths-info") {
    // The entries of the files asked for that this revision has, in the
    // order asked; others are left out, as the hub does. Folders are not
    // listed, and no lastCommit is given (the mirror holds files, not history).
    Result<std::vector<std::string>> asked = PathsAsked(call.req);
    if (!asked.ok()) return HubError(call.res, 400, "", asked.status().message());
    Json list = Json::array();
    for (std::string p : *asked) {
      while (!p.empty() && p.front() == '/') p.erase(0, 1);
      while (!p.empty() && p.back() == '/') p.pop_back();
      for (const app::HfMirrorFile& f : r->files) {
        if (f.path == p) {
          list.push_back(TreeEntry(f));
          break;
        }
      }
    }
    return call.Send(200, list);
  }
  const bool recursive = call.QueryParam("recursive").value_or("") == "true" ||
                         call.QueryParam("recursive").value_or("") == "1";
  const std::string prefix = sub.empty() ? "" : sub + "/";
  Json list = Json::array();
  for (const app::HfMirrorFile& f : r->files) {
    if (f.path.rfind(prefix, 0) != 0) continue;
    // Folders are not listed; without recursive=true, only the files of `sub` itself.
    if (!recursive && f.path.find('/', prefix.size()) != std::string::npos) continue;
    list.push_back(TreeEntry(f));
  }
  if (list.empty() && !sub.empty()) {
    return HubError(call.res, 404, "EntryNotFound",
                    fmt::format("{} is not in {} at {} on this mirror", sub, repo, rev));
  }
  call.Send(200, list);
}

// GET|HEAD /{repo}/resolve/{rev}/{path}
void Server::MirrorResolve(Call& call) {
  const std::vector<std::string> segs = Segments(call.req.Path());
  const size_t n = RepoLength(segs, "resolve");
  if (n == 0 || segs.size() < n + 3) {
    return HubError(call.res, 404, "", fmt::format("no route {}", call.req.Path()));
  }
  const std::string repo = Join(std::vector<std::string>(segs.begin(), segs.begin() + n), 0);
  const std::string rev = segs[n + 1];
  const std::string path = Join(segs, n + 2);
  call.model = repo;
  app::MirrorOps& mirror = app_->mirror();
  Result<app::HfMirrorRevision> r = mirror.HfRevision(repo, rev);
  const app::HfMirrorFile* file = r.ok() ? r->Find(path) : nullptr;
  if (!r.ok() && r.status().code() == StatusCode::kInvalidArgument) {
    return HubError(call.res, 400, "", r.status().message());
  }
  if (file == nullptr && !store::ValidateRepoPath(path).ok()) {
    return HubError(call.res, 400, "",
                    fmt::format("\"{}\" is not a path inside a repository", path));
  }
  if (file == nullptr && mirror.settings().upstream) {
    // The upstream's word on the file first: its error codes pass through,
    // and a HEAD needs no download.
    const std::string target = call.req.target.substr(0, call.req.target.find('?'));
    Result<app::UpstreamAnswer> up = mirror.UpstreamHf(HttpMethod::kHead, target);
    if (!up.ok()) return call.Error(up.status());
    if (up->status >= 400) {
      wire::HeaderList h(up->headers.begin(), up->headers.end());
      std::erase_if(h, [](const auto& kv) { return kv.first == "Content-Length"; });
      call.res.Send(up->status, "application/json; charset=utf-8", up->body, std::move(h));
      return;
    }
    if (call.req.method == "HEAD") {
      wire::HeaderList h;
      std::string size;
      for (const auto& [k, v] : up->headers) {
        if (k == "X-Linked-Size" || (k == "Content-Length" && size.empty())) size = v;
        if (k != "Content-Length") h.emplace_back(k, v);
      }
      h.emplace_back("Accept-Ranges", "bytes");
      // The hub's ETag of an LFS file is its SHA-256, as this mirror's own.
      for (auto& [k, v] : h) {
        if (k == "ETag" && !wire::FindHeader(h, "X-Linked-Etag").empty()) {
          v = std::string(wire::FindHeader(h, "X-Linked-Etag"));
        }
      }
      // A HEAD: the head alone, with the file's length.
      call.res.SendFile(200, "application/octet-stream", -1, 0,
                        std::strtoull(size.c_str(), nullptr, 10), std::move(h));
      return;
    }
    std::string commit;
    for (const auto& [k, v] : up->headers) {
      if (k == "X-Repo-Commit") commit = v;
    }
    Status fetched = mirror.FetchHf(repo, rev, path, [&] { return call.res.ClientGone(); });
    if (!fetched.ok()) return call.Error(fetched);
    r = mirror.HfRevision(repo, commit.empty() ? rev : commit);
    file = r.ok() ? r->Find(path) : nullptr;
  }
  if (file == nullptr) {
    if (!mirror.HasHfRepository(repo)) {
      return HubError(call.res, 404, "RepoNotFound",
                      fmt::format("Repository {} not found on this mirror", repo));
    }
    if (!r.ok()) {
      return HubError(call.res, 404, "RevisionNotFound",
                      fmt::format("Invalid rev id: {} of {} is not on this mirror", rev, repo));
    }
    return HubError(call.res, 404, "EntryNotFound",
                    fmt::format("{} is not in {} at {} on this mirror", path, repo, rev));
  }
  Result<app::MirrorFileHandle> open = app::MirrorOps::Open(file->blob);
  if (!open.ok()) return HubError(call.res, 404, "EntryNotFound", open.status().message());
  const std::string etag = "\"" + file->blob_id + "\"";
  wire::HeaderList h = {{"ETag", etag}, {"X-Repo-Commit", r->commit}};
  if (file->lfs) {
    h.emplace_back("X-Linked-Etag", etag);
    h.emplace_back("X-Linked-Size", std::to_string(open->size()));
  }
  SendRange(call.req, call.res, *open, "application/octet-stream", std::move(h));
}

// GET|HEAD /v2/{ns}/{name}/manifests/{tag}, /v2/{ns}/{name}/blobs/sha256:{hex}
// (a name without namespace is in "library", as on Ollama's registry).
void Server::MirrorRegistry(Call& call) {
  std::vector<std::string> segs = Segments(call.req.Path().substr(4));
  if (segs.size() == 3) segs.insert(segs.begin(), "library");
  if (segs.size() != 4 || (segs[2] != "manifests" && segs[2] != "blobs")) {
    return RegistryError(call.res, 404, "NAME_UNKNOWN",
                         fmt::format("no route {}", call.req.Path()));
  }
  const std::string &ns = segs[0], &name = segs[1], &ref = segs[3];
  call.model = ns + "/" + name;
  app::MirrorOps& mirror = app_->mirror();
  if (segs[2] == "manifests") {
    Result<app::OllamaMirrorManifest> m = mirror.OllamaManifest(ns, name, ref);
    if (!m.ok() && m.status().code() == StatusCode::kNotFound && mirror.settings().upstream) {
      Status fetched = mirror.FetchOllama(ns, name, ref, [&] { return call.res.ClientGone(); });
      if (!fetched.ok() && fetched.code() != StatusCode::kNotFound) return call.Error(fetched);
      m = mirror.OllamaManifest(ns, name, ref);
    }
    if (!m.ok()) {
      return RegistryError(
          call.res, HttpStatusOf(m.status()),
          m.status().code() == StatusCode::kNotFound ? "MANIFEST_UNKNOWN" : "NAME_INVALID",
          m.status().message());
    }
    call.res.Send(200, kManifestType, m->text,
                  {{"Docker-Content-Digest", "sha256:" + m->digest},
                   {"ETag", "\"sha256:" + m->digest + "\""}});
    return;
  }
  if (ref.rfind("sha256:", 0) != 0) {
    return RegistryError(call.res, 400, "DIGEST_INVALID",
                         fmt::format("\"{}\" is not a sha256 digest", ref));
  }
  Result<std::filesystem::path> blob = mirror.OllamaBlob(ref.substr(7));
  if (!blob.ok()) {
    return RegistryError(
        call.res, HttpStatusOf(blob.status()),
        blob.status().code() == StatusCode::kNotFound ? "BLOB_UNKNOWN" : "DIGEST_INVALID",
        blob.status().message());
  }
  Result<app::MirrorFileHandle> open = app::MirrorOps::Open(*blob);
  if (!open.ok()) return RegistryError(call.res, 404, "BLOB_UNKNOWN", open.status().message());
  SendRange(call.req, call.res, *open, "application/octet-stream",
            {{"Docker-Content-Digest", ref}, {"ETag", "\"" + ref + "\""}});
}

}  // namespace hangar::server
