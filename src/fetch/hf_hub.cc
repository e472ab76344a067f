#include "fetch/hf_hub.h"

#include <nlohmann/json.hpp>

#include "fetch/url.h"
#include "store/hf_cache.h"

namespace hangar::fetch {
namespace {

// Percent-escapes what may not appear in a URL path segment ('/' kept).
std::string EscapePath(std::string_view path) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : path) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string Unquote(std::string s) {
  if (s.starts_with("W/")) s = s.substr(2);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  return s;
}

bool IsTrue(const std::optional<std::string>& v) {
  return v && (*v == "1" || *v == "true" || *v == "TRUE" || *v == "yes" || *v == "ON");
}

}  // namespace

HfSettings HfSettings::FromEnvironment(const Environment& env) {
  HfSettings s;
  if (auto e = env.Get("HF_ENDPOINT"); e && !e->empty()) {
    s.endpoint = *e;
    while (s.endpoint.ends_with("/")) s.endpoint.pop_back();
  }
  if (auto t = env.Get("HF_TOKEN"); t && !t->empty()) {
    s.token = *t;
  } else if (auto t2 = env.Get("HUGGING_FACE_HUB_TOKEN"); t2 && !t2->empty()) {
    s.token = *t2;
  }
  s.offline = IsTrue(env.Get("HF_HUB_OFFLINE"));
  return s;
}

HttpHeaders HfHub::Headers() const {
  HttpHeaders h;
  if (!settings_.token.empty()) h.Set("Authorization", "Bearer " + settings_.token);
  h.Set("Accept-Encoding", "identity");
  h.Set("User-Agent", "hangar/0.1");
  return h;
}

std::string HfHub::ResolveUrl(std::string_view repo, std::string_view revision,
                              std::string_view path) const {
  return settings_.endpoint + "/" + std::string(repo) + "/resolve/" + EscapePath(revision) + "/" +
         EscapePath(path);
}

Status HfHub::ErrorFor(const HttpResponse& r, std::string_view repo, std::string_view revision,
                       std::string_view path) const {
  const std::string code = r.headers.Get("X-Error-Code").value_or("");
  const std::string what = std::string(repo) + (path.empty() ? "" : "/" + std::string(path)) + "@" +
                           std::string(revision);
  if (r.status == 401 || r.status == 403) {
    return FailedPreconditionError(
        "the Hugging Face hub refused " + what + " (" + std::to_string(r.status) + "): " +
        (settings_.token.empty() ? "the repository is gated or private: set HF_TOKEN to a token "
                                   "with access"
                                 : "HF_TOKEN has no access to it: accept the license on the "
                                   "model page or use another token"));
  }
  if (r.status == 404) {
    if (code == "RevisionNotFound") {
      return NotFoundError("the repository " + std::string(repo) + " has no revision '" +
                           std::string(revision) + "'");
    }
    if (code == "EntryNotFound") {
      return NotFoundError("the repository " + std::string(repo) + " has no file '" +
                           std::string(path) + "' at " + std::string(revision));
    }
    return NotFoundError("no Hugging Face repository " + std::string(repo) +
                         " (or it is private: set HF_TOKEN)");
  }
  return HttpErrorStatus(r);
}

Result<std::vector<HfFile>> ParseHfTree(std::string_view json, std::string_view repo) {
  nlohmann::json doc = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_array()) {
    return InvalidArgumentError("the file listing of " + std::string(repo) +
                                " is not a JSON array");
  }
  std::vector<HfFile> files;
  for (const nlohmann::json& e : doc) {
    if (!e.is_object() || !e.contains("path") || !e["path"].is_string()) {
      return InvalidArgumentError("the file listing of " + std::string(repo) +
                                  " has an entry without a path");
    }
    const std::string type = e.value("type", "file");
    if (type != "file") continue;
    HfFile f;
    f.path = e["path"].get<std::string>();
    // A hostile or broken listing must not make us write outside the cache.
    if (Status s = store::ValidateRepoPath(f.path); !s.ok()) {
      return InvalidArgumentError("the file listing of " + std::string(repo) +
                                  " is refused: " + s.message());
    }
    if (e.contains("size") && e["size"].is_number_unsigned()) f.size = e["size"].get<uint64_t>();
    if (e.contains("oid") && e["oid"].is_string()) f.oid = e["oid"].get<std::string>();
    if (e.contains("lfs") && e["lfs"].is_object()) {
      const nlohmann::json& lfs = e["lfs"];
      if (lfs.contains("oid") && lfs["oid"].is_string()) f.sha256 = lfs["oid"].get<std::string>();
      if (lfs.contains("sha256") && lfs["sha256"].is_string()) {
        f.sha256 = lfs["sha256"].get<std::string>();
      }
      if (lfs.contains("size") && lfs["size"].is_number_unsigned()) {
        f.size = lfs["size"].get<uint64_t>();
      }
    }
    if (!f.sha256.empty() && !store::ValidateBlobId(f.sha256).ok()) {
      return InvalidArgumentError("the file listing of " + std::string(repo) + " gives " + f.path +
                                  " a malformed sha256 '" + f.sha256 + "'");
    }
    files.push_back(std::move(f));
  }
  return files;
}

Result<std::vector<HfFile>> HfHub::ListFiles(std::string_view repo, std::string_view revision) {
  RETURN_IF_ERROR(store::ValidateRepoId(repo));
  HttpRequest req;
  req.url = settings_.endpoint + "/api/models/" + std::string(repo) + "/tree/" +
            EscapePath(revision) + "?recursive=true";
  req.headers = Headers();
  req.errors = HttpErrorMode::kResponse;
  req.timeout_ms = 60'000;
  ASSIGN_OR_RETURN(HttpResponse r, http_.Fetch(req, 64 << 20));
  if (!r.is_success()) return ErrorFor(r, repo, revision, "");
  return ParseHfTree(r.body, repo);
}

Result<HfFileInfo> HfHub::Resolve(std::string_view repo, std::string_view revision,
                                  std::string_view path) {
  RETURN_IF_ERROR(store::ValidateRepoId(repo));
  RETURN_IF_ERROR(store::ValidateRepoPath(path));
  HttpRequest req;
  req.method = HttpMethod::kHead;
  req.url = ResolveUrl(repo, revision, path);
  req.headers = Headers();
  req.errors = HttpErrorMode::kResponse;
  // The hub's redirect carries the facts; the CDN is not asked here.
  req.max_redirects = 0;
  req.timeout_ms = 60'000;
  ASSIGN_OR_RETURN(HttpResponse r, http_.Fetch(req, 1 << 16));
  // A relative redirect to another path of the hub (renamed repositories)
  // is followed once more.
  for (int hop = 0; hop < 3 && r.status >= 300 && r.status < 400; ++hop) {
    const std::string location = r.headers.Get("Location").value_or("");
    if (location.empty()) break;
    Result<std::string> next = hangar::ResolveUrl(r.url.empty() ? req.url : r.url, location);
    if (!next.ok()) return next.status();
    if (r.headers.Has("X-Linked-Etag") || !SameOrigin(*next, req.url)) {
      HfFileInfo info;
      info.url = req.url;
      info.data_url = *next;
      info.commit = r.headers.Get("X-Repo-Commit").value_or("");
      info.sha256 = Unquote(r.headers.Get("X-Linked-Etag").value_or(""));
      info.etag = Unquote(r.headers.Get("ETag").value_or(""));
      const std::string size =
          r.headers.Get("X-Linked-Size").value_or(r.headers.Get("Content-Length").value_or("0"));
      info.size = std::strtoull(size.c_str(), nullptr, 10);
      if (!info.sha256.empty() && !store::ValidateBlobId(info.sha256).ok()) {
        return DataLossError("the hub gave " + std::string(path) + " a malformed X-Linked-Etag '" +
                             info.sha256 + "'");
      }
      return info;
    }
    req.url = *next;
    ASSIGN_OR_RETURN(r, http_.Fetch(req, 1 << 16));
  }
  if (!r.is_success()) return ErrorFor(r, repo, revision, path);
  HfFileInfo info;
  info.url = req.url;
  info.data_url = req.url;
  info.commit = r.headers.Get("X-Repo-Commit").value_or("");
  info.etag = Unquote(r.headers.Get("ETag").value_or(""));
  info.sha256 = Unquote(r.headers.Get("X-Linked-Etag").value_or(""));
  if (!info.sha256.empty() && !store::ValidateBlobId(info.sha256).ok()) {
    return DataLossError("the hub gave " + std::string(path) + " a malformed X-Linked-Etag '" +
                         info.sha256 + "'");
  }
  const std::string size =
      r.headers.Get("X-Linked-Size").value_or(r.headers.Get("Content-Length").value_or("0"));
  info.size = std::strtoull(size.c_str(), nullptr, 10);
  return info;
}

}  // namespace hangar::fetch
