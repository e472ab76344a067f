#include "store/model_db.h"

#include <ctime>

namespace hangar::store {
namespace {

constexpr const char* kModelColumns =
    "id, name, source, ref, revision, catalog_id, format, primary_path, size_bytes, digest, "
    "managed, installed_at, last_used, use_count, metadata";

SqlValue Text(std::string_view s) { return std::string(s); }
SqlValue OptText(std::string_view s) { return s.empty() ? SqlValue{} : SqlValue{std::string(s)}; }
SqlValue Int(int64_t n) { return n; }

InstalledModel FromRow(const Row& r) {
  InstalledModel m;
  m.id = r.Text(0);
  m.name = r.Text(1);
  m.source = r.Text(2);
  m.ref = r.Text(3);
  m.revision = r.Text(4);
  m.catalog_id = r.Text(5);
  m.format = r.Text(6);
  m.primary_path = r.Text(7);
  m.size_bytes = static_cast<uint64_t>(r.Int(8));
  m.digest = r.Text(9);
  m.managed = r.Int(10) != 0;
  m.installed_at = r.Int(11);
  m.last_used = r.Int(12);
  m.use_count = r.Int(13);
  m.metadata = nlohmann::json::parse(r.Text(14), nullptr, /*allow_exceptions=*/false);
  if (m.metadata.is_discarded() || !m.metadata.is_object()) m.metadata = nlohmann::json::object();
  return m;
}

}  // namespace

Status ModelDb::Put(const InstalledModel& m) {
  return db_.Transaction([&]() -> Status {
    ASSIGN_OR_RETURN(
        std::optional<Row> old,
        db_.QueryOne("SELECT last_used, use_count FROM models WHERE id = ?", {Text(m.id)}));
    int64_t last_used = m.last_used;
    int64_t use_count = m.use_count;
    if (old) {
      if (last_used == 0) last_used = old->Int(0);
      if (use_count == 0) use_count = old->Int(1);
    }
    RETURN_IF_ERROR(db_.Exec("DELETE FROM models WHERE id = ?", {Text(m.id)}));
    const SqlValue row[] = {
        Text(m.id),
        Text(m.name),
        Text(m.source),
        Text(m.ref),
        OptText(m.revision),
        OptText(m.catalog_id),
        Text(m.format),
        Text(m.primary_path.string()),
        Int(static_cast<int64_t>(m.size_bytes)),
        OptText(m.digest),
        Int(m.managed ? 1 : 0),
        Int(m.installed_at),
        last_used == 0 ? SqlValue{} : Int(last_used),
        Int(use_count),
        Text(m.metadata.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace))};
    RETURN_IF_ERROR(db_.Exec(std::string("INSERT INTO models(") + kModelColumns +
                                 ") VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             row));
    for (const InstalledFile& f : m.files) {
      RETURN_IF_ERROR(db_.Exec(
          "INSERT OR REPLACE INTO model_files(model_id, role, path, blob, digest, size_bytes) "
          "VALUES(?, ?, ?, ?, ?, ?)",
          {Text(m.id), Text(f.role), Text(f.path.string()), Text(f.blob.string()),
           OptText(f.digest), Int(static_cast<int64_t>(f.size_bytes))}));
    }
    return Status::Ok();
  });
}

Result<std::vector<InstalledModel>> ModelDb::Select(std::string_view where,
                                                    std::initializer_list<SqlValue> params) {
  ASSIGN_OR_RETURN(std::vector<Row> rows,
                   db_.Query(std::string("SELECT ") + kModelColumns + " FROM models " +
                                 std::string(where) + " ORDER BY id",
                             params));
  std::vector<InstalledModel> models;
  models.reserve(rows.size());
  for (const Row& r : rows) models.push_back(FromRow(r));
  for (InstalledModel& m : models) {
    ASSIGN_OR_RETURN(std::vector<Row> files,
                     db_.Query("SELECT role, path, blob, digest, size_bytes FROM model_files "
                               "WHERE model_id = ? ORDER BY rowid",
                               {Text(m.id)}));
    for (const Row& f : files) {
      m.files.push_back(InstalledFile{f.Text(0), f.Text(1), f.Text(2), f.Text(3),
                                      static_cast<uint64_t>(f.Int(4))});
    }
  }
  return models;
}

Result<std::optional<InstalledModel>> ModelDb::Get(std::string_view id) {
  ASSIGN_OR_RETURN(std::vector<InstalledModel> found, Select("WHERE id = ?", {Text(id)}));
  if (found.empty()) return std::optional<InstalledModel>();
  return std::optional<InstalledModel>(std::move(found.front()));
}

Result<std::vector<InstalledModel>> ModelDb::List() { return Select("", {}); }

Status ModelDb::Remove(std::string_view id) {
  ASSIGN_OR_RETURN(int64_t n, db_.Exec("DELETE FROM models WHERE id = ?", {Text(id)}));
  if (n == 0) return NotFoundError("model " + std::string(id) + " is not installed");
  return Status::Ok();
}

Status ModelDb::Touch(std::string_view id, int64_t now) {
  ASSIGN_OR_RETURN(int64_t n, db_.Exec("UPDATE models SET last_used = ?, use_count = use_count + 1 "
                                       "WHERE id = ?",
                                       {Int(now), Text(id)}));
  if (n == 0) return NotFoundError("model " + std::string(id) + " is not installed");
  return Status::Ok();
}

Result<std::vector<std::string>> ModelDb::ModelsUsingBlob(const std::filesystem::path& blob,
                                                          std::string_view except) {
  ASSIGN_OR_RETURN(std::vector<Row> rows,
                   db_.Query("SELECT DISTINCT model_id FROM model_files "
                             "WHERE blob = ? AND model_id != ? ORDER BY model_id",
                             {Text(blob.string()), Text(except)}));
  std::vector<std::string> ids;
  for (const Row& r : rows) ids.push_back(r.Text(0));
  return ids;
}

Result<std::optional<InstalledModel>> ModelDb::FindByPath(const std::filesystem::path& path) {
  ASSIGN_OR_RETURN(
      std::vector<InstalledModel> found,
      Select("WHERE primary_path = ? OR id IN (SELECT model_id FROM model_files WHERE path = ?)",
             {Text(path.string()), Text(path.string())}));
  if (found.empty()) return std::optional<InstalledModel>();
  return std::optional<InstalledModel>(std::move(found.front()));
}

std::string Rfc3339(int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

nlohmann::json ExportJson(const std::vector<InstalledModel>& models) {
  nlohmann::json list = nlohmann::json::array();
  for (const InstalledModel& m : models) {
    nlohmann::json files = nlohmann::json::array();
    for (const InstalledFile& f : m.files) {
      files.push_back({{"role", f.role},
                       {"path", f.path.string()},
                       {"blob", f.blob.string()},
                       {"size_bytes", f.size_bytes},
                       {"checksum", f.digest.empty() ? nlohmann::json()
                                                     : nlohmann::json("sha256:" + f.digest)}});
    }
    list.push_back({
        {"id", m.id},
        {"path", m.primary_path.string()},
        {"size_bytes", m.size_bytes},
        {"checksum", m.digest.empty() ? nlohmann::json() : nlohmann::json("sha256:" + m.digest)},
        {"downloaded_at", Rfc3339(m.installed_at)},
        {"last_used", m.last_used == 0 ? nlohmann::json() : nlohmann::json(Rfc3339(m.last_used))},
        {"use_count", m.use_count},
        {"name", m.name},
        {"source", m.source},
        {"ref", m.ref},
        {"revision", m.revision},
        {"catalog_id", m.catalog_id.empty() ? nlohmann::json() : nlohmann::json(m.catalog_id)},
        {"format", m.format},
        {"managed", m.managed},
        {"files", std::move(files)},
    });
  }
  return {{"version", "1.0"}, {"models", std::move(list)}};
}

}  // namespace hangar::store
