// App: the store's use cases (installed models, discovery, import, share,
// removal, cache management, export).
#include <algorithm>
#include <system_error>

#include "app/app.h"
#include "core/log.h"
#include "core/sha256.h"
#include "core/strings.h"
#include "gguf/split.h"
#include "store/blob_store.h"
#include "store/hf_cache.h"

namespace hangar::app {
namespace {

// The running process that holds `m` loaded, or null. A process names its
// model by the id it was run by, or by the file name when run by path.
const App::ProcessView* LoadedBy(const store::InstalledModel& m,
                                 const std::vector<App::ProcessView>& live) {
  const std::string file = m.primary_path.filename().string();
  for (const App::ProcessView& p : live) {
    if (NamesInstalled(m, p.entry.model) || p.entry.model == file) return &p;
  }
  return nullptr;
}

namespace fs = std::filesystem;

fs::path Absolute(const fs::path& p) {
  std::error_code ec;
  fs::path a = fs::absolute(p, ec);
  return ec ? p : a.lexically_normal();
}

}  // namespace

Result<std::string> App::UniqueEntryId(const store::InstalledModel& m) {
  ASSIGN_OR_RETURN(const std::vector<store::InstalledModel>* installed, Installed());
  const std::string base = InstalledSlug(m);
  auto taken = [&](const std::string& id) {
    if (DefaultCatalog().FindById(id) != nullptr) return true;
    for (const store::InstalledModel& have : *installed) {
      if (have.id == m.id) continue;
      const std::string other = have.metadata.contains("entry")
                                    ? have.metadata["entry"].value("id", "")
                                    : InstalledSlug(have);
      if (EqualsIgnoreCase(other, id)) return true;
    }
    return false;
  };
  std::string id = base;
  for (int n = 2; taken(id); ++n) id = base + "-" + std::to_string(n);
  return id;
}

Result<store::StateDb*> App::state() {
  if (!state_) {
    ASSIGN_OR_RETURN(const Paths* p, paths());
    ASSIGN_OR_RETURN(state_, store::StateDb::Open(p->state_db()));
  }
  return state_.get();
}

Result<const std::vector<store::InstalledModel>*> App::Installed() {
  if (installed_) return &*installed_;
  ASSIGN_OR_RETURN(const Paths* p, paths());
  std::error_code ec;
  if (!state_ && !fs::exists(p->state_db(), ec)) {
    installed_.emplace();  // nothing installed yet; create nothing
    return &*installed_;
  }
  ASSIGN_OR_RETURN(store::StateDb * db, state());
  store::ModelDb models(*db);
  ASSIGN_OR_RETURN(std::vector<store::InstalledModel> all, models.List());
  std::vector<store::InstalledModel> present;
  present.reserve(all.size());
  for (store::InstalledModel& m : all) {
    if (fs::exists(m.primary_path, ec)) {
      present.push_back(std::move(m));
      continue;
    }
    // Reconcile: the row of a model whose file is gone goes too.
    Log(LogLevel::kInfo, "forgetting {}: {} is gone", m.id, m.primary_path.string());
    RETURN_IF_ERROR(models.Remove(m.id));
  }
  installed_ = std::move(present);
  return &*installed_;
}

Result<store::InstalledModel> App::FindInstalled(std::string_view ref) {
  ASSIGN_OR_RETURN(const std::vector<store::InstalledModel>* all, Installed());
  std::string_view text = ref;
  if (text.starts_with("file://")) text.remove_prefix(7);
  const fs::path as_path = Absolute(fs::path(text));
  for (const store::InstalledModel& m : *all) {
    if (NamesInstalled(m, ref) || m.primary_path == as_path) {
      return m;
    }
  }
  // A catalog alias of an installed catalog entry.
  ASSIGN_OR_RETURN(const ModelIndex* index, models());
  if (const CatalogEntry* e = index->catalog().FindById(ref)) {
    for (const store::InstalledModel& m : *all) {
      if (EqualsIgnoreCase(m.id, e->id) || EqualsIgnoreCase(m.catalog_id, e->id)) return m;
    }
  }
  return NotFoundError("model " + std::string(ref) + " is not installed; run `hangar pull " +
                       std::string(ref) +
                       "` first (or `hangar discover` to find models of "
                       "other tools)");
}

Result<store::InstalledModel> App::DescribeGguf(const fs::path& primary, std::string id,
                                                std::string source) {
  ASSIGN_OR_RETURN(nlohmann::json meta, store::GgufMetadata(primary));
  const Clock* clock = deps_.clock != nullptr ? deps_.clock : &SystemClock::Default();
  store::InstalledModel m;
  m.id = std::move(id);
  m.source = std::move(source);
  m.ref = m.id;
  m.primary_path = primary;
  m.installed_at = clock->NowUnixSeconds();
  m.metadata = std::move(meta);
  m.name = m.metadata.value("name", "");
  if (m.name.empty()) m.name = primary.stem().string();
  for (const fs::path& part : gguf::SplitPartPaths(primary)) {
    std::error_code ec;
    store::InstalledFile f;
    f.path = part;
    f.blob = fs::canonical(part, ec);
    if (ec) f.blob = part;
    f.size_bytes = fs::file_size(part, ec);
    m.size_bytes += f.size_bytes;
    m.files.push_back(std::move(f));
  }
  return m;
}

store::DiscoveryRoots App::DiscoveryRootsFor(const Paths& p, const Config& c) const {
  store::DiscoveryRoots roots;
  roots.hf_hub_cache = p.hf_hub_cache;
  roots.ollama_models = p.ollama_models;
  roots.lmstudio_models = {p.lmstudio_models, p.home / ".cache" / "lm-studio" / "models"};
  roots.llama_cache = p.llama_cache;
  roots.gpt4all_models = p.gpt4all_models;
  for (const std::string& f : c.store().folders) {
    fs::path folder = f;
    if (f.starts_with("~/")) folder = p.home / f.substr(2);
    roots.folders.push_back(folder);
  }
  return roots;
}

store::CacheRoots App::CacheRootsFor(const Paths& p) const {
  return store::CacheRoots{p.hf_hub_cache, p.data_dir};
}

Result<App::DiscoverResult> App::Discover() {
  ASSIGN_OR_RETURN(const Paths* p, paths());
  ASSIGN_OR_RETURN(const Config* c, config());
  ASSIGN_OR_RETURN(const std::vector<store::InstalledModel>* installed, Installed());
  const Clock& clock = deps_.clock != nullptr ? *deps_.clock : SystemClock::Default();
  DiscoverResult out;
  out.report =
      store::Discover(DiscoveryRootsFor(*p, *c), &DefaultCatalog(), clock.NowUnixSeconds());
  ASSIGN_OR_RETURN(store::StateDb * db, state());
  store::ModelDb models(*db);
  for (store::InstalledModel& m : out.report.models) {
    // Known already: by id, or the same bytes installed under another id
    // (pulled by Hangar into the HF cache, say).
    // Same bytes: the same path, the same digest, or the same file under
    // another name (a hard link made by `hangar share`).
    const fs::path blob = m.files.empty() ? m.primary_path : m.files.front().blob;
    const std::string digest = m.files.empty() ? m.digest : m.files.front().digest;
    bool known = false;
    for (const store::InstalledModel& have : *installed) {
      if (have.id == m.id) known = true;
      for (const store::InstalledFile& f : have.files) {
        std::error_code ec;
        known = known || f.blob == blob || (!digest.empty() && f.digest == digest) ||
                fs::equivalent(f.blob, blob, ec);
      }
    }
    if (known) {
      out.unchanged.push_back(m.id);
      continue;
    }
    if (m.catalog_id.empty()) {
      ASSIGN_OR_RETURN(std::string entry_id, UniqueEntryId(m));
      m.metadata["entry"] = ToJson(EntryFromGgufFile(m.primary_path, entry_id, m.name));
    }
    RETURN_IF_ERROR(models.Put(m));
    installed_.reset();  // the next slug must see this one
    ASSIGN_OR_RETURN(installed, Installed());
    out.added.push_back(m.id);
  }
  installed_.reset();
  models_.reset();
  return out;
}

Result<store::InstalledModel> App::Import(const fs::path& path, ImportMode mode) {
  std::error_code ec;
  const fs::path abs = Absolute(path);
  if (!fs::is_regular_file(abs, ec)) return NotFoundError(abs.string() + " does not exist");
  // A later part of a split set stands for the set: register part 1.
  fs::path primary = gguf::SplitPartPaths(abs).front();
  ASSIGN_OR_RETURN(const Paths* p, paths());
  ASSIGN_OR_RETURN(store::InstalledModel m,
                   DescribeGguf(primary, "file://" + primary.string(), "import"));
  ASSIGN_OR_RETURN(const std::vector<store::InstalledModel>* installed, Installed());
  for (const store::InstalledModel& have : *installed) {
    for (const store::InstalledFile& f : have.files) {
      if (f.blob == m.files.front().blob) {
        return AlreadyExistsError(primary.string() + " is installed already as " + have.id);
      }
    }
  }
  m.managed = false;
  if (mode != ImportMode::kLink) {
    if (m.files.size() != 1) {
      return FailedPreconditionError(
          "a split model is imported in place (--link): its parts must stay side by side");
    }
    // The bytes enter Hangar's store by their digest (Ollama's naming),
    // unless they are installed already: never a second copy.
    ASSIGN_OR_RETURN(std::string hex, Sha256File(primary));
    for (const store::InstalledModel& have : *installed) {
      for (const store::InstalledFile& f : have.files) {
        if (f.digest == hex) {
          return AlreadyExistsError("the same bytes (sha256 " + hex +
                                    ") are installed already as " + have.id +
                                    "; nothing was copied");
        }
      }
    }
    store::BlobStore blobs(p->data_dir);
    ASSIGN_OR_RETURN(fs::path blob,
                     blobs.Adopt(primary, hex, /*keep_source=*/mode == ImportMode::kCopy));
    m.id = "blob://sha256-" + hex;
    m.ref = "file://" + primary.string();
    m.primary_path = blob;
    m.files.front().path = blob;
    m.files.front().blob = blob;
    m.files.front().digest = hex;
    m.digest = hex;
    m.managed = true;
    m.metadata["imported_from"] = primary.string();
    if (m.name.empty()) m.name = primary.stem().string();
  }
  ASSIGN_OR_RETURN(std::string entry_id, UniqueEntryId(m));
  m.metadata["entry"] = ToJson(EntryFromGgufFile(m.primary_path, entry_id, m.name));
  ASSIGN_OR_RETURN(store::StateDb * db, state());
  store::ModelDb models(*db);
  RETURN_IF_ERROR(models.Put(m));
  installed_.reset();
  models_.reset();
  return m;
}

Result<store::ShareResult> App::Share(std::string_view ref, std::string_view tool,
                                      std::string_view name) {
  ASSIGN_OR_RETURN(store::InstalledModel m, FindInstalled(ref));
  ASSIGN_OR_RETURN(const Paths* p, paths());
  const std::string chosen = name.empty() ? store::DefaultShareName(m) : std::string(name);
  Result<store::ShareResult> r = InvalidArgumentError("cannot share with '" + std::string(tool) +
                                                      "': the tools are ollama and lmstudio");
  if (tool == "ollama") {
    r = store::ShareWithOllama(m, p->ollama_models, chosen);
  } else if (tool == "lmstudio") {
    r = store::ShareWithLmStudio(m, p->lmstudio_models, chosen);
  }
  if (!r.ok()) return r;
  // Digests computed for Ollama's naming are kept: no second hash later.
  if (!r->digests.empty()) {
    for (store::InstalledFile& f : m.files) {
      for (const auto& [path, hex] : r->digests) {
        if (f.path.string() == path) f.digest = hex;
      }
    }
    if (m.digest.empty() && !m.files.empty()) m.digest = m.files.front().digest;
    ASSIGN_OR_RETURN(store::StateDb * db, state());
    store::ModelDb models(*db);
    RETURN_IF_ERROR(models.Put(m));
    installed_.reset();
  }
  return r;
}

Result<store::Removal> App::Remove(std::string_view ref, bool force) {
  ASSIGN_OR_RETURN(store::InstalledModel m, FindInstalled(ref));
  ASSIGN_OR_RETURN(std::optional<std::string> def, DefaultModel());
  if (def && !force && NamesInstalled(m, *def)) {
    return FailedPreconditionError(m.id +
                                   " is the default model; set another with `hangar "
                                   "default ID`, or remove it anyway with --force");
  }
  if (!force) {
    ASSIGN_OR_RETURN(std::vector<ProcessView> live, Processes());
    if (const ProcessView* holder = LoadedBy(m, live)) {
      return FailedPreconditionError(
          EntryIdOf(m) + " is loaded by `hangar " + holder->entry.command + "` (pid " +
          std::to_string(holder->entry.pid) + "); stop it first, or remove it anyway with --force");
    }
  }
  ASSIGN_OR_RETURN(store::StateDb * db, state());
  store::ModelDb models(*db);
  ASSIGN_OR_RETURN(store::Removal r, store::RemoveModel(m, models));
  installed_.reset();
  models_.reset();
  return r;
}

Result<App::CacheReport> App::Cache() {
  ASSIGN_OR_RETURN(const Paths* p, paths());
  const Clock& clock = deps_.clock != nullptr ? *deps_.clock : SystemClock::Default();
  CacheReport out;
  out.stale_removed = store::RemoveStalePartials(CacheRootsFor(*p), clock.NowUnixSeconds());
  ASSIGN_OR_RETURN(const std::vector<store::InstalledModel>* installed, Installed());
  out.models = *installed;
  out.usage = store::MeasureCache(out.models, CacheRootsFor(*p), clock.NowUnixSeconds());
  return out;
}

Result<App::PruneResult> App::Prune(store::PruneOptions options, bool dry_run) {
  const Clock& clock = deps_.clock != nullptr ? *deps_.clock : SystemClock::Default();
  if (options.now == 0) options.now = clock.NowUnixSeconds();
  ASSIGN_OR_RETURN(const std::vector<store::InstalledModel>* installed, Installed());
  ASSIGN_OR_RETURN(std::optional<std::string> def, DefaultModel());
  ASSIGN_OR_RETURN(std::vector<ProcessView> live, Processes());
  for (const store::InstalledModel& m : *installed) {
    if ((def && NamesInstalled(m, *def)) || LoadedBy(m, live) != nullptr) {
      options.keep.insert(m.id);
    }
  }
  PruneResult out;
  ASSIGN_OR_RETURN(out.plan, store::PlanPrune(*installed, options));
  if (dry_run) return out;
  ASSIGN_OR_RETURN(store::StateDb * db, state());
  store::ModelDb models(*db);
  for (const store::InstalledModel& m : out.plan.remove) {
    ASSIGN_OR_RETURN(store::Removal r, store::RemoveModel(m, models));
    out.removed.push_back(std::move(r));
  }
  installed_.reset();
  models_.reset();
  return out;
}

Result<nlohmann::json> App::Export() {
  ASSIGN_OR_RETURN(const std::vector<store::InstalledModel>* installed, Installed());
  return store::ExportJson(*installed);
}

}  // namespace hangar::app
