#include "fetch/puller.h"

#include <algorithm>
#include <system_error>

#include "core/file_util.h"
#include "core/sha256.h"
#include "gguf/split.h"
#include "store/blob_store.h"
#include "store/hf_cache.h"

namespace hangar::fetch {
namespace {

namespace fs = std::filesystem;

bool IsCommitSha(std::string_view s) {
  return s.size() == 40 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

bool IsFile(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// The files of `listing` that `ref`/`options` name: a path (a GGUF file with
// its split parts, or any file or folder), else the quantization's GGUF.
Result<std::pair<std::vector<HfFile>, std::string>> Choose(const std::vector<HfFile>& listing,
                                                           const ModelRef& ref,
                                                           const PullOptions& options) {
  std::vector<HfFile> chosen;
  std::string quant;
  if (!ref.path.empty()) {
    if (IsGgufModelFile(ref.path)) {
      for (const fs::path& part : gguf::SplitPartPaths(fs::path(ref.path))) {
        auto it = std::find_if(listing.begin(), listing.end(),
                               [&](const HfFile& f) { return f.path == part.generic_string(); });
        if (it == listing.end()) {
          return NotFoundError("the repository " + ref.repo + " has no file " +
                               part.generic_string());
        }
        chosen.push_back(*it);
      }
      quant = QuantTagOf(ref.path);
    } else {
      ASSIGN_OR_RETURN(chosen, SelectPath(listing, ref.path, ref.repo));
    }
    return std::make_pair(std::move(chosen), quant);
  }
  const std::string tag = !options.quant.empty() ? options.quant : ref.quant;
  const bool has_gguf = std::any_of(listing.begin(), listing.end(),
                                    [](const HfFile& f) { return IsGgufModelFile(f.path); });
  if (!has_gguf && tag.empty()) {
    // Not a GGUF repository (safetensors, ONNX, a tokenizer): every file, as
    // `huggingface-cli download` takes it.
    if (listing.empty()) return NotFoundError("the repository " + ref.repo + " has no files");
    return std::make_pair(listing, quant);
  }
  ASSIGN_OR_RETURN(HfSelection sel, SelectGgufFiles(listing, tag, ref.repo));
  quant = sel.quant.empty() ? QuantTagOf(sel.files.front().path) : Upper(sel.quant);
  chosen = std::move(sel.files);
  for (HfFile& extra : sel.extras) chosen.push_back(std::move(extra));
  return std::make_pair(std::move(chosen), quant);
}

void NameHfPlan(PullPlan& plan, const std::string& repo) {
  // A whole non-GGUF repository is one model named by the repository; its
  // primary file is the first weights file (else the first file).
  const bool gguf = IsGgufModelFile(plan.files.front().name);
  if (!gguf && plan.ref.path.empty()) {
    auto weights = std::find_if(plan.files.begin(), plan.files.end(), [](const PullFile& f) {
      return f.name.ends_with(".safetensors") || f.name.ends_with(".onnx") ||
             f.name.ends_with(".bin");
    });
    if (weights != plan.files.end()) std::rotate(plan.files.begin(), weights, weights + 1);
    plan.model_id = "hf://" + repo;
    plan.name = repo;
    return;
  }
  const std::string& primary = plan.files.front().name;
  plan.model_id = "hf://" + repo + "/" + primary;
  plan.name = repo + (plan.quant.empty() ? "/" + primary : ":" + plan.quant);
  for (PullFile& f : plan.files) {
    if (f.name.find("mmproj") != std::string::npos) f.role = "projector";
  }
}

}  // namespace

uint64_t PullPlan::total_bytes() const {
  uint64_t n = 0;
  for (const PullFile& f : files) n += f.size;
  return n;
}

uint64_t PullPlan::missing_bytes() const {
  uint64_t n = 0;
  for (const PullFile& f : files) {
    if (!f.cached) n += f.size;
  }
  return n;
}

bool PullPlan::all_cached() const {
  return std::all_of(files.begin(), files.end(), [](const PullFile& f) { return f.cached; });
}

Puller::Puller(HttpClient& http, const Environment& env, PullStores stores)
    : http_(http),
      hub_(http, HfSettings::FromEnvironment(env)),
      registry_(http, env),
      stores_(std::move(stores)) {}

Result<PullPlan> Puller::Plan(const ModelRef& ref, const PullOptions& options) {
  switch (ref.kind) {
    case RefKind::kHuggingFace:
      if (options.offline || hub_.settings().offline) return PlanHfOffline(ref, options);
      return PlanHf(ref, options);
    case RefKind::kOllama:
      return PlanOllama(ref, options);
    case RefKind::kUrl:
      return PlanUrl(ref, options);
    case RefKind::kFile:
      return InvalidArgumentError("'" + ref.text +
                                  "' is a local file: `hangar import` registers it");
    case RefKind::kCatalog:
      break;
  }
  return InvalidArgumentError("'" + ref.text + "' names a catalog entry; pull its source");
}

Result<PullPlan> Puller::PlanHf(const ModelRef& ref, const PullOptions& options) {
  PullPlan plan;
  plan.ref = ref;
  plan.source = "hf";
  const std::string revision =
      !options.revision.empty() ? options.revision : std::string(ref.Revision());
  if (!IsCommitSha(revision)) plan.revision_ref = revision;
  ASSIGN_OR_RETURN(std::vector<HfFile> listing, hub_.ListFiles(ref.repo, revision));
  ASSIGN_OR_RETURN(auto chosen, Choose(listing, ref, options));
  plan.quant = chosen.second;
  store::HfCache cache(stores_.hf_hub_cache);
  for (const HfFile& f : chosen.first) {
    ASSIGN_OR_RETURN(HfFileInfo info, hub_.Resolve(ref.repo, revision, f.path));
    if (plan.revision.empty()) plan.revision = info.commit;
    PullFile pf;
    pf.name = f.path;
    // The resolve URL with the token: the downloader follows the hub's
    // redirect and drops the token for the CDN's origin.
    pf.url = info.url;
    pf.headers = hub_.Headers();
    pf.size = info.size > 0 ? info.size : f.size;
    pf.sha256 = !info.sha256.empty() ? info.sha256 : f.sha256;
    pf.blob_id = !pf.sha256.empty() ? pf.sha256 : (!info.etag.empty() ? info.etag : f.oid);
    if (Status s = store::ValidateBlobId(pf.blob_id); !s.ok()) {
      return DataLossError("the hub gave " + f.path + " no usable blob id: " + s.message());
    }
    pf.destination = cache.BlobPath(ref.repo, pf.blob_id);
    pf.partial = cache.IncompletePath(ref.repo, pf.blob_id);
    pf.lock = cache.LockPath(ref.repo, pf.blob_id);
    // The same bytes fetched by huggingface_hub or llama.cpp are not
    // fetched again: the blob is named by its digest.
    pf.cached = IsFile(pf.destination);
    plan.files.push_back(std::move(pf));
  }
  if (plan.revision.empty()) plan.revision = IsCommitSha(revision) ? revision : "";
  if (plan.revision.empty()) {
    return DataLossError("the hub did not say which commit " + ref.repo + "@" + revision +
                         " is (no X-Repo-Commit)");
  }
  for (PullFile& f : plan.files) f.visible = cache.SnapshotPath(ref.repo, plan.revision, f.name);
  // A digest known beforehand (--sha256, the catalog's) must be the hub's.
  if (!options.sha256.empty()) {
    PullFile& primary = plan.files.front();
    if (!primary.sha256.empty() && primary.sha256 != options.sha256) {
      return DataLossError("checksum mismatch for " + primary.name + " of " + ref.repo + "@" +
                           revision + ": expected " + options.sha256 + ", the hub serves " +
                           primary.sha256 + "; nothing was downloaded");
    }
    primary.sha256 = options.sha256;
  }
  NameHfPlan(plan, ref.repo);
  return plan;
}

Result<PullPlan> Puller::PlanHfOffline(const ModelRef& ref, const PullOptions& options) {
  PullPlan plan;
  plan.ref = ref;
  plan.source = "hf";
  store::HfCache cache(stores_.hf_hub_cache);
  const std::string revision =
      !options.revision.empty() ? options.revision : std::string(ref.Revision());
  std::string commit = revision;
  if (!IsCommitSha(revision)) {
    plan.revision_ref = revision;
    ASSIGN_OR_RETURN(std::optional<std::string> c, cache.ReadRef(ref.repo, revision));
    if (!c) {
      return UnavailableError("offline, and " + ref.repo + "@" + revision +
                              " is not in the Hugging Face cache (" +
                              cache.RepoDir(ref.repo).string() + "); pull it once online");
    }
    commit = *c;
  }
  std::vector<HfFile> listing;
  for (const store::HfCachedFile& f : cache.ListFiles()) {
    if (f.repo_id != ref.repo || f.commit != commit) continue;
    HfFile hf;
    hf.path = f.path;
    hf.size = f.size;
    const std::string blob = f.blob_path.filename().string();
    (blob.size() == 64 ? hf.sha256 : hf.oid) = blob;
    listing.push_back(std::move(hf));
  }
  Result<std::pair<std::vector<HfFile>, std::string>> chosen = Choose(listing, ref, options);
  if (!chosen.ok()) {
    return UnavailableError("offline, and the Hugging Face cache has no matching file of " +
                            ref.repo + "@" + revision + ": " + chosen.status().message());
  }
  plan.quant = chosen->second;
  plan.revision = commit;
  for (const HfFile& f : chosen->first) {
    PullFile pf;
    pf.name = f.path;
    pf.size = f.size;
    pf.sha256 = f.sha256;
    pf.blob_id = f.blob_id();
    pf.destination = cache.BlobPath(ref.repo, pf.blob_id);
    pf.visible = cache.SnapshotPath(ref.repo, commit, f.path);
    pf.cached = true;
    plan.files.push_back(std::move(pf));
  }
  NameHfPlan(plan, ref.repo);
  return plan;
}

Result<PullPlan> Puller::PlanOllama(const ModelRef& ref, const PullOptions& options) {
  PullPlan plan;
  plan.ref = ref;
  plan.source = "ollama";
  plan.revision_ref = ref.tag;
  store::BlobStore blobs(stores_.hangar_data);
  const std::string host = ref.host.empty() ? std::string(kOllamaDefaultHost) : ref.host;
  plan.manifest_path = blobs.ManifestsDir() / host / ref.ns / ref.name / ref.tag;
  Result<OllamaManifest> manifest = UnavailableError("");
  if (options.offline) {
    Result<std::string> text = ReadFile(plan.manifest_path);
    if (!text.ok()) {
      return UnavailableError("offline, and " + ref.Canonical() + " was never pulled (" +
                              plan.manifest_path.string() + " is missing)");
    }
    manifest = ParseOllamaManifest(std::move(text).value());
  } else {
    manifest = registry_.GetManifest(ref);
  }
  if (!manifest.ok()) return manifest.status();
  plan.revision = manifest->digest;
  plan.manifest_text = manifest->text;
  std::vector<OllamaLayer> layers;
  if (const OllamaLayer* model = manifest->model()) layers.push_back(*model);
  for (const OllamaLayer& l : manifest->layers) {
    if (l.role != "weights") layers.push_back(l);
  }
  if (!manifest->config.digest.empty()) {
    OllamaLayer config = manifest->config;
    config.role = "config";
    layers.push_back(config);
  }
  for (const OllamaLayer& l : layers) {
    PullFile pf;
    pf.name = l.role;
    pf.role = l.role;
    pf.url = registry_.BlobUrl(ref, l.digest);
    pf.headers = registry_.Headers();
    pf.size = l.size;
    pf.sha256 = l.digest;
    pf.blob_id = l.digest;
    pf.destination = blobs.BlobPath(l.digest);
    pf.partial = blobs.PartialPath(l.digest);
    pf.lock = blobs.LockPath(l.digest);
    pf.visible = pf.destination;
    pf.cached = blobs.Has(l.digest);
    if (!pf.cached && !stores_.ollama_models.empty()) {
      // Ollama has the layer already: link it instead of fetching it again.
      const fs::path theirs = stores_.ollama_models / "blobs" / ("sha256-" + l.digest);
      std::error_code ec;
      if (IsFile(theirs)) {
        fs::create_directories(pf.destination.parent_path(), ec);
        fs::create_hard_link(theirs, pf.destination, ec);
        pf.cached = !ec;
      }
    }
    if (options.offline && !pf.cached) {
      return UnavailableError("offline, and the " + l.role + " layer of " + ref.Canonical() +
                              " is not in the store");
    }
    plan.files.push_back(std::move(pf));
  }
  plan.model_id = ref.Canonical();
  plan.name = (ref.ns == kOllamaDefaultNamespace ? "" : ref.ns + "/") + ref.name + ":" + ref.tag;
  return plan;
}

Result<PullPlan> Puller::PlanUrl(const ModelRef& ref, const PullOptions& options) {
  if (options.offline) {
    return UnavailableError("offline: " + ref.url + " cannot be fetched");
  }
  PullPlan plan;
  plan.ref = ref;
  plan.source = "url";
  std::string name = ref.url;
  if (const size_t q = name.find_first_of("?#"); q != std::string::npos) name.resize(q);
  if (const size_t slash = name.rfind('/'); slash != std::string::npos)
    name = name.substr(slash + 1);
  if (name.empty()) name = "download";
  store::BlobStore blobs(stores_.hangar_data);
  PullFile pf;
  pf.name = name;
  pf.url = ref.url;
  if (!options.sha256.empty()) {
    RETURN_IF_ERROR(store::ValidateSha256(options.sha256));
    pf.sha256 = options.sha256;
    pf.blob_id = options.sha256;
    pf.destination = blobs.BlobPath(pf.sha256);
    pf.partial = blobs.PartialPath(pf.sha256);
    pf.lock = blobs.LockPath(pf.sha256);
    pf.cached = blobs.Has(pf.sha256);
  } else {
    // Named by the URL until the digest is known, then adopted by digest.
    Sha256 h;
    h.Update(ref.url);
    const std::string key = h.FinishHex().substr(0, 16);
    pf.destination = stores_.hangar_data / "downloads" / (key + "-" + name);
    pf.partial = stores_.hangar_data / "blobs" / ("url-" + key + "-partial");
    pf.lock = stores_.hangar_data / "blobs" / ".locks" / ("url-" + key + ".lock");
  }
  pf.visible = pf.destination;
  plan.files.push_back(std::move(pf));
  plan.model_id = ref.url;
  plan.name = name;
  plan.quant = QuantTagOf(name);
  return plan;
}

Result<RemoteHeader> Puller::Header(const PullPlan& plan) {
  const PullFile& primary = plan.files.front();
  if (plan.source != "ollama" && !IsGgufModelFile(primary.name)) {
    return FailedPreconditionError(primary.name + " is not a GGUF file");
  }
  if (primary.cached) {
    return FailedPreconditionError(primary.name + " is on this machine already");
  }
  return ReadRemoteHeader(http_, primary.url, primary.headers, primary.size, primary.name);
}

Status Puller::Fetch(PullPlan& plan, const PullOptions& options, const PullProgressFn& progress) {
  Downloader downloader(http_);
  for (size_t i = 0; i < plan.files.size(); ++i) {
    PullFile& f = plan.files[i];
    if (f.cached) continue;
    DownloadRequest req;
    req.sources.push_back({f.url, f.headers});
    req.destination = f.destination;
    req.partial_path = f.partial;
    req.lock_path = f.lock;
    if (f.size > 0) req.expected_size = f.size;
    req.expected_sha256 = f.sha256;
    req.name = f.name;
    req.cancelled = options.cancelled;
    Result<DownloadResult> r =
        downloader.Download(req, options.download, [&](const DownloadProgress& p) {
          if (progress) progress(i, p);
        });
    if (!r.ok()) return r.status();
    f.size = r->size;
    f.resumed_bytes = r->resumed_bytes;
    f.fetched_bytes = r->fetched_bytes;
    f.verify_ms = r->verify_ms;
    if (f.sha256.empty()) f.sha256 = r->sha256;
    if (plan.source == "url" && f.blob_id.empty()) {
      // Into the content-addressed store by the digest just computed.
      store::BlobStore blobs(stores_.hangar_data);
      ASSIGN_OR_RETURN(fs::path blob, blobs.Adopt(f.destination, f.sha256, /*keep_source=*/false));
      f.blob_id = f.sha256;
      f.destination = blob;
      f.visible = blob;
    }
    f.cached = true;
  }
  if (plan.source == "hf") {
    store::HfCache cache(stores_.hf_hub_cache);
    for (const PullFile& f : plan.files) {
      ASSIGN_OR_RETURN(fs::path entry,
                       cache.LinkSnapshot(plan.ref.repo, plan.revision, f.name, f.blob_id));
      (void)entry;
    }
    if (!plan.revision_ref.empty()) {
      RETURN_IF_ERROR(cache.WriteRef(plan.ref.repo, plan.revision_ref, plan.revision));
    }
  } else if (plan.source == "ollama" && !plan.manifest_text.empty()) {
    RETURN_IF_ERROR(WriteFileAtomic(plan.manifest_path, plan.manifest_text));
  }
  return Status::Ok();
}

store::InstalledModel Puller::Record(const PullPlan& plan, int64_t now) const {
  store::InstalledModel m;
  m.id = plan.model_id;
  m.name = plan.name;
  m.source = plan.source;
  m.ref = plan.ref.Canonical();
  m.revision = plan.revision;
  m.managed = true;
  m.installed_at = now;
  for (const PullFile& f : plan.files) {
    if (f.role == "config") continue;  // Ollama's config blob is the manifest's, not the model's
    store::InstalledFile file;
    file.role = f.role;
    file.path = f.visible;
    file.blob = f.destination;
    if (store::ValidateSha256(f.sha256).ok()) file.digest = f.sha256;
    file.size_bytes = f.size;
    m.size_bytes += f.size;
    m.files.push_back(std::move(file));
  }
  if (!m.files.empty()) {
    m.primary_path = m.files.front().path;
    m.digest = m.files.front().digest;
  }
  if (!plan.revision_ref.empty()) m.metadata["revision_ref"] = plan.revision_ref;
  if (!plan.quant.empty()) m.metadata["quant"] = plan.quant;
  if (plan.source == "hf") {
    m.metadata["repo"] = plan.ref.repo;
    m.metadata["repo_path"] = plan.files.front().name;
  }
  if (plan.source == "ollama") m.metadata["manifest"] = plan.manifest_path.string();
  return m;
}

}  // namespace hangar::fetch
