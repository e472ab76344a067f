#include "store/state_db.h"

#include <sqlite3.h>

#include <charconv>
#include <system_error>

namespace hangar::store {
namespace {

// Version 1: what is installed and small key/value state. Times are Unix
// seconds; sizes bytes; digests lowercase hex SHA-256.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE models (
  id           TEXT PRIMARY KEY,   -- e.g. hf.co/ORG/REPO:Q4_K_M, ollama.com/library/qwen3:8b
  name         TEXT NOT NULL,      -- short display name (file or model name)
  source       TEXT NOT NULL,      -- hf, ollama, url, import, or where it was found in place
  ref          TEXT NOT NULL,      -- the reference to pull it again
  revision     TEXT,               -- HF commit, Ollama manifest digest, URL ETag
  catalog_id   TEXT,               -- the catalog entry it is, when known
  format       TEXT NOT NULL DEFAULT 'gguf',
  primary_path TEXT NOT NULL,      -- the file a runtime loads (first part of a split set)
  size_bytes   INTEGER NOT NULL,   -- all its files
  digest       TEXT,               -- SHA-256 of the primary file
  managed      INTEGER NOT NULL,   -- 1: Hangar wrote the bytes; 0: found in place
  installed_at INTEGER NOT NULL,
  last_used    INTEGER,
  use_count    INTEGER NOT NULL DEFAULT 0,
  metadata     TEXT                -- JSON summary of the GGUF header
);
CREATE TABLE model_files (
  model_id   TEXT NOT NULL REFERENCES models(id) ON DELETE CASCADE,
  role       TEXT NOT NULL,        -- weights, template, params, system, license, projector, ...
  path       TEXT NOT NULL,        -- where tools see it (HF snapshot path, Ollama manifest, file)
  blob       TEXT NOT NULL,        -- where the bytes are (HF blob, Hangar blob, or the file)
  digest     TEXT,
  size_bytes INTEGER NOT NULL,
  PRIMARY KEY (model_id, path)
);
CREATE INDEX model_files_blob ON model_files(blob);
CREATE TABLE kv (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
)sql";

// Version 2: the runtime's records (usage statistics, recent requests, speed
// baselines, processes holding a loaded model); runtime/usage_store.h owns and
// documents these tables.
constexpr const char* kSchemaV2 = R"sql(
CREATE TABLE usage_stats (
  model          TEXT NOT NULL,
  backend        TEXT NOT NULL,
  uses           INTEGER NOT NULL DEFAULT 0,
  successes      INTEGER NOT NULL DEFAULT 0,
  failures       INTEGER NOT NULL DEFAULT 0,
  cancelled      INTEGER NOT NULL DEFAULT 0,
  infer_us_total INTEGER NOT NULL DEFAULT 0,
  infer_us_min   INTEGER,
  infer_us_max   INTEGER,
  infer_count    INTEGER NOT NULL DEFAULT 0,
  prompt_tokens  INTEGER NOT NULL DEFAULT 0,
  prompt_us      INTEGER NOT NULL DEFAULT 0,
  gen_tokens     INTEGER NOT NULL DEFAULT 0,
  gen_us         INTEGER NOT NULL DEFAULT 0,
  ttft_us_total  INTEGER NOT NULL DEFAULT 0,
  ttft_count     INTEGER NOT NULL DEFAULT 0,
  peak_rss       INTEGER NOT NULL DEFAULT 0,
  last_used      INTEGER,
  last_error     TEXT,
  PRIMARY KEY (model, backend)
);
CREATE TABLE usage_events (
  id            INTEGER PRIMARY KEY,
  model         TEXT NOT NULL,
  backend       TEXT NOT NULL,
  kind          TEXT NOT NULL,
  outcome       TEXT NOT NULL,
  at            INTEGER NOT NULL,
  infer_us      INTEGER NOT NULL,
  prompt_tokens INTEGER NOT NULL,
  prompt_us     INTEGER NOT NULL,
  gen_tokens    INTEGER NOT NULL,
  gen_us        INTEGER NOT NULL,
  ttft_us       INTEGER NOT NULL,
  peak_rss      INTEGER NOT NULL
);
CREATE INDEX usage_events_model ON usage_events(model, backend, id);
CREATE TABLE speed_baselines (
  model        TEXT NOT NULL,
  backend      TEXT NOT NULL,
  prompt_tps   REAL NOT NULL,
  gen_tps      REAL NOT NULL,
  load_ms      REAL NOT NULL,
  threads      INTEGER NOT NULL,
  n_gpu_layers INTEGER NOT NULL,
  measured_at  INTEGER NOT NULL,
  PRIMARY KEY (model, backend)
);
CREATE TABLE runtime_processes (
  pid          INTEGER NOT NULL,
  start_ticks  INTEGER NOT NULL,
  model        TEXT NOT NULL,
  backend      TEXT NOT NULL,
  command      TEXT NOT NULL,
  host_bytes   INTEGER NOT NULL,
  gpu_bytes    INTEGER NOT NULL,
  n_ctx        INTEGER NOT NULL,
  n_gpu_layers INTEGER NOT NULL,
  loaded_at    INTEGER NOT NULL,
  last_used    INTEGER NOT NULL,
  idle_until   INTEGER NOT NULL,
  PRIMARY KEY (pid, model)
);
)sql";

constexpr Migration kMigrations[] = {
    {1, kSchemaV1},
    {2, kSchemaV2},
};

constexpr int kBusyTimeoutMs = 10000;

// "`SQL`" for messages (appended piecewise: GCC 12 at -O3 warns wrongly
// about `"x" + std::string(...)`).
std::string Quoted(std::string_view sql) {
  std::string q;
  q.reserve(sql.size() + 2);
  q += '`';
  q.append(sql);
  q += '`';
  return q;
}

}  // namespace

std::span<const Migration> Migrations() { return kMigrations; }

int64_t Row::Int(size_t i) const {
  const SqlValue& v = values_.at(i);
  if (const auto* n = std::get_if<int64_t>(&v)) return *n;
  if (const auto* d = std::get_if<double>(&v)) return static_cast<int64_t>(*d);
  if (const auto* s = std::get_if<std::string>(&v)) {
    int64_t n = 0;
    std::from_chars(s->data(), s->data() + s->size(), n);
    return n;
  }
  return 0;
}

double Row::Real(size_t i) const {
  const SqlValue& v = values_.at(i);
  if (const auto* d = std::get_if<double>(&v)) return *d;
  if (const auto* n = std::get_if<int64_t>(&v)) return static_cast<double>(*n);
  return 0;
}

std::string Row::Text(size_t i) const {
  const SqlValue& v = values_.at(i);
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* n = std::get_if<int64_t>(&v)) return std::to_string(*n);
  if (const auto* d = std::get_if<double>(&v)) return std::to_string(*d);
  return "";
}

Result<std::unique_ptr<StateDb>> StateDb::Open(const std::filesystem::path& path,
                                               std::span<const Migration> migrations) {
  std::error_code ec;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) {
    return UnavailableError("cannot create " + path.parent_path().string() + ": " + ec.message());
  }
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  std::unique_ptr<StateDb> db(new StateDb(raw, path));
  if (rc != SQLITE_OK) return db->Error(rc, "cannot open");
  sqlite3_busy_timeout(raw, kBusyTimeoutMs);
  // WAL: readers never wait for the writer; NORMAL sync is durable at every
  // checkpoint and never corrupts (a power loss may drop the last commits).
  for (const char* pragma :
       {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA foreign_keys=ON"}) {
    Result<std::vector<Row>> r = db->Query(pragma);
    if (!r.ok()) return r.status();
  }
  RETURN_IF_ERROR(db->Migrate(migrations));
  return db;
}

StateDb::~StateDb() {
  if (db_ != nullptr) sqlite3_close_v2(db_);
}

Status StateDb::Error(int rc, std::string_view what) const {
  std::string message = std::string(what) + " " + path_.string() + ": " +
                        (db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc));
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return UnavailableError(message + "; another hangar process holds the state database, retry");
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return DataLossError(message +
                           "; move the file away and run `hangar discover` to rebuild it");
    case SQLITE_FULL:
      return ResourceExhaustedError(message + "; free disk space");
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
      return UnavailableError(message);
    case SQLITE_CONSTRAINT:
      return AlreadyExistsError(message);
    default:
      return InternalError(message);
  }
}

Status StateDb::Migrate(std::span<const Migration> migrations) {
  ASSIGN_OR_RETURN(std::optional<Row> row, QueryOne("PRAGMA user_version", {}));
  version_ = row ? static_cast<int>(row->Int(0)) : 0;
  const int latest = migrations.empty() ? 0 : migrations.back().version;
  if (version_ > latest) {
    return FailedPreconditionError("the state database " + path_.string() + " has schema version " +
                                   std::to_string(version_) + ", newer than this hangar's " +
                                   std::to_string(latest) + "; use the newer hangar that wrote it");
  }
  for (const Migration& m : migrations) {
    if (m.version <= version_) continue;
    Status s = Transaction([&]() -> Status {
      // Another process may have migrated between our read and our lock.
      ASSIGN_OR_RETURN(std::optional<Row> now, QueryOne("PRAGMA user_version", {}));
      if (now && now->Int(0) >= m.version) return Status::Ok();
      char* err = nullptr;
      const int rc = sqlite3_exec(db_, m.sql, nullptr, nullptr, &err);
      if (rc != SQLITE_OK) {
        Status e = Error(rc, "schema version " + std::to_string(m.version) + " failed on");
        if (err != nullptr) sqlite3_free(err);
        return e;
      }
      return Exec("PRAGMA user_version = " + std::to_string(m.version)).status();
    });
    RETURN_IF_ERROR(s);
    version_ = m.version;
  }
  return Status::Ok();
}

Result<sqlite3_stmt*> StateDb::Prepare(std::string_view sql, std::span<const SqlValue> params) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) return Error(rc, "cannot prepare " + Quoted(sql) + " on");
  if (static_cast<size_t>(sqlite3_bind_parameter_count(stmt)) != params.size()) {
    sqlite3_finalize(stmt);
    return InternalError(Quoted(sql) + " takes " +
                         std::to_string(sqlite3_bind_parameter_count(stmt)) + " parameters, " +
                         std::to_string(params.size()) + " given");
  }
  for (size_t i = 0; i < params.size(); ++i) {
    const int at = static_cast<int>(i + 1);
    const SqlValue& v = params[i];
    if (const auto* n = std::get_if<int64_t>(&v)) {
      rc = sqlite3_bind_int64(stmt, at, *n);
    } else if (const auto* d = std::get_if<double>(&v)) {
      rc = sqlite3_bind_double(stmt, at, *d);
    } else if (const auto* s = std::get_if<std::string>(&v)) {
      rc = sqlite3_bind_text(stmt, at, s->data(), static_cast<int>(s->size()), SQLITE_TRANSIENT);
    } else {
      rc = sqlite3_bind_null(stmt, at);
    }
    if (rc != SQLITE_OK) {
      sqlite3_finalize(stmt);
      return Error(rc, "cannot bind a parameter on");
    }
  }
  return stmt;
}

Result<int64_t> StateDb::Exec(std::string_view sql, std::span<const SqlValue> params) {
  ASSIGN_OR_RETURN(sqlite3_stmt * stmt, Prepare(sql, params));
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
  }
  sqlite3_finalize(stmt);
  if (rc != SQLITE_DONE) return Error(rc, Quoted(sql) + " failed on");
  return static_cast<int64_t>(sqlite3_changes64(db_));
}

Result<std::vector<Row>> StateDb::Query(std::string_view sql, std::span<const SqlValue> params) {
  ASSIGN_OR_RETURN(sqlite3_stmt * stmt, Prepare(sql, params));
  std::vector<Row> rows;
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    const int n = sqlite3_column_count(stmt);
    std::vector<SqlValue> values;
    values.reserve(n);
    for (int i = 0; i < n; ++i) {
      switch (sqlite3_column_type(stmt, i)) {
        case SQLITE_INTEGER:
          values.emplace_back(static_cast<int64_t>(sqlite3_column_int64(stmt, i)));
          break;
        case SQLITE_FLOAT:
          values.emplace_back(sqlite3_column_double(stmt, i));
          break;
        case SQLITE_NULL:
          values.emplace_back(std::monostate{});
          break;
        default: {
          const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, i));
          values.emplace_back(
              std::string(text ? text : "", static_cast<size_t>(sqlite3_column_bytes(stmt, i))));
        }
      }
    }
    rows.emplace_back(std::move(values));
  }
  sqlite3_finalize(stmt);
  if (rc != SQLITE_DONE) return Error(rc, Quoted(sql) + " failed on");
  return rows;
}

Result<std::optional<Row>> StateDb::QueryOne(std::string_view sql,
                                             std::initializer_list<SqlValue> params) {
  ASSIGN_OR_RETURN(std::vector<Row> rows, Query(sql, params));
  if (rows.empty()) return std::optional<Row>();
  return std::optional<Row>(std::move(rows.front()));
}

Status StateDb::Transaction(const std::function<Status()>& body) {
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE").status());
  Status s = body();
  if (s.ok()) s = Exec("COMMIT").status();
  if (!s.ok()) (void)Exec("ROLLBACK");
  return s;
}

Result<std::optional<std::string>> StateDb::Get(std::string_view key) {
  ASSIGN_OR_RETURN(std::optional<Row> row,
                   QueryOne("SELECT value FROM kv WHERE key = ?", {std::string(key)}));
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(row->Text(0));
}

Status StateDb::Put(std::string_view key, std::string_view value) {
  return Exec(
             "INSERT INTO kv(key, value) VALUES(?, ?) "
             "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
             {std::string(key), std::string(value)})
      .status();
}

Result<int64_t> StateDb::DataVersion() {
  ASSIGN_OR_RETURN(std::optional<Row> row, QueryOne("PRAGMA data_version", {}));
  return row ? row->Int(0) : 0;
}

Status StateDb::Erase(std::string_view key) {
  return Exec("DELETE FROM kv WHERE key = ?", {std::string(key)}).status();
}

}  // namespace hangar::store
