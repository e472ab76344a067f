// StoreOps: the use cases about the models on this machine: the installed
// models, finding other tools' models in place, import, sharing with other
// tools, removal, disk use and pruning, export.
//
// Thread-safe: reads the shared snapshot, writes through a state-database
// connection of its own per call, and refreshes the snapshot after a write.
// Two removals of one model at once: one succeeds, the other is NotFound.
#ifndef HANGAR_APP_STORE_OPS_H_
#define HANGAR_APP_STORE_OPS_H_

#include <filesystem>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "app/core.h"
#include "app/usage_ops.h"
#include "config/model_preset.h"
#include "core/status.h"
#include "store/cache.h"
#include "store/discovery.h"
#include "store/model_db.h"
#include "store/share.h"

namespace hangar::app {

struct DiscoverResult {
  store::DiscoveryReport report;
  std::vector<std::string> added;      // ids new in the database
  std::vector<std::string> unchanged;  // already registered
};

// {"found": [model (store::ExportJson's entry) + "new": bool], "added": n,
//  "already_known": n, "skipped": [{"path", "reason"}]}
nlohmann::json ToJson(const DiscoverResult& r);
// {"tool", "name", "index", "files": [{"from", "to", "link"}]}
nlohmann::json ToJson(const store::ShareResult& r);

enum class ImportMode { kLink, kCopy, kMove };

struct CacheReport {
  store::CacheUsage usage;
  std::vector<store::InstalledModel> models;
  std::vector<store::PartialFile> stale_removed;  // partials older than 24 h, just deleted
};

struct PruneResult {
  store::PrunePlan plan;
  std::vector<store::Removal> removed;  // empty for a dry run
};

class StoreOps {
 public:
  StoreOps(Core* core, UsageOps* usage) : core_(core), usage_(usage) {}

  // The installed models whose files are on disk (the snapshot's; a model
  // whose primary file went away is forgotten when the snapshot is built).
  Result<std::vector<store::InstalledModel>> Installed();
  // The installed model `ref` names (resolver.h). NotFound naming
  // `hangar pull REF` otherwise.
  Result<store::InstalledModel> FindInstalled(std::string_view ref);
  // Removal notes for a checkpoint and its conversions; unlinks the removed
  // conversion from its checkpoint's record.
  void NoteConversions(const store::InstalledModel& removed, store::Removal& r);

  // Finds GGUF models of other tools and the configured folders
  // (store/discovery.h) and registers the new ones in place.
  Result<DiscoverResult> Discover();

  // Registers the GGUF model at `path` (any part of a split set): kLink in
  // place; kCopy/kMove into Hangar's blob store (hashed on the way). NotFound
  // for a missing file; DataLoss/InvalidArgument for a file that is not a
  // readable GGUF model; AlreadyExists when that file is installed already.
  Result<store::InstalledModel> Import(const std::filesystem::path& path, ImportMode mode);
  // Import() as a job of kind "import" (copying or moving hashes the whole
  // file); returns its id at once.
  std::string StartImport(std::filesystem::path path, ImportMode mode);

  // Makes an installed model visible to Ollama or LM Studio (store/share.h)
  // under `name` (empty: a default name). InvalidArgument for another tool.
  Result<store::ShareResult> Share(std::string_view ref, std::string_view tool,
                                   std::string_view name);

  // Removes an installed model (store/cache.h RemoveModel). The default model
  // and a model a running hangar process has loaded are refused with
  // FailedPrecondition unless `force`.
  Result<store::Removal> Remove(std::string_view ref, bool force);

  Result<CacheReport> Cache();
  // Plans (and unless `dry_run` carries out) a prune; the default model and
  // models running processes have loaded are kept.
  Result<PruneResult> Prune(store::PruneOptions options, bool dry_run);

  // The installed models as the export document (store/model_db.h).
  Result<nlohmann::json> Export();

  // Registers a GGUF file Hangar just wrote (`made_by`: "quantize",
  // "convert"). `in_store`: written into Hangar's own store, so the record is
  // managed (`rm` deletes the file) with `made_by` as its source; otherwise
  // registered in place. A record of an earlier file at the same path (one
  // deleted since) is replaced. The file is removed when it cannot be
  // registered.
  Result<store::InstalledModel> RecordMade(const std::filesystem::path& file, std::string_view made_by,
                                           bool in_store);
  // Records `m` (a pulled or found model), with its catalog entry facts
  // under an entry id no other model has when `describe_entry`, and
  // refreshes the snapshot. Returns the model as recorded. Errors of the
  // database.
  Result<store::InstalledModel> Record(store::InstalledModel m, bool describe_entry);

  // A database record for a GGUF model at `primary` (metadata and the
  // catalog entry facts from its header).
  Result<store::InstalledModel> DescribeGguf(const std::filesystem::path& primary, std::string id,
                                             std::string source);

  // Partial downloads older than a day, removed.
  Result<std::vector<store::PartialFile>> RemoveStalePartials();

  // Ollama's blob upload: the bytes `next` gives (piece by piece, empty at
  // the end) stored as a blob of Hangar's store once their SHA-256 equals
  // `digest`. Returns true when the blob was created, false when it existed
  // (the body is then read and dropped). InvalidArgument for a digest that is not
  // "sha256:" and 64 lowercase hex digits, or bytes of another digest
  // (nothing is kept); errors of `next` (nothing is kept); Unavailable for
  // I/O errors.
  Result<bool> PutBlob(std::string_view digest, const std::function<Result<std::string>()>& next);
  // Whether the blob `digest` is in the store. InvalidArgument as PutBlob.
  Result<bool> HasBlob(std::string_view digest);

  // Another name for an installed model (Ollama's copy): a model preset in
  // config.toml whose weights are the source's file; no byte is copied.
  // NotFound for a source that is not installed (paths are not names here);
  // AlreadyExists when `destination` names a model already; InvalidArgument
  // for a name outside A-Z a-z 0-9 . _ - (1 to 128) or a bad value in
  // `more` (the other preset fields written: system prompt, sampling, ...).
  Status Copy(std::string_view source, std::string_view destination,
              const ModelPreset& more = {});
  // A model named `name` made of the uploaded blob `digest` (Ollama's create
  // from files), as a preset. NotFound when the blob was not uploaded;
  // others as Copy.
  Status CreateFromBlob(std::string_view name, std::string_view digest,
                        const ModelPreset& more = {});
  // Removes the name Copy or CreateFromBlob made (never the bytes, which
  // other names may use). False when `name` is no such preset.
  Result<bool> RemoveName(std::string_view name);

 private:
  // A catalog id for an installed model that no catalog entry or other
  // installed model has (InstalledSlug, then -2, -3, ...).
  std::string UniqueEntryId(const Snapshot& s, const store::InstalledModel& model) const;
  store::DiscoveryRoots DiscoveryRootsFor(const Snapshot& s) const;

  Core* core_;
  UsageOps* usage_;
  std::mutex record_mu_;  // one Record at a time: entry ids stay unique in this process
};

}  // namespace hangar::app

#endif  // HANGAR_APP_STORE_OPS_H_
