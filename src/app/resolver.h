// Resolve: the one rule that turns what a person (or an HTTP request) names
// into the model it means. Every command and server route that takes a model
// reference calls it; nothing else decides what a reference names.
//
// Precedence, first match wins:
//   0. Refused (InvalidArgument): an empty reference, one longer than
//      kMaxRefLength bytes, one holding NUL or another control character,
//      and (with allow_paths = false, as the server asks) any file path.
//   1. A file: "file://PATH", or text naming an existing regular file.
//      kInstalled when it is an installed model's primary file, else
//      kLocalFile. "file://" of a missing file is NotFound; a directory is
//      InvalidArgument.
//   2. An installed model (state database), by its id, display name,
//      catalog id or entry id (case-insensitive): kInstalled.
//   3. A preset or catalog entry, by id or alias, for a bare word or a
//      NAME:TAG without a scheme (Catalog::FindById): kInstalled when its
//      local files (or those of the installed model standing for it) are on
//      disk, else kCatalog (pulled from the entry's own source, with its
//      known SHA-256).
//   4. Text that looks like a path ("/x", "./x", "../x", "~/x", "x.gguf",
//      or several '/') and did not match above: NotFound "... does not exist".
//   5. A remote source: hf://, ORG/REPO[:QUANT][@REV], hf.co/..., ollama://,
//      NAME:TAG, http(s):// URLs (fetch/model_ref.h): kRemote. A catalog
//      entry with that source, if any, comes along as `view` (its facts).
//   6. Anything else: NotFound naming the closest catalog id ("blob://..."
//      ids of models copied into Hangar's store that are gone: NotFound).
//
// Pure apart from stat() calls on paths; thread-safe (reads an immutable
// snapshot).
#ifndef HANGAR_APP_RESOLVER_H_
#define HANGAR_APP_RESOLVER_H_

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "app/models.h"
#include "app/snapshot.h"
#include "core/status.h"
#include "fetch/model_ref.h"
#include "store/model_db.h"

namespace hangar::app {

inline constexpr size_t kMaxRefLength = 2048;

enum class TargetKind { kLocalFile, kInstalled, kCatalog, kRemote };
std::string_view TargetKindName(TargetKind kind);  // "file", "installed", "catalog", "remote"

struct Resolution {
  TargetKind kind = TargetKind::kRemote;
  std::string text;  // as given
  // The local GGUF file (absolute): kLocalFile, and kInstalled with local
  // weights. Empty otherwise.
  std::filesystem::path file;
  // The entry named (kInstalled, kCatalog) or matched by source (kRemote).
  std::optional<ModelView> view;
  // The state database's record, for a model installed there.
  std::optional<store::InstalledModel> record;
  // Where a pull fetches it (kRemote; kCatalog and kInstalled with a known
  // source). Unset for a local file.
  std::optional<fetch::ModelRef> source;
  std::string sha256;  // the catalog's digest of its single file, if known

  // The id to show: the entry id, else the file name, else the text.
  std::string DisplayId() const;
};

struct ResolveOptions {
  bool allow_paths = true;  // false: local paths are refused (remote callers)
};

Result<Resolution> Resolve(const Snapshot& snapshot, std::string_view text,
                           const ResolveOptions& options = {});

// The source a catalog entry is pulled from: its first Hugging Face file,
// else its Ollama tag, else its URL. FailedPrecondition when it has none.
Result<fetch::ModelRef> SourceOf(const CatalogEntry& entry);

}  // namespace hangar::app

#endif  // HANGAR_APP_RESOLVER_H_
