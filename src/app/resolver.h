// Resolve: the one rule that turns what a person (or an HTTP request) names
// into the model it means. Every command and server route that takes a model
// reference calls it; nothing else decides what a reference names.
//
// Precedence, first match wins:
//   0. Refused (InvalidArgument): an empty reference, one longer than
//      kMaxRefLength bytes, one holding NUL or another control character.
//   1. A file: text spelled as a path ("file://X", "/x", "./x", "../x",
//      "~/x", "x.gguf", "." or ".."), or naming an existing regular file
//      through a folder ("models/x.bin"). kInstalled when it is an installed
//      model's primary file, else kLocalFile; NotFound when missing;
//      InvalidArgument for a directory. With allow_paths = false (remote
//      callers) any path-spelled text is refused, without touching the disk.
//   2. An installed model (state database), by its id, display name,
//      catalog id or entry id (case-insensitive): kInstalled, pulled again
//      from its own source.
//   3. A preset or catalog entry, by id or alias, for a bare word or a
//      NAME:TAG without a scheme (Catalog::FindById): kInstalled when its
//      local files are on disk, else kCatalog; pulled from the entry's own
//      source, with its known SHA-256.
//   4. Malformed references (several '/' without a scheme: NotFound as a
//      missing path; "blob://" ids of models that are gone: NotFound; others
//      InvalidArgument from fetch::ParseModelRef).
//   5. A remote source: hf://, ORG/REPO[:QUANT][@REV], hf.co/..., ollama://,
//      NAME:TAG, http(s):// URLs (fetch/model_ref.h), pulled as written:
//      kInstalled when installed under that spelling or as the catalog entry
//      with that source, else kRemote (a catalog entry with that source, if
//      any, comes along as `view`: its facts).
//   6. Anything else: NotFound naming the closest catalog id.
//
// Pure apart from stat() calls on path-like text (none for remote callers);
// thread-safe (reads an immutable snapshot).
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
  std::string sha256;  // the catalog's digest of its file, when the text named the entry
  // kRemote for a bare NAME:TAG that no installed model or catalog entry
  // has: taken to be an Ollama registry name, which may be a typo.
  bool guessed_remote = false;

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
