#include "app/resolver.h"

#include <algorithm>
#include <system_error>

#include "core/file_util.h"
#include "core/strings.h"

namespace hangar::app {
namespace {

namespace fs = std::filesystem;

Status CheckText(std::string_view text) {
  if (text.empty()) return InvalidArgumentError("an empty model reference names nothing");
  if (text.size() > kMaxRefLength) {
    return InvalidArgumentError("a model reference of " + std::to_string(text.size()) +
                                " bytes is too long (at most " + std::to_string(kMaxRefLength) +
                                ")");
  }
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      return InvalidArgumentError(
          "a model reference may not hold control characters (NUL, newline, ...)");
    }
  }
  return Status::Ok();
}

// The installed model `text` names by id, name, catalog id or entry id, or
// whose primary file is `path` (when not empty).
const store::InstalledModel* FindRecord(const Snapshot& s, std::string_view text,
                                        const fs::path& path) {
  for (const store::InstalledModel& m : s.installed) {
    if ((!path.empty() && m.primary_path == path) || (path.empty() && NamesInstalled(m, text))) {
      return &m;
    }
  }
  return nullptr;
}

// Fills view/record/file/source of `t` from catalog entry `e`.
void FromEntry(const Snapshot& s, const CatalogEntry& e, Resolution& t) {
  t.view = s.models.View(e, s.config.default_model());
  if (t.view->record) t.record = t.view->record;
  if (t.view->installed) {
    t.kind = TargetKind::kInstalled;
    t.file = t.view->weights;
  } else {
    t.kind = TargetKind::kCatalog;
  }
  if (e.builtin) {
    if (Result<fetch::ModelRef> src = SourceOf(e); src.ok()) t.source = std::move(*src);
    for (const ModelSource& src : e.sources) {
      if (src.kind == SourceKind::kHuggingFace && !src.sha256.empty() && src.split_count <= 1) {
        t.sha256 = src.sha256;
      }
    }
  }
}

// The installed record's own source (its id is a canonical reference).
void SourceOfRecord(Resolution& t) {
  if (t.source || !t.record || !t.record->managed) return;
  Result<fetch::ModelRef> ref = fetch::ParseModelRef(t.record->id);
  if (ref.ok() && ref->kind != fetch::RefKind::kFile && ref->kind != fetch::RefKind::kCatalog) {
    t.source = std::move(*ref);
  }
}

// The catalog entry standing for installed model `m`, or null.
const CatalogEntry* EntryOfRecord(const Snapshot& s, const store::InstalledModel& m) {
  const Catalog& c = s.models.catalog();
  for (const std::string& id : {EntryIdOf(m), m.catalog_id, m.id}) {
    if (id.empty()) continue;
    if (const CatalogEntry* e = c.FindById(id)) return e;
  }
  return nullptr;
}

// `t` as installed model `m` (with the facts of the catalog entry standing
// for it). Pulled again from where it came from: its own source, no catalog
// digest (an update must not be checked against the catalog's file).
void FromRecord(const Snapshot& s, const store::InstalledModel& m, Resolution& t) {
  if (const CatalogEntry* e = EntryOfRecord(s, m)) FromEntry(s, *e, t);
  t.kind = TargetKind::kInstalled;
  t.record = m;
  if (t.file.empty()) t.file = m.primary_path;
  t.source.reset();
  t.sha256.clear();
  SourceOfRecord(t);
}

// Text that names a file by its spelling alone (no file system access).
bool LooksLikePath(std::string_view text) {
  if (text.find("://") != std::string_view::npos) return text.starts_with("file://");
  return text.starts_with("/") || text.starts_with("./") || text.starts_with("../") ||
         text.starts_with("~/") || text.ends_with(".gguf") || text.ends_with(".GGUF") ||
         text == "." || text == "..";
}

Result<Resolution> FromFile(const Snapshot& s, std::string_view text, const fs::path& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    return InvalidArgumentError(path.string() + " is a directory, not a model file");
  }
  if (!fs::is_regular_file(path, ec)) {
    return NotFoundError(path.string() + " does not exist; check the path");
  }
  Resolution t;
  t.text = std::string(text);
  const fs::path abs = AbsolutePath(path);
  if (const store::InstalledModel* m = FindRecord(s, text, abs)) {
    t.file = path;
    FromRecord(s, *m, t);
    return t;
  }
  t.kind = TargetKind::kLocalFile;
  t.file = path;
  return t;
}

}  // namespace

std::string_view TargetKindName(TargetKind kind) {
  switch (kind) {
    case TargetKind::kLocalFile:
      return "file";
    case TargetKind::kInstalled:
      return "installed";
    case TargetKind::kCatalog:
      return "catalog";
    case TargetKind::kRemote:
      return "remote";
  }
  return "remote";
}

std::string Resolution::DisplayId() const {
  if (view) return view->entry.id;
  if (!file.empty()) return file.filename().string();
  return text;
}

Result<fetch::ModelRef> SourceOf(const CatalogEntry& e) {
  for (SourceKind kind : {SourceKind::kHuggingFace, SourceKind::kOllama, SourceKind::kUrl}) {
    const ModelSource* s = e.FirstSource(kind);
    if (s == nullptr) continue;
    std::string text;
    switch (kind) {
      case SourceKind::kHuggingFace:
        text = "hf://" + s->repo + (s->file.empty() ? "" : "/" + s->file);
        break;
      case SourceKind::kOllama:
        text = "ollama://" + s->repo;
        break;
      case SourceKind::kUrl:
        text = s->repo;
        break;
    }
    return fetch::ParseModelRef(text);
  }
  return FailedPreconditionError("the catalog entry " + e.id + " names no source to pull it from");
}

Result<Resolution> Resolve(const Snapshot& s, std::string_view text,
                           const ResolveOptions& options) {
  RETURN_IF_ERROR(CheckText(text));
  const bool scheme = text.find("://") != std::string_view::npos;
  std::error_code ec;

  // 1. A file, by its spelling, or an existing file named with a folder.
  if (LooksLikePath(text)) {
    if (!options.allow_paths) {
      return InvalidArgumentError("local file paths are not accepted here; name a model");
    }
    std::string_view path = text.starts_with("file://") ? text.substr(7) : text;
    if (path.empty()) return InvalidArgumentError("'" + std::string(text) + "' names no file");
    return FromFile(s, text, fs::path(path));
  }
  if (options.allow_paths && !scheme && text.find('/') != std::string_view::npos &&
      fs::is_regular_file(fs::path(text), ec)) {
    return FromFile(s, text, fs::path(text));
  }

  Resolution t;
  t.text = std::string(text);
  // 2. An installed model.
  if (const store::InstalledModel* m = FindRecord(s, text, {})) {
    FromRecord(s, *m, t);
    return t;
  }

  // 3. A preset or catalog entry, named by id or alias: pulled from the
  // entry's own source, with its digest.
  Result<fetch::ModelRef> parsed = fetch::ParseModelRef(text);
  const bool bare_name_tag = parsed.ok() && parsed->kind == fetch::RefKind::kOllama && !scheme;
  const bool catalog_word =
      parsed.ok() && (parsed->kind == fetch::RefKind::kCatalog || bare_name_tag);
  const Catalog& catalog = s.models.catalog();
  if (catalog_word) {
    if (const CatalogEntry* e = catalog.FindById(text)) {
      FromEntry(s, *e, t);
      return t;
    }
  }

  // 4. What names nothing: a path-like text that is not there, a store id
  // of a model that is gone, a malformed reference.
  if (!parsed.ok()) {
    const bool several_slashes = !scheme && std::count(text.begin(), text.end(), '/') > 1;
    if (several_slashes && options.allow_paths) {
      return NotFoundError(std::string(text) +
                           " does not exist; check the path (a file inside a Hugging Face "
                           "repository is named hf://ORG/REPO/PATH)");
    }
    if (text.starts_with("blob://")) {
      return NotFoundError("model " + std::string(text) + " is not installed");
    }
    return parsed.status();
  }

  // 5. A remote source, pulled as written. Installed already under its
  // canonical spelling, or as the catalog entry with that source: the
  // installed model. Else a catalog entry with that source lends its facts.
  if (parsed->kind != fetch::RefKind::kCatalog) {
    if (const store::InstalledModel* m = FindRecord(s, parsed->Canonical(), {})) {
      FromRecord(s, *m, t);
      return t;
    }
    if (const CatalogEntry* e = catalog.FindById(text)) FromEntry(s, *e, t);
    if (t.kind != TargetKind::kInstalled) t.kind = TargetKind::kRemote;
    t.guessed_remote = bare_name_tag;
    t.source = std::move(*parsed);
    t.sha256.clear();
    return t;
  }

  // 6. Nothing: the catalog's suggestion.
  return catalog.Lookup(text).status();
}

}  // namespace hangar::app
