// The models Hangar knows about, as the facade presents them: the built-in
// catalog with the user's [model_presets] merged in, each entry knowing
// whether its files are on this machine.
//
// Merging: a preset whose name is a catalog id (or alias) overrides the fields
// it sets; any other preset adds a new entry. A preset's `weights` (and
// `tokenizer`) are local files: a model with existing local files counts as
// installed.
//
// ModelIndex is immutable after construction and safe to read from any thread.
#ifndef HANGAR_APP_MODELS_H_
#define HANGAR_APP_MODELS_H_

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/catalog.h"
#include "config/model_preset.h"
#include "core/status.h"
#include "store/model_db.h"

namespace hangar::app {

// kInstalled: a model in the state database (pulled, imported or found in
// place) that is no catalog entry.
enum class ModelOrigin { kBuiltin, kPreset, kOverride, kInstalled };
std::string_view ModelOriginName(ModelOrigin origin);

struct ModelView {
  CatalogEntry entry;
  ModelOrigin origin = ModelOrigin::kBuiltin;
  // Local files (from a preset's weights/tokenizer); empty when none.
  std::filesystem::path weights;
  std::filesystem::path tokenizer;
  bool installed = false;  // every local file exists
  bool is_default = false;
  std::optional<double> avg_tokens_per_sec;  // declared by a preset
  // The state database's record when the model is installed there.
  std::optional<store::InstalledModel> record;
};

struct ListQuery {
  enum class Scope { kInstalled, kAll };
  Scope scope = Scope::kInstalled;
  CatalogFilter filter;
};

class ModelIndex {
 public:
  // The catalog `base` with the `installed` models of the state database and
  // then the `presets` merged in. An installed model that is a catalog entry
  // (catalog_id) makes that entry installed and reachable by the installed
  // id and name; any other becomes an entry of its own (its facts from
  // metadata["entry"], written when it was installed). InvalidArgument
  // naming the preset when one cannot become a catalog entry (e.g. a bad
  // purpose).
  static Result<ModelIndex> Build(Catalog base, const std::vector<ModelPreset>& presets,
                                  std::string_view config_file,
                                  const std::vector<store::InstalledModel>& installed = {});

  const Catalog& catalog() const { return catalog_; }
  // The view of an entry of catalog() (installed state looked up on disk).
  ModelView View(const CatalogEntry& entry, const std::optional<std::string>& default_id) const;

 private:
  struct Local {
    ModelOrigin origin = ModelOrigin::kBuiltin;
    std::filesystem::path weights;
    std::filesystem::path tokenizer;
    std::optional<double> avg_tokens_per_sec;
    std::shared_ptr<const store::InstalledModel> record;
  };
  Catalog catalog_;
  std::unordered_map<std::string, Local> locals_;  // by lowercase id
};

// The catalog entry of a GGUF model file: parameters, quantization,
// architecture facts and exact size from its header (those it cannot read
// stay 0). Never fails.
CatalogEntry EntryFromGgufFile(const std::filesystem::path& path, std::string_view id,
                               std::string_view name);

// A catalog-safe id for an installed model: its file name (or Ollama
// name:tag) lowercased, other characters turned into '-'
// ("qwen2.5-coder-3b-instruct-q4_k_m", "gemma2-2b").
std::string InstalledSlug(const store::InstalledModel& model);

// True when `text` names `model`: its store id, display name, catalog id or
// catalog entry id (case-insensitive).
bool NamesInstalled(const store::InstalledModel& model, std::string_view text);

// The id a person types for an installed model: its catalog entry's id
// (metadata["entry"], a short slug) when it has one, else its store id.
std::string EntryIdOf(const store::InstalledModel& model);

// The catalog entry an installed model stands for (see ModelIndex::Build).
CatalogEntry EntryForInstalled(const store::InstalledModel& model);

// The catalog entry a preset describes, starting from `base` (the entry it
// overrides) or from scratch. InvalidArgument naming the key on bad values.
Result<CatalogEntry> EntryFromPreset(const ModelPreset& preset, const CatalogEntry* base,
                                     std::string_view config_file);

// One check of `hangar validate`.
struct ValidationCheck {
  std::string name;  // "exists", "size", "gguf header", "sha256"
  bool ok = false;
  bool skipped = false;  // nothing to check against (e.g. no known digest)
  std::string detail;
};

struct ValidationReport {
  std::string id;
  std::vector<std::filesystem::path> files;
  std::vector<ValidationCheck> checks;
  bool ok() const;
};

// Validates the local files of `view`: they exist; their total size is within
// 10% of the declared size; a GGUF file's header is readable; the SHA-256
// matches when one is known. FailedPrecondition when the model has no local
// files.
Result<ValidationReport> ValidateModel(const ModelView& view);

nlohmann::json ToJson(const ModelView& view);
nlohmann::json ToJson(const ValidationReport& report);

}  // namespace hangar::app

#endif  // HANGAR_APP_MODELS_H_
