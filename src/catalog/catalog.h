// Catalog: the models Hangar knows by name — the built-in table plus user
// entries (presets from config.toml) — with fast lookup by id or by the other
// names people use for a model, and filtering by purpose, tag and memory.
//
// A Catalog owns its entries. Order is stable: built-in entries in table order,
// then user entries in the order they were first added; an entry whose id is
// already present replaces it in place. Lookups go through hash indexes, so
// they stay O(1) with hundreds of entries.
//
// Thread-safety: const methods may run concurrently; Upsert must not run
// concurrently with anything else on the same Catalog. Pointers and spans
// returned by a Catalog stay valid until the next Upsert on it (which may
// reallocate) or its destruction. DefaultCatalog() is immutable and lives for
// the whole process.
#ifndef HANGAR_CATALOG_CATALOG_H_
#define HANGAR_CATALOG_CATALOG_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "catalog/catalog_entry.h"
#include "core/status.h"

namespace hangar {

// Which entries Filter() keeps. Every set criterion must match; unset ones
// (nullopt, empty string, 0, false) match everything.
struct CatalogFilter {
  std::optional<Purpose> purpose;
  std::string tag;     // case-insensitive
  std::string family;  // case-insensitive, exact ("qwen3", "llama3.1")
  std::optional<ModelFormat> format;
  uint64_t max_ram_bytes = 0;   // keep entries with min_ram_bytes <= this
  uint64_t max_vram_bytes = 0;  // keep entries with min_vram_bytes <= this
  bool recommended_only = false;

  bool Matches(const CatalogEntry& entry) const;
};

class Catalog {
 public:
  Catalog() = default;
  // The built-in entries, indexed.
  static Catalog WithBuiltins();

  Catalog(const Catalog&) = default;
  Catalog& operator=(const Catalog&) = default;
  Catalog(Catalog&&) = default;
  Catalog& operator=(Catalog&&) = default;

  std::span<const CatalogEntry> entries() const { return entries_; }
  size_t size() const { return entries_.size(); }

  // The entry a reference names, or nullptr. Case-insensitive. Accepts, in
  // this order: a catalog id ("qwen2.5-coder-7b-q5"); an alias (e.g. the
  // Gemma CLI preset "gemma2-2b-it"); an Ollama name ("llama3.1:8b",
  // "ollama://library/gemma3:4b", a bare "gemma3" meaning ":latest"); a Hugging
  // Face reference "ORG/REPO:QUANT", "hf://ORG/REPO:QUANT", "ORG/REPO/FILE"
  // or "ORG/REPO" (which picks Q4_K_M, then Q8_0, then the first entry, as
  // llama.cpp's -hf does).
  const CatalogEntry* FindById(std::string_view ref) const;

  // As FindById, but NotFound when nothing matches, with the closest id as a
  // suggestion and the command that lists every id.
  Result<const CatalogEntry*> Lookup(std::string_view ref) const;

  // Entries that match, in catalog order.
  std::vector<const CatalogEntry*> Filter(const CatalogFilter& filter) const;

  // Adds `entry`, or replaces the entry with the same id (case-insensitive) in
  // place, keeping the replaced entry's spelling of the id. Derived fields are
  // filled in (FillDerivedFields). InvalidArgument when the id is empty or has
  // characters other than letters, digits, '.', '-' and '_'. Pointers from
  // this catalog are invalidated.
  Status Upsert(CatalogEntry entry);

 private:
  void IndexEntry(size_t index);
  void RebuildIndex();
  const CatalogEntry* FindKey(const std::string& key) const;

  std::vector<CatalogEntry> entries_;
  std::unordered_map<std::string, size_t> ids_;      // lowercase id -> index
  std::unordered_map<std::string, size_t> aliases_;  // lowercase name -> index
  // lowercase "org/repo" -> indexes of entries with a source in that repo.
  std::unordered_map<std::string, std::vector<size_t>> repos_;
};

// The built-in catalog, built and indexed once on first use (thread-safe),
// never modified, alive until the process exits.
const Catalog& DefaultCatalog();

// The built-in entries (DefaultCatalog().entries()): a stable array, in table
// order, never empty, ids unique.
std::span<const CatalogEntry> BuiltinCatalog();

// DefaultCatalog().FindById(ref) and DefaultCatalog().Filter(filter).
const CatalogEntry* FindById(std::string_view ref);
std::vector<const CatalogEntry*> Filter(const CatalogFilter& filter);

}  // namespace hangar

#endif  // HANGAR_CATALOG_CATALOG_H_
