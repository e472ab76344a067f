// ModelDb: the installed models and their files, rows of the state database
// (tables `models` and `model_files`, see state_db.cc for the columns).
//
// A model is one runnable thing: a GGUF file (or a split set), an Ollama
// model with its template and params layers, a repository's files. Each of
// its files has the path tools see it at (an HF snapshot entry, a file found
// in place) and the blob holding its bytes (the HF blob, Hangar's blob, or
// the file itself), so two models sharing bytes share a blob and removing
// one keeps what the other uses.
//
// Not thread-safe (it borrows one StateDb connection); errors are those of
// StateDb.
#ifndef HANGAR_STORE_MODEL_DB_H_
#define HANGAR_STORE_MODEL_DB_H_

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "store/state_db.h"

namespace hangar::store {

struct InstalledFile {
  std::string role = "weights";  // weights, template, params, system, license, projector, ...
  std::filesystem::path path;    // where tools see it
  std::filesystem::path blob;    // where its bytes are (== path for a plain file)
  std::string digest;            // lowercase hex SHA-256; empty when unknown
  uint64_t size_bytes = 0;
};

struct InstalledModel {
  std::string id;          // unique; see MakeModelId in the sources
  std::string name;        // for display
  std::string source;      // hf, ollama, url, import, or the tool it was found in
  std::string ref;         // to pull it again
  std::string revision;    // HF commit, Ollama manifest digest, ETag; may be empty
  std::string catalog_id;  // may be empty
  std::string format = "gguf";
  std::filesystem::path primary_path;  // what a runtime loads
  uint64_t size_bytes = 0;             // all files
  std::string digest;                  // of the primary file; may be empty
  bool managed = true;                 // false: found in place, Hangar never deletes it
  int64_t installed_at = 0;            // Unix seconds
  int64_t last_used = 0;               // 0: never
  int64_t use_count = 0;
  nlohmann::json metadata = nlohmann::json::object();  // GGUF summary facts
  std::vector<InstalledFile> files;
};

class ModelDb {
 public:
  explicit ModelDb(StateDb& db) : db_(db) {}

  // Inserts or replaces `model` and its files (atomically). Keeps last_used
  // and use_count of an existing row when `model` has them at 0.
  Status Put(const InstalledModel& model);
  // nullopt when no model has this id (exact match).
  Result<std::optional<InstalledModel>> Get(std::string_view id);
  // Every installed model, ordered by id.
  Result<std::vector<InstalledModel>> List();
  // NotFound when no model has this id.
  Status Remove(std::string_view id);
  // Records one use at `now`. NotFound for an unknown id.
  Status Touch(std::string_view id, int64_t now);
  // Ids of the models with a file whose blob is `blob`, other than `except`.
  Result<std::vector<std::string>> ModelsUsingBlob(const std::filesystem::path& blob,
                                                   std::string_view except = {});
  // The model whose primary path or one of whose file paths is `path`.
  Result<std::optional<InstalledModel>> FindByPath(const std::filesystem::path& path);

 private:
  Result<std::vector<InstalledModel>> Select(std::string_view where,
                                             std::initializer_list<SqlValue> params);

  StateDb& db_;
};

// The export document of specs/002 (`hangar export`):
// {"version": "1.0", "models": [{"id", "path", "size_bytes", "checksum":
//  "sha256:<hex>"|null, "downloaded_at": RFC 3339, "last_used": RFC 3339|null,
//  "use_count", "source", "ref", "revision", "files": [...]}]}
nlohmann::json ExportJson(const std::vector<InstalledModel>& models);

// "2026-01-30T21:00:00Z" for Unix seconds.
std::string Rfc3339(int64_t unix_seconds);

}  // namespace hangar::store

#endif  // HANGAR_STORE_MODEL_DB_H_
