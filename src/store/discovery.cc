#include "store/discovery.h"

#include <algorithm>
#include <system_error>

#include "core/file_util.h"
#include "core/sha256.h"
#include "core/strings.h"
#include "gguf/split.h"
#include "gguf/summary.h"
#include "store/blob_store.h"
#include "store/hf_cache.h"

namespace hangar::store {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kOllamaDefaultHost = "registry.ollama.ai";
constexpr std::string_view kOllamaDefaultNamespace = "library";

uint64_t SizeOf(const fs::path& p) {
  std::error_code ec;
  const uint64_t n = fs::file_size(p, ec);
  return ec ? 0 : n;
}

fs::path Canonical(const fs::path& p) {
  std::error_code ec;
  fs::path c = fs::canonical(p, ec);
  return ec ? p : c;
}

// Fills size, files and metadata of `m` from the GGUF model at `primary`
// (and its other parts): false with a skip when its header is unreadable.
bool Describe(InstalledModel& m, const fs::path& primary, DiscoveryReport& report) {
  Result<nlohmann::json> meta = GgufMetadata(primary);
  if (!meta.ok()) {
    report.skipped.push_back({primary, meta.status().message()});
    return false;
  }
  m.metadata = std::move(meta).value();
  m.primary_path = primary;
  if (m.files.empty()) {
    for (const fs::path& part : gguf::SplitPartPaths(primary)) {
      InstalledFile f;
      f.path = part;
      f.blob = Canonical(part);
      f.size_bytes = SizeOf(part);
      m.files.push_back(std::move(f));
    }
  }
  m.size_bytes = 0;
  for (const InstalledFile& f : m.files) m.size_bytes += f.size_bytes;
  if (m.name.empty()) {
    m.name = m.metadata.value("name", "");
    if (m.name.empty()) m.name = primary.stem().string();
  }
  return true;
}

void FromHfCache(const fs::path& root, const Catalog* catalog, int64_t now,
                 DiscoveryReport& report) {
  if (root.empty()) return;
  HfCache cache(root);
  std::vector<HfCachedFile> files = cache.ListFiles();
  for (const HfCachedFile& f : files) {
    if (!gguf::IsGgufModelFileName(f.path) || !gguf::IsFirstPartOrWhole(f.path)) continue;
    InstalledModel m;
    m.id = "hf://" + f.repo_id + "/" + f.path;
    m.source = "hf";
    m.ref = m.id;
    m.revision = f.commit;
    m.managed = false;
    m.installed_at = now;
    for (const fs::path& part : gguf::SplitPartPaths(f.snapshot_path)) {
      InstalledFile file;
      file.path = part;
      file.blob = Canonical(part);
      file.size_bytes = SizeOf(part);
      const std::string blob_name = file.blob.filename().string();
      if (ValidateSha256(blob_name).ok()) file.digest = blob_name;
      m.files.push_back(std::move(file));
    }
    if (!Describe(m, f.snapshot_path, report)) continue;
    m.digest = m.files.front().digest;
    const std::string quant = m.metadata.value("quantization", "");
    m.name = f.repo_id + (quant.empty() ? "/" + f.path : ":" + quant);
    m.metadata["repo"] = f.repo_id;
    m.metadata["repo_path"] = f.path;
    if (catalog != nullptr) {
      if (const CatalogEntry* e = MatchCatalogHf(*catalog, f.repo_id, f.path)) m.catalog_id = e->id;
    }
    report.models.push_back(std::move(m));
  }
}

std::string OllamaId(std::string_view host, std::string_view ns, std::string_view name,
                     std::string_view tag) {
  std::string id = "ollama://";
  if (host != kOllamaDefaultHost) {
    id += std::string(host) + "/" + std::string(ns) + "/";
  } else if (ns != kOllamaDefaultNamespace) {
    id += std::string(ns) + "/";
  }
  return id + std::string(name) + ":" + std::string(tag);
}

void FromOllama(const fs::path& root, const Catalog* catalog, int64_t now,
                DiscoveryReport& report) {
  if (root.empty()) return;
  const fs::path manifests = root / "manifests";
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(manifests, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code fec;
    if (!it->is_regular_file(fec) || it.depth() != 3) continue;
    const fs::path rel = fs::relative(it->path(), manifests, fec);
    std::vector<std::string> parts;
    for (const fs::path& p : rel) parts.push_back(p.string());
    if (parts.size() != 4) continue;
    const std::string &host = parts[0], &ns = parts[1], &name = parts[2], &tag = parts[3];
    Result<std::string> text = ReadFile(it->path());
    if (!text.ok()) {
      report.skipped.push_back({it->path(), text.status().message()});
      continue;
    }
    nlohmann::json manifest = nlohmann::json::parse(*text, nullptr, false);
    if (manifest.is_discarded() || !manifest.contains("layers") || !manifest["layers"].is_array()) {
      report.skipped.push_back({it->path(), "not an Ollama manifest (no layers)"});
      continue;
    }
    InstalledModel m;
    m.id = OllamaId(host, ns, name, tag);
    m.source = "ollama";
    m.ref = m.id;
    Sha256 manifest_hash;
    manifest_hash.Update(*text);
    m.revision = manifest_hash.FinishHex();
    m.managed = false;
    m.installed_at = now;
    fs::path primary;
    bool broken = false;
    for (const nlohmann::json& layer : manifest["layers"]) {
      const std::string media = layer.value("mediaType", "");
      const std::string digest = layer.value("digest", "");
      if (!digest.starts_with("sha256:") || !ValidateSha256(digest.substr(7)).ok()) {
        broken = true;
        break;
      }
      InstalledFile f;
      f.role = OllamaLayerRole(media);
      f.digest = digest.substr(7);
      f.path = root / "blobs" / ("sha256-" + f.digest);
      f.blob = f.path;
      f.size_bytes = SizeOf(f.path);
      if (f.role == "weights" && primary.empty()) primary = f.path;
      m.files.push_back(std::move(f));
    }
    if (broken || primary.empty()) {
      report.skipped.push_back({it->path(), "the manifest names no model layer"});
      continue;
    }
    if (!fs::exists(primary, fec)) {
      report.skipped.push_back({it->path(), "its model blob " + primary.string() + " is missing"});
      continue;
    }
    m.name = (ns == kOllamaDefaultNamespace ? "" : ns + "/") + name + ":" + tag;
    if (!Describe(m, primary, report)) continue;
    m.name = (ns == kOllamaDefaultNamespace ? "" : ns + "/") + name + ":" + tag;
    for (const InstalledFile& f : m.files) {
      if (f.path == primary) m.digest = f.digest;
    }
    m.metadata["ollama_manifest"] = it->path().string();
    if (catalog != nullptr) {
      if (const CatalogEntry* e = MatchCatalogOllama(*catalog, m.name)) m.catalog_id = e->id;
    }
    report.models.push_back(std::move(m));
  }
}

void FromFolder(const fs::path& root, std::string_view source, bool recursive, int64_t now,
                DiscoveryReport& report) {
  if (root.empty()) return;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return;
  std::vector<fs::path> found;
  auto consider = [&](const fs::directory_entry& e) {
    std::error_code fec;
    if (!e.is_regular_file(fec)) return;
    const std::string name = e.path().filename().string();
    if (gguf::IsGgufModelFileName(name) && gguf::IsFirstPartOrWhole(name))
      found.push_back(e.path());
  };
  if (recursive) {
    for (auto it = fs::recursive_directory_iterator(
             root, fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      consider(*it);
    }
  } else {
    for (const fs::directory_entry& e : fs::directory_iterator(root, ec)) consider(e);
  }
  std::sort(found.begin(), found.end());
  for (const fs::path& p : found) {
    InstalledModel m;
    const fs::path abs = fs::absolute(p, ec);
    m.id = "file://" + abs.string();
    m.source = std::string(source);
    m.ref = m.id;
    m.managed = false;
    m.installed_at = now;
    if (!Describe(m, abs, report)) continue;
    report.models.push_back(std::move(m));
  }
}

}  // namespace

std::string OllamaLayerRole(std::string_view media_type) {
  constexpr std::string_view kPrefix = "application/vnd.ollama.image.";
  if (!media_type.starts_with(kPrefix)) return "other";
  const std::string_view kind = media_type.substr(kPrefix.size());
  if (kind == "model") return "weights";
  for (std::string_view known :
       {"template", "params", "system", "license", "projector", "adapter", "messages"}) {
    if (kind == known) return std::string(known);
  }
  return "other";
}

const CatalogEntry* MatchCatalogHf(const Catalog& catalog, std::string_view repo,
                                   std::string_view file) {
  for (const CatalogEntry& e : catalog.entries()) {
    for (const ModelSource& s : e.sources) {
      if (s.kind == SourceKind::kHuggingFace && EqualsIgnoreCase(s.repo, repo) &&
          EqualsIgnoreCase(s.file, file)) {
        return &e;
      }
    }
  }
  return nullptr;
}

const CatalogEntry* MatchCatalogOllama(const Catalog& catalog, std::string_view name_tag) {
  for (const CatalogEntry& e : catalog.entries()) {
    for (const ModelSource& s : e.sources) {
      if (s.kind == SourceKind::kOllama && EqualsIgnoreCase(s.repo, name_tag)) return &e;
    }
  }
  // Catalog aliases hold the short Ollama names ("gemma2:2b").
  return catalog.FindById(name_tag);
}

Result<nlohmann::json> GgufMetadata(const fs::path& path) {
  ASSIGN_OR_RETURN(std::vector<gguf::GgufFile> parts, gguf::ReadSplitModel(path));
  const gguf::ModelSummary s = gguf::Summarize(parts);
  nlohmann::json meta = {
      {"architecture", s.architecture},  {"name", s.name},        {"parameters", s.parameter_count},
      {"quantization", s.FileTypeTag()}, {"parts", parts.size()},
  };
  if (s.context_length) meta["context_length"] = *s.context_length;
  if (s.block_count) meta["layers"] = *s.block_count;
  return meta;
}

DiscoveryReport Discover(const DiscoveryRoots& roots, const Catalog* catalog, int64_t now) {
  DiscoveryReport report;
  FromHfCache(roots.hf_hub_cache, catalog, now, report);
  FromOllama(roots.ollama_models, catalog, now, report);
  for (const fs::path& p : roots.lmstudio_models) FromFolder(p, "lmstudio", true, now, report);
  FromFolder(roots.llama_cache, "llama.cpp", false, now, report);
  FromFolder(roots.gpt4all_models, "gpt4all", false, now, report);
  for (const fs::path& p : roots.folders) FromFolder(p, "folder", true, now, report);
  // The same file reached twice (a folder inside another root, a symlink):
  // keep the first.
  std::vector<InstalledModel> unique;
  std::vector<fs::path> seen;
  for (InstalledModel& m : report.models) {
    const fs::path blob = m.files.empty() ? m.primary_path : m.files.front().blob;
    if (std::find(seen.begin(), seen.end(), blob) != seen.end()) continue;
    seen.push_back(blob);
    unique.push_back(std::move(m));
  }
  report.models = std::move(unique);
  return report;
}

}  // namespace hangar::store
