// Cache management over the installed models: what they use on disk, what
// can be reclaimed, which to prune, and removal that never deletes bytes
// another model still uses.
//
// Only models Hangar wrote (managed) have their bytes deleted; a model found
// in place (another tool's store, a folder of the user's) is forgotten, its
// files kept. A blob shared by several models (the same file found twice, an
// Ollama model shared into Hangar's store) goes only with its last model.
//
// Partial downloads (`*.incomplete` in the HF cache, `*-partial` in Hangar's
// blob store, with their resume state files) older than kStalePartialAge are
// removed by RemoveStalePartials, which pull and cache commands call first.
//
// Thread-safety: as ModelDb (one connection, one thread); file operations are
// safe to race with other processes (a vanished file counts as removed).
#ifndef HANGAR_STORE_CACHE_H_
#define HANGAR_STORE_CACHE_H_

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/status.h"
#include "store/model_db.h"

namespace hangar::store {

inline constexpr int64_t kStalePartialAge = 24 * 3600;

struct CacheRoots {
  std::filesystem::path hf_hub_cache;
  std::filesystem::path hangar_data;  // Hangar's blob store root
};

struct SourceUsage {
  uint64_t models = 0;
  uint64_t bytes = 0;          // bytes of distinct blobs
  uint64_t managed_bytes = 0;  // of those, what Hangar may delete
};

struct PartialFile {
  std::filesystem::path path;
  uint64_t bytes = 0;
  int64_t modified = 0;  // Unix seconds
};

struct CacheUsage {
  std::map<std::string, SourceUsage> sources;  // by InstalledModel::source
  uint64_t total_bytes = 0;                    // distinct blobs of every model
  // Blobs in Hangar's store that no installed model uses.
  std::vector<PartialFile> orphan_blobs;
  std::vector<PartialFile> partials;  // every partial download, any age
  uint64_t reclaimable_bytes = 0;     // orphans + stale partials
};

// Measures `models` and scans the stores for orphans and partials.
CacheUsage MeasureCache(const std::vector<InstalledModel>& models, const CacheRoots& roots,
                        int64_t now);

struct PruneOptions {
  std::optional<uint64_t> max_size{};     // keep the total at or under this
  std::optional<int64_t> older_than_s{};  // remove what was not used for this long
  int64_t now = 0;
  std::set<std::string> keep{};  // ids never pruned (the default, loaded models)
};

struct PrunePlan {
  std::vector<InstalledModel> remove;  // least recently used first
  uint64_t freed_bytes = 0;            // managed bytes no kept model shares
  uint64_t total_before = 0;
  uint64_t total_after = 0;
  std::vector<std::string> notes;  // e.g. "kept qwen3-8b: the default model"
};

// Which models to remove: those unused for longer than older_than_s, then
// least recently used (never used counts as installed_at) until the total
// fits max_size. Only managed models count towards freeing bytes; found-in-
// place models are never pruned (they are listed in notes when max_size is
// still exceeded). InvalidArgument when neither limit is set.
Result<PrunePlan> PlanPrune(const std::vector<InstalledModel>& models, const PruneOptions& options);

struct Removal {
  std::string id;
  uint64_t freed_bytes = 0;
  std::vector<std::filesystem::path> deleted;  // files and links removed
  std::vector<std::filesystem::path> kept;     // blobs other models use, or found in place
  std::vector<std::string> notes;              // what this means for related models
};

// Removes `model` from the database and deletes its managed files whose
// blobs no other model uses (HF snapshot links and blobs, Hangar blobs,
// manifests). Unavailable when a file cannot be deleted (the row stays).
Result<Removal> RemoveModel(const InstalledModel& model, ModelDb& db);

// Deletes partial downloads (and their state files) not modified for
// `max_age` seconds. Returns what was deleted.
std::vector<PartialFile> RemoveStalePartials(const CacheRoots& roots, int64_t now,
                                             int64_t max_age = kStalePartialAge);

nlohmann::json ToJson(const CacheUsage& usage, const std::vector<InstalledModel>& models);
nlohmann::json ToJson(const PrunePlan& plan, bool dry_run);

}  // namespace hangar::store

#endif  // HANGAR_STORE_CACHE_H_
