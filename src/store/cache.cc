#include "store/cache.h"

#include <sys/stat.h>

#include <algorithm>
#include <system_error>

#include "store/blob_store.h"

namespace hangar::store {
namespace {

namespace fs = std::filesystem;

fs::path Canon(const fs::path& p) {
  std::error_code ec;
  fs::path c = fs::weakly_canonical(p, ec);
  return ec ? p : c;
}

int64_t ModifiedAt(const fs::path& p) {
  struct stat st {};
  if (::lstat(p.c_str(), &st) != 0) return 0;
  return static_cast<int64_t>(st.st_mtime);
}

bool IsPartialName(std::string_view name) {
  return name.find(".incomplete") != std::string_view::npos ||
         name.find("-partial") != std::string_view::npos;
}

std::vector<PartialFile> FindPartials(const CacheRoots& roots) {
  std::vector<PartialFile> out;
  auto scan = [&](const fs::path& dir) {
    std::error_code ec;
    for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
      const std::string name = e.path().filename().string();
      std::error_code fec;
      if (!IsPartialName(name) || !e.is_regular_file(fec)) continue;
      out.push_back({e.path(), e.file_size(fec), ModifiedAt(e.path())});
    }
  };
  if (!roots.hangar_data.empty()) scan(roots.hangar_data / "blobs");
  if (!roots.hf_hub_cache.empty()) {
    std::error_code ec;
    for (const fs::directory_entry& repo : fs::directory_iterator(roots.hf_hub_cache, ec)) {
      if (repo.path().filename().string().starts_with("models--")) scan(repo.path() / "blobs");
    }
  }
  std::sort(out.begin(), out.end(),
            [](const PartialFile& a, const PartialFile& b) { return a.path < b.path; });
  return out;
}

int64_t LastActivity(const InstalledModel& m) {
  return m.last_used > 0 ? m.last_used : m.installed_at;
}

// Distinct blobs of `models` with their sizes.
std::map<fs::path, uint64_t> BlobsOf(const std::vector<const InstalledModel*>& models) {
  std::map<fs::path, uint64_t> blobs;
  for (const InstalledModel* m : models) {
    for (const InstalledFile& f : m->files) blobs.emplace(f.blob, f.size_bytes);
  }
  return blobs;
}

uint64_t Sum(const std::map<fs::path, uint64_t>& blobs) {
  uint64_t total = 0;
  for (const auto& [_, size] : blobs) total += size;
  return total;
}

}  // namespace

CacheUsage MeasureCache(const std::vector<InstalledModel>& models, const CacheRoots& roots,
                        int64_t now) {
  CacheUsage usage;
  std::set<fs::path> all;
  std::map<std::string, std::set<fs::path>> per_source;
  for (const InstalledModel& m : models) {
    SourceUsage& s = usage.sources[m.source];
    ++s.models;
    for (const InstalledFile& f : m.files) {
      if (per_source[m.source].insert(f.blob).second) {
        s.bytes += f.size_bytes;
        if (m.managed) s.managed_bytes += f.size_bytes;
      }
      if (all.insert(f.blob).second) usage.total_bytes += f.size_bytes;
    }
  }
  std::set<fs::path> used;
  for (const fs::path& b : all) used.insert(Canon(b));
  if (!roots.hangar_data.empty()) {
    for (const BlobStore::Blob& b : BlobStore(roots.hangar_data).List()) {
      if (used.contains(Canon(b.path))) continue;
      usage.orphan_blobs.push_back({b.path, b.size, ModifiedAt(b.path)});
      usage.reclaimable_bytes += b.size;
    }
  }
  usage.partials = FindPartials(roots);
  for (const PartialFile& p : usage.partials) {
    if (now - p.modified > kStalePartialAge) usage.reclaimable_bytes += p.bytes;
  }
  return usage;
}

Result<PrunePlan> PlanPrune(const std::vector<InstalledModel>& models,
                            const PruneOptions& options) {
  if (!options.max_size && !options.older_than_s) {
    return InvalidArgumentError("prune needs --max-size SIZE or --older-than AGE (e.g. 30d)");
  }
  PrunePlan plan;
  std::vector<const InstalledModel*> kept;
  for (const InstalledModel& m : models) kept.push_back(&m);
  plan.total_before = Sum(BlobsOf(kept));

  std::vector<const InstalledModel*> candidates;
  for (const InstalledModel& m : models) {
    if (!m.managed) continue;
    if (options.keep.contains(m.id)) {
      plan.notes.push_back("kept " + m.id + ": it is the default or a loaded model");
      continue;
    }
    candidates.push_back(&m);
  }
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const InstalledModel* a, const InstalledModel* b) {
                     return LastActivity(*a) < LastActivity(*b);
                   });
  auto remove = [&](const InstalledModel* m) {
    kept.erase(std::remove(kept.begin(), kept.end(), m), kept.end());
    plan.remove.push_back(*m);
  };
  size_t next = 0;
  if (options.older_than_s) {
    const int64_t cutoff = options.now - *options.older_than_s;
    while (next < candidates.size() && LastActivity(*candidates[next]) < cutoff) {
      remove(candidates[next++]);
    }
  }
  if (options.max_size) {
    while (next < candidates.size() && Sum(BlobsOf(kept)) > *options.max_size) {
      remove(candidates[next++]);
    }
    if (Sum(BlobsOf(kept)) > *options.max_size) {
      plan.notes.push_back(
          "the cache stays above the limit: what remains is found in place (other tools' files), "
          "kept, or in use");
    }
  }
  plan.total_after = Sum(BlobsOf(kept));
  plan.freed_bytes = plan.total_before - plan.total_after;
  return plan;
}

Result<Removal> RemoveModel(const InstalledModel& model, ModelDb& db) {
  Removal out;
  out.id = model.id;
  if (model.managed) {
    for (const InstalledFile& f : model.files) {
      ASSIGN_OR_RETURN(std::vector<std::string> others, db.ModelsUsingBlob(f.blob, model.id));
      std::error_code ec;
      // A snapshot entry or manifest pointing at the blob goes either way.
      if (f.path != f.blob && fs::is_symlink(f.path, ec)) {
        fs::remove(f.path, ec);
        if (ec) return UnavailableError("cannot remove " + f.path.string() + ": " + ec.message());
        out.deleted.push_back(f.path);
      }
      if (!others.empty()) {
        out.kept.push_back(f.blob);
        continue;
      }
      if (f.path != f.blob && fs::is_regular_file(fs::symlink_status(f.path, ec))) {
        // A copy made where symlinks were refused.
        fs::remove(f.path, ec);
        out.deleted.push_back(f.path);
      }
      if (fs::exists(f.blob, ec)) {
        const uint64_t size = fs::file_size(f.blob, ec);
        if (!fs::remove(f.blob, ec) || ec) {
          return UnavailableError("cannot remove " + f.blob.string() + ": " + ec.message() +
                                  "; nothing was unregistered");
        }
        out.freed_bytes += size;
        out.deleted.push_back(f.blob);
      }
    }
    if (model.metadata.contains("manifest") && model.metadata["manifest"].is_string()) {
      const fs::path manifest = model.metadata["manifest"].get<std::string>();
      std::error_code ec;
      if (fs::remove(manifest, ec)) out.deleted.push_back(manifest);
    }
  } else {
    for (const InstalledFile& f : model.files) out.kept.push_back(f.path);
  }
  RETURN_IF_ERROR(db.Remove(model.id));
  return out;
}

std::vector<PartialFile> RemoveStalePartials(const CacheRoots& roots, int64_t now,
                                             int64_t max_age) {
  std::vector<PartialFile> removed;
  for (const PartialFile& p : FindPartials(roots)) {
    if (now - p.modified <= max_age) continue;
    std::error_code ec;
    if (fs::remove(p.path, ec)) removed.push_back(p);
  }
  return removed;
}

nlohmann::json ToJson(const CacheUsage& usage, const std::vector<InstalledModel>& models) {
  nlohmann::json sources = nlohmann::json::object();
  for (const auto& [name, s] : usage.sources) {
    sources[name] = {{"models", s.models}, {"bytes", s.bytes}, {"managed_bytes", s.managed_bytes}};
  }
  nlohmann::json list = nlohmann::json::array();
  for (const InstalledModel& m : models) {
    list.push_back(
        {{"id", m.id},
         {"source", m.source},
         {"size_bytes", m.size_bytes},
         {"managed", m.managed},
         {"last_used", m.last_used == 0 ? nlohmann::json() : nlohmann::json(Rfc3339(m.last_used))},
         {"use_count", m.use_count}});
  }
  auto files = [](const std::vector<PartialFile>& v) {
    nlohmann::json a = nlohmann::json::array();
    for (const PartialFile& p : v) {
      a.push_back(
          {{"path", p.path.string()}, {"bytes", p.bytes}, {"modified", Rfc3339(p.modified)}});
    }
    return a;
  };
  return {{"total_bytes", usage.total_bytes},
          {"reclaimable_bytes", usage.reclaimable_bytes},
          {"sources", sources},
          {"models", list},
          {"orphan_blobs", files(usage.orphan_blobs)},
          {"partials", files(usage.partials)}};
}

nlohmann::json ToJson(const PrunePlan& plan, bool dry_run) {
  nlohmann::json removed = nlohmann::json::array();
  for (const InstalledModel& m : plan.remove) {
    removed.push_back({{"id", m.id},
                       {"size_bytes", m.size_bytes},
                       {"last_used", m.last_used == 0 ? nlohmann::json()
                                                      : nlohmann::json(Rfc3339(m.last_used))}});
  }
  return {{"dry_run", dry_run},
          {"removed", removed},
          {"freed_bytes", plan.freed_bytes},
          {"total_before", plan.total_before},
          {"total_after", plan.total_after},
          {"notes", plan.notes}};
}

}  // namespace hangar::store
