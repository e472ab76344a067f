#include "app/store_ops.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "config/config_writer.h"
#include "core/file_util.h"
#include "core/log.h"
#include "core/sha256.h"
#include "core/strings.h"
#include "gguf/split.h"
#include "store/blob_store.h"
#include "store/hf_cache.h"

namespace hangar::app {
namespace {

namespace fs = std::filesystem;

// The running process that holds `m` loaded, or null. A process names its
// model by the id it was run by, or by the file name when run by path.
const ProcessView* LoadedBy(const store::InstalledModel& m, const std::vector<ProcessView>& live) {
  const std::string file = m.primary_path.filename().string();
  for (const ProcessView& p : live) {
    if (NamesInstalled(m, p.entry.model) || p.entry.model == file) return &p;
  }
  return nullptr;
}

store::CacheRoots CacheRootsFor(const Paths& p) {
  return store::CacheRoots{p.hf_hub_cache, p.data_dir};
}

}  // namespace

std::string StoreOps::UniqueEntryId(const Snapshot& s, const store::InstalledModel& m) const {
  const std::string base = InstalledSlug(m);
  auto taken = [&](const std::string& id) {
    if (DefaultCatalog().FindById(id) != nullptr) return true;
    for (const store::InstalledModel& have : s.installed) {
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

Result<store::InstalledModel> StoreOps::RecordMade(const fs::path& file, std::string_view made_by, bool in_store) {
  {
    // The file is new (its writer refuses an existing one): a record of an
    // earlier file at this path, deleted since, gives way.
    const fs::path abs = AbsolutePath(file);
    ASSIGN_OR_RETURN(std::vector<store::InstalledModel> installed, Installed());
    ASSIGN_OR_RETURN(store::StateDbPool::Lease db, core_->db());
    store::ModelDb models(*db);
    for (const store::InstalledModel& have : installed) {
      for (const store::InstalledFile& f : have.files) {
        if (f.blob == abs) RETURN_IF_ERROR(models.Remove(have.id));
      }
    }
    RETURN_IF_ERROR(core_->Refresh().status());
  }
  Result<store::InstalledModel> m = Import(file, ImportMode::kLink);
  if (!m.ok()) {
    std::error_code ec;
    fs::remove(file, ec);
    return m.status();
  }
  if (!in_store) return m;
  m->managed = true;
  m->source = std::string(made_by);
  return Record(*std::move(m), false);
}

Result<store::InstalledModel> StoreOps::Record(store::InstalledModel m, bool describe_entry) {
  std::lock_guard<std::mutex> lock(record_mu_);
  // The latest state: the id chosen must not be taken by a model recorded
  // a moment ago.
  ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> s, core_->Refresh());
  if (describe_entry) {
    m.metadata["entry"] = ToJson(EntryFromGgufFile(m.primary_path, UniqueEntryId(*s, m), m.name));
  }
  ASSIGN_OR_RETURN(store::StateDbPool::Lease db, core_->db());
  store::ModelDb models(*db);
  RETURN_IF_ERROR(models.Put(m));
  RETURN_IF_ERROR(core_->Refresh().status());
  return m;
}

Result<std::vector<store::InstalledModel>> StoreOps::Installed() {
  ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> s, core_->snapshot());
  return s->installed;
}

Result<store::InstalledModel> StoreOps::FindInstalled(std::string_view ref) {
  Result<Resolution> t = core_->Resolve(ref);
  if (t.ok() && t->record) return *t->record;
  if (!t.ok() && t.status().code() == StatusCode::kInvalidArgument) return t.status();
  return NotFoundError("model " + std::string(ref) + " is not installed; run `hangar pull " +
                       std::string(ref) +
                       "` first (or `hangar discover` to find models of "
                       "other tools)");
}

Result<store::InstalledModel> StoreOps::DescribeGguf(const fs::path& primary, std::string id,
                                                     std::string source) {
  ASSIGN_OR_RETURN(nlohmann::json meta, store::GgufMetadata(primary));
  store::InstalledModel m;
  m.id = std::move(id);
  m.source = std::move(source);
  m.ref = m.id;
  m.primary_path = primary;
  m.installed_at = core_->clock().NowUnixSeconds();
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

store::DiscoveryRoots StoreOps::DiscoveryRootsFor(const Snapshot& s) const {
  const Paths& p = s.paths;
  store::DiscoveryRoots roots;
  roots.hf_hub_cache = p.hf_hub_cache;
  roots.ollama_models = p.ollama_models;
  roots.lmstudio_models = {p.lmstudio_models, p.home / ".cache" / "lm-studio" / "models"};
  roots.llama_cache = p.llama_cache;
  roots.gpt4all_models = p.gpt4all_models;
  for (const std::string& f : s.config.store().folders) {
    fs::path folder = f;
    if (f.starts_with("~/")) folder = p.home / f.substr(2);
    roots.folders.push_back(folder);
  }
  return roots;
}

Result<DiscoverResult> StoreOps::Discover() {
  ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> s, core_->snapshot());
  DiscoverResult out;
  out.report =
      store::Discover(DiscoveryRootsFor(*s), &DefaultCatalog(), core_->clock().NowUnixSeconds());
  for (store::InstalledModel& m : out.report.models) {
    // Known already: by id, or the same bytes installed under another id
    // (pulled by Hangar into the HF cache, say): the same path, the same
    // digest, or the same file under another name (a hard link made by
    // `hangar share`).
    ASSIGN_OR_RETURN(s, core_->snapshot());
    const fs::path blob = m.files.empty() ? m.primary_path : m.files.front().blob;
    const std::string digest = m.files.empty() ? m.digest : m.files.front().digest;
    bool known = false;
    for (const store::InstalledModel& have : s->installed) {
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
    const bool describe = m.catalog_id.empty();
    out.added.push_back(m.id);
    RETURN_IF_ERROR(Record(std::move(m), describe).status());
  }
  return out;
}

Result<store::InstalledModel> StoreOps::Import(const fs::path& path, ImportMode mode) {
  std::error_code ec;
  const fs::path abs = AbsolutePath(path);
  if (!fs::is_regular_file(abs, ec)) return NotFoundError(abs.string() + " does not exist");
  // A later part of a split set stands for the set: register part 1.
  fs::path primary = gguf::SplitPartPaths(abs).front();
  ASSIGN_OR_RETURN(const Paths* p, core_->paths());
  ASSIGN_OR_RETURN(store::InstalledModel m,
                   DescribeGguf(primary, "file://" + primary.string(), "import"));
  ASSIGN_OR_RETURN(std::vector<store::InstalledModel> installed, Installed());
  for (const store::InstalledModel& have : installed) {
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
    for (const store::InstalledModel& have : installed) {
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
  return Record(std::move(m), /*describe_entry=*/true);
}

std::string StoreOps::StartImport(fs::path path, ImportMode mode) {
  const std::string title = path.string();
  return core_->jobs().Start("import", title, [this, path, mode](JobContext& job) {
    job.Report(mode == ImportMode::kLink ? "registering " + path.string()
                                         : "hashing and storing " + path.string());
    Result<store::InstalledModel> m = Import(path, mode);
    if (!m.ok()) return m.status();
    job.SetResult("installed as " + EntryIdOf(*m));
    return Status::Ok();
  });
}

Result<store::ShareResult> StoreOps::Share(std::string_view ref, std::string_view tool,
                                           std::string_view name) {
  ASSIGN_OR_RETURN(store::InstalledModel m, FindInstalled(ref));
  ASSIGN_OR_RETURN(const Paths* p, core_->paths());
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
    RETURN_IF_ERROR(Record(std::move(m), /*describe_entry=*/false).status());
  }
  return r;
}

Result<store::Removal> StoreOps::Remove(std::string_view ref, bool force) {
  ASSIGN_OR_RETURN(store::InstalledModel m, FindInstalled(ref));
  ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> s, core_->snapshot());
  const std::optional<std::string>& def = s->config.default_model();
  if (def && !force && NamesInstalled(m, *def)) {
    return FailedPreconditionError(m.id +
                                   " is the default model; set another with `hangar "
                                   "default ID`, or remove it anyway with --force");
  }
  if (!force) {
    ASSIGN_OR_RETURN(std::vector<ProcessView> live, usage_->Processes());
    if (const ProcessView* holder = LoadedBy(m, live)) {
      return FailedPreconditionError(
          EntryIdOf(m) + " is loaded by `hangar " + holder->entry.command + "` (pid " +
          std::to_string(holder->entry.pid) + "); stop it first, or remove it anyway with --force");
    }
  }
  ASSIGN_OR_RETURN(store::StateDbPool::Lease db, core_->db());
  store::ModelDb models(*db);
  Result<store::Removal> r = store::RemoveModel(m, models);
  RETURN_IF_ERROR(core_->Refresh().status());
  if (!r.ok() && r.status().code() == StatusCode::kNotFound) {
    // Another process removed it (or forgot it when its files went) meanwhile.
    return NotFoundError("model " + std::string(ref) + " is not installed (any more)");
  }
  if (r.ok()) NoteConversions(m, *r);
  return r;
}

void StoreOps::NoteConversions(const store::InstalledModel& removed, store::Removal& r) {
  // A checkpoint and the GGUF files converted from it (convert_ops.h).
  if (auto it = removed.metadata.find("converted_to"); it != removed.metadata.end() && it->is_array()) {
    for (const auto& id : *it) {
      if (!id.is_string() || !FindInstalled(id.get<std::string>()).ok()) continue;
      r.notes.push_back(id.get<std::string>() + ", converted from it, stays installed and runs without it");
    }
  }
  auto from = removed.metadata.find("converted_from");
  if (from == removed.metadata.end() || !from->is_string()) return;
  Result<store::InstalledModel> checkpoint = FindInstalled(from->get<std::string>());
  if (!checkpoint.ok()) return;
  r.notes.push_back("its checkpoint " + checkpoint->id + " stays installed; `hangar convert " + checkpoint->id +
                    "` makes it again, or `hangar rm " + checkpoint->id + "` frees it too");
  nlohmann::json& list = checkpoint->metadata["converted_to"];
  if (list.is_array()) {
    list.erase(std::remove(list.begin(), list.end(), nlohmann::json(removed.id)), list.end());
    (void)Record(*checkpoint, false);
  }
}

Result<std::vector<store::PartialFile>> StoreOps::RemoveStalePartials() {
  ASSIGN_OR_RETURN(const Paths* p, core_->paths());
  return store::RemoveStalePartials(CacheRootsFor(*p), core_->clock().NowUnixSeconds());
}

Result<CacheReport> StoreOps::Cache() {
  ASSIGN_OR_RETURN(const Paths* p, core_->paths());
  CacheReport out;
  ASSIGN_OR_RETURN(out.stale_removed, RemoveStalePartials());
  ASSIGN_OR_RETURN(out.models, Installed());
  out.usage = store::MeasureCache(out.models, CacheRootsFor(*p), core_->clock().NowUnixSeconds());
  return out;
}

Result<PruneResult> StoreOps::Prune(store::PruneOptions options, bool dry_run) {
  if (options.now == 0) options.now = core_->clock().NowUnixSeconds();
  ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> s, core_->snapshot());
  const std::optional<std::string>& def = s->config.default_model();
  ASSIGN_OR_RETURN(std::vector<ProcessView> live, usage_->Processes());
  for (const store::InstalledModel& m : s->installed) {
    if ((def && NamesInstalled(m, *def)) || LoadedBy(m, live) != nullptr) {
      options.keep.insert(m.id);
    }
  }
  PruneResult out;
  ASSIGN_OR_RETURN(out.plan, store::PlanPrune(s->installed, options));
  if (dry_run) return out;
  ASSIGN_OR_RETURN(store::StateDbPool::Lease db, core_->db());
  store::ModelDb models(*db);
  for (const store::InstalledModel& m : out.plan.remove) {
    Result<store::Removal> r = store::RemoveModel(m, models);
    if (!r.ok()) {
      RETURN_IF_ERROR(core_->Refresh().status());
      return r.status();
    }
    out.removed.push_back(std::move(*r));
  }
  RETURN_IF_ERROR(core_->Refresh().status());
  return out;
}

nlohmann::json ToJson(const DiscoverResult& r) {
  nlohmann::json found = nlohmann::json::array();
  for (const store::InstalledModel& m : r.report.models) {
    nlohmann::json j = store::ExportJson({m})["models"][0];
    j["new"] = std::find(r.added.begin(), r.added.end(), m.id) != r.added.end();
    found.push_back(std::move(j));
  }
  nlohmann::json skipped = nlohmann::json::array();
  for (const store::DiscoverySkip& s : r.report.skipped) {
    skipped.push_back({{"path", s.path.string()}, {"reason", s.reason}});
  }
  return {{"found", found},
          {"added", r.added.size()},
          {"already_known", r.unchanged.size()},
          {"skipped", skipped}};
}

nlohmann::json ToJson(const store::ShareResult& r) {
  nlohmann::json files = nlohmann::json::array();
  for (const store::SharedFile& s : r.files) {
    files.push_back(
        {{"from", s.from.string()}, {"to", s.to.string()}, {"link", store::LinkKindName(s.link)}});
  }
  return {{"tool", r.tool}, {"name", r.name}, {"index", r.index.string()}, {"files", files}};
}

Result<nlohmann::json> StoreOps::Export() {
  ASSIGN_OR_RETURN(std::vector<store::InstalledModel> installed, Installed());
  return store::ExportJson(installed);
}

namespace {

// The hex of a "sha256:<64 lowercase hex>" digest.
Result<std::string> BlobHex(std::string_view digest) {
  constexpr std::string_view kPrefix = "sha256:";
  if (digest.substr(0, kPrefix.size()) != kPrefix) {
    return InvalidArgumentError(
        fmt::format("digest \"{}\" is not sha256:<64 lowercase hex digits>", digest.substr(0, 80)));
  }
  std::string hex(digest.substr(kPrefix.size()));
  if (!store::ValidateSha256(hex).ok()) {
    return InvalidArgumentError(
        fmt::format("digest \"{}\" is not sha256:<64 lowercase hex digits>", digest.substr(0, 80)));
  }
  return hex;
}

}  // namespace

Result<bool> StoreOps::HasBlob(std::string_view digest) {
  ASSIGN_OR_RETURN(std::string hex, BlobHex(digest));
  ASSIGN_OR_RETURN(const Paths* paths, core_->paths());
  return store::BlobStore(paths->data_dir).Has(hex);
}

Result<bool> StoreOps::PutBlob(std::string_view digest,
                               const std::function<Result<std::string>()>& next) {
  ASSIGN_OR_RETURN(std::string hex, BlobHex(digest));
  ASSIGN_OR_RETURN(const Paths* paths, core_->paths());
  const store::BlobStore blobs(paths->data_dir);
  if (blobs.Has(hex)) {
    // Read and dropped, so the client gets its answer after its upload.
    for (;;) {
      ASSIGN_OR_RETURN(std::string piece, next());
      if (piece.empty()) return false;
    }
  }
  std::error_code ec;
  std::filesystem::create_directories(blobs.root() / "blobs", ec);
  // A temporary file of this upload's own beside the blobs (same file
  // system: the rename into place is atomic); removed on any failure.
  std::string tmpl = (blobs.root() / "blobs" / (".upload-" + hex + "-XXXXXX")).string();
  int fd = ::mkstemp(tmpl.data());
  if (fd < 0) {
    return UnavailableError(fmt::format("cannot create {}: {}", tmpl, std::strerror(errno)));
  }
  const std::filesystem::path temp = tmpl;
  auto fail = [&](Status s) {
    ::close(fd);
    std::filesystem::remove(temp, ec);
    return s;
  };
  Sha256 sha;
  uint64_t size = 0;
  for (;;) {
    Result<std::string> piece = next();
    if (!piece.ok()) return fail(piece.status());
    if (piece->empty()) break;
    sha.Update(*piece);
    size += piece->size();
    for (size_t off = 0; off < piece->size();) {
      ssize_t n = ::write(fd, piece->data() + off, piece->size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        return fail(UnavailableError(fmt::format("writing {}: {}", tmpl, std::strerror(errno))));
      }
      off += static_cast<size_t>(n);
    }
  }
  const std::string got = sha.FinishHex();
  if (got != hex) {
    return fail(InvalidArgumentError(
        fmt::format("digest mismatch: the {} bytes sent have SHA-256 {}, not {}; nothing was kept",
                    size, got, hex)));
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    std::filesystem::remove(temp, ec);
    return UnavailableError(fmt::format("writing {}: {}", tmpl, std::strerror(errno)));
  }
  ::chmod(temp.c_str(), 0444);
  Result<std::filesystem::path> adopted = blobs.Adopt(temp, hex, /*keep_source=*/false);
  if (!adopted.ok()) {
    std::filesystem::remove(temp, ec);
    return adopted.status();
  }
  return true;
}

namespace {

// A preset named `name` with `weights`, written under the config lock.
Status AddName(Core* core, std::string_view name, const fs::path& weights,
               std::string_view description, const ModelPreset& more) {
  ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> s, core->snapshot());
  if (Resolve(*s, name, ResolveOptions{.allow_paths = false}).ok()) {
    return AlreadyExistsError(fmt::format("a model named \"{}\" exists already", name));
  }
  ASSIGN_OR_RETURN(const Paths* p, core->paths());
  auto lock = core->LockConfigWrites();
  auto written = AddModelPreset(p->config_file, name, weights, description, more);
  RETURN_IF_ERROR(core->Refresh().status());
  return written.status();
}

}  // namespace

Status StoreOps::Copy(std::string_view source, std::string_view destination,
                      const ModelPreset& more) {
  ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> s, core_->snapshot());
  Result<Resolution> r = Resolve(*s, source, ResolveOptions{.allow_paths = false});
  if (!r.ok() || r->kind != TargetKind::kInstalled || r->file.empty()) {
    return NotFoundError(fmt::format("model \"{}\" is not installed", source));
  }
  return AddName(core_, destination, r->file, fmt::format("a copy of {}", source), more);
}

Status StoreOps::CreateFromBlob(std::string_view name, std::string_view digest,
                                const ModelPreset& more) {
  ASSIGN_OR_RETURN(std::string hex, BlobHex(digest));
  ASSIGN_OR_RETURN(const Paths* p, core_->paths());
  const store::BlobStore blobs(p->data_dir);
  if (!blobs.Has(hex)) {
    return NotFoundError(
        fmt::format("blob {} was not uploaded; POST it to /api/blobs/{} first", digest, digest));
  }
  return AddName(core_, name, blobs.BlobPath(hex), fmt::format("created from {}", digest), more);
}

Result<bool> StoreOps::RemoveName(std::string_view name) {
  ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> s, core_->snapshot());
  const ModelPreset* preset = s->config.FindPreset(name);
  if (preset == nullptr || !preset->weights) return false;
  ASSIGN_OR_RETURN(const Paths* p, core_->paths());
  auto lock = core_->LockConfigWrites();
  auto written = RemoveModelPreset(p->config_file, name);
  RETURN_IF_ERROR(core_->Refresh().status());
  RETURN_IF_ERROR(written.status());
  return true;
}

}  // namespace hangar::app
