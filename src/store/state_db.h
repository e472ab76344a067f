// StateDb: Hangar's state database, one SQLite file (`<data_dir>/state.db`)
// in WAL mode, shared by every hangar process on the machine.
//
// It holds what is installed (models and their files), small key/value state
// (the current model, ...), and whatever later modules register as
// migrations (usage statistics, download jobs). The schema is versioned by
// `PRAGMA user_version`: Open() applies, in one transaction each, every
// migration whose number is above the file's version, so an old file is
// upgraded in place and a newer file than this binary knows is refused.
//
// Concurrency: SQLite serialises writers across processes; Open() sets a busy
// timeout so a second process waits instead of failing. One StateDb (one
// connection) must not be used by two threads at once: give each thread its
// own, or guard it. Statements are prepared per call (the database is small;
// clarity wins over caching).
//
// Errors: every call returns Unavailable when the database is locked beyond
// the busy timeout or the disk fails, DataLoss when the file is not a
// database or is corrupt, Internal for an SQL error (a bug), each naming the
// file.
#ifndef HANGAR_STORE_STATE_DB_H_
#define HANGAR_STORE_STATE_DB_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace hangar::store {

// One schema step: `sql` (several statements allowed) takes the database
// from version `version - 1` to `version`.
struct Migration {
  int version;
  const char* sql;
};

// The migrations of this binary, in order (state_db.cc).
std::span<const Migration> Migrations();

// A value bound to a statement parameter or read from a column.
using SqlValue = std::variant<std::monostate, int64_t, double, std::string>;

// One result row: columns in SELECT order.
class Row {
 public:
  explicit Row(std::vector<SqlValue> values) : values_(std::move(values)) {}
  size_t size() const { return values_.size(); }
  bool IsNull(size_t i) const { return std::holds_alternative<std::monostate>(values_.at(i)); }
  // NULL reads as 0 / "" ; a text column read as a number is parsed by SQLite
  // rules at query time, so callers read each column as its declared type.
  int64_t Int(size_t i) const;
  double Real(size_t i) const;
  std::string Text(size_t i) const;

 private:
  std::vector<SqlValue> values_;
};

class StateDb {
 public:
  // Opens (creating when missing, with its folder) the database at `path` and
  // brings its schema up to date. FailedPrecondition when the file's schema
  // is newer than this binary's; DataLoss for a file that is not a database.
  static Result<std::unique_ptr<StateDb>> Open(
      const std::filesystem::path& path, std::span<const Migration> migrations = Migrations());
  ~StateDb();
  StateDb(const StateDb&) = delete;
  StateDb& operator=(const StateDb&) = delete;

  const std::filesystem::path& path() const { return path_; }
  int schema_version() const { return version_; }

  // Runs one statement with `params` bound to its `?` placeholders in order.
  // Returns the number of rows changed.
  Result<int64_t> Exec(std::string_view sql, std::span<const SqlValue> params = {});
  Result<int64_t> Exec(std::string_view sql, std::initializer_list<SqlValue> params) {
    return Exec(sql, std::span<const SqlValue>(params.begin(), params.size()));
  }
  // Runs a query and returns every row.
  Result<std::vector<Row>> Query(std::string_view sql, std::span<const SqlValue> params = {});
  Result<std::vector<Row>> Query(std::string_view sql, std::initializer_list<SqlValue> params) {
    return Query(sql, std::span<const SqlValue>(params.begin(), params.size()));
  }
  // The first row of a query, or nullopt when it returns none.
  Result<std::optional<Row>> QueryOne(std::string_view sql, std::initializer_list<SqlValue> params);

  // Runs `body` inside BEGIN IMMEDIATE ... COMMIT; a non-OK Status from
  // `body` (or a failed COMMIT) rolls everything back and is returned.
  // Not re-entrant: `body` must not call Transaction().
  Status Transaction(const std::function<Status()>& body);

  // Small key/value state (table `kv`): the current model, settings.
  Result<std::optional<std::string>> Get(std::string_view key);
  Status Put(std::string_view key, std::string_view value);
  Status Erase(std::string_view key);

  // SQLite's `PRAGMA data_version` of this connection: it changes whenever
  // another connection (of this process or another) commits a change, and
  // never for this connection's own commits. A watcher polls it to see that
  // the database changed without reading any table.
  Result<int64_t> DataVersion();

 private:
  StateDb(sqlite3* db, std::filesystem::path path) : db_(db), path_(std::move(path)) {}
  Status Migrate(std::span<const Migration> migrations);
  Status Error(int rc, std::string_view what) const;
  Result<sqlite3_stmt*> Prepare(std::string_view sql, std::span<const SqlValue> params);

  sqlite3* db_ = nullptr;
  std::filesystem::path path_;
  int version_ = 0;
};

}  // namespace hangar::store

#endif  // HANGAR_STORE_STATE_DB_H_
