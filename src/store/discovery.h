// Discovery: GGUF models already on this machine, found where other tools
// keep them and registered in place (never copied, never deleted by Hangar).
//
// Where it looks (each root optional; a missing folder finds nothing):
//   hf        the Hugging Face cache: snapshot entries of *.gguf models
//             (part 1 of a split set stands for the set); id
//             "hf://ORG/REPO/PATH", revision the snapshot's commit
//   ollama    Ollama's store: manifests/{host}/{ns}/{name}/{tag}, the layer
//             of media type application/vnd.ollama.image.model is the GGUF;
//             template/params/system/license/projector layers are its files
//             too; id "ollama://NAME:TAG" (with NS/ or HOST/NS/ when not the
//             defaults)
//   lmstudio  {root}/{publisher}/{model}/*.gguf
//   llama.cpp the llama.cpp cache folder (*.gguf; newer llama.cpp uses the
//             HF cache, found above)
//   gpt4all   the GPT4All folder (*.gguf)
//   folder    each folder listed in config, searched recursively
// Plain files get the id "file://{absolute path}". Each model's GGUF header
// is read with Hangar's reader for its metadata (architecture, parameters,
// quantization, context); a file whose header is unreadable is skipped with
// the reason, not registered.
//
// Pure with respect to the state database: Discover() returns models; the
// caller records them. Thread-safe (reads files only).
#ifndef HANGAR_STORE_DISCOVERY_H_
#define HANGAR_STORE_DISCOVERY_H_

#include <filesystem>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "core/status.h"
#include "store/model_db.h"

namespace hangar::store {

struct DiscoveryRoots {
  std::filesystem::path hf_hub_cache;
  std::filesystem::path ollama_models;
  std::vector<std::filesystem::path> lmstudio_models;  // current and legacy folders
  std::filesystem::path llama_cache;
  std::filesystem::path gpt4all_models;
  std::vector<std::filesystem::path> folders;
};

struct DiscoverySkip {
  std::filesystem::path path;
  std::string reason;
};

struct DiscoveryReport {
  std::vector<InstalledModel> models;  // managed = false, installed_at = now
  std::vector<DiscoverySkip> skipped;
};

// Scans every root. `catalog` (may be null) names the catalog entry a file
// is, by its Hugging Face repository and file or Ollama name:tag.
DiscoveryReport Discover(const DiscoveryRoots& roots, const Catalog* catalog, int64_t now);

// The metadata Hangar keeps of a GGUF model (the header summary's facts):
// {"architecture", "name", "parameters", "quantization", "context_length",
//  "layers", "parts"}. DataLoss/InvalidArgument/NotFound from the reader.
Result<nlohmann::json> GgufMetadata(const std::filesystem::path& path);

// The catalog entry with a Hugging Face source (repo, file) or an Ollama
// source "name:tag" equal to the given one (case-insensitive; for Ollama
// also a catalog id or alias equal to it), or nullptr.
const CatalogEntry* MatchCatalogHf(const Catalog& catalog, std::string_view repo,
                                   std::string_view file);
const CatalogEntry* MatchCatalogOllama(const Catalog& catalog, std::string_view name_tag);

// Ollama's media types (manifest layers) and the role Hangar gives each.
inline constexpr std::string_view kOllamaModelMediaType = "application/vnd.ollama.image.model";
// "weights" for the model layer, "template", "params", "system", "license",
// "projector", "adapter", "messages" for the others; "other" otherwise.
std::string OllamaLayerRole(std::string_view media_type);

}  // namespace hangar::store

#endif  // HANGAR_STORE_DISCOVERY_H_
