#include "store/state_db.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "core/status_matchers.h"

namespace hangar::store {
namespace {

namespace fs = std::filesystem;
using testing::HasSubstr;

class StateDbTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        fs::temp_directory_path() / ("hangar-statedb-" + std::to_string(getpid()) + "-" +
                                     testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path db_path() const { return dir_ / "sub" / "state.db"; }
  fs::path dir_;
};

TEST_F(StateDbTest, CreatesFolderAndSchemaInWalMode) {
  Result<std::unique_ptr<StateDb>> db = StateDb::Open(db_path());
  ASSERT_OK(db);
  EXPECT_TRUE(fs::exists(db_path()));
  EXPECT_EQ((*db)->schema_version(), Migrations().back().version);
  Result<std::optional<Row>> mode = (*db)->QueryOne("PRAGMA journal_mode", {});
  ASSERT_OK(mode);
  EXPECT_EQ((*mode)->Text(0), "wal");
  Result<std::vector<Row>> tables =
      (*db)->Query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
  ASSERT_OK(tables);
  std::vector<std::string> names;
  for (const Row& r : *tables) names.push_back(r.Text(0));
  EXPECT_THAT(names, testing::IsSupersetOf({"kv", "model_files", "models"}));
}

TEST_F(StateDbTest, KeyValueRoundTripAcrossReopen) {
  {
    auto db = StateDb::Open(db_path());
    ASSERT_OK(db);
    EXPECT_OK((*db)->Put("current_model", "qwen3-8b"));
    EXPECT_OK((*db)->Put("current_model", "gemma3-4b"));  // overwrite
    EXPECT_OK((*db)->Put("other", "x"));
    EXPECT_OK((*db)->Erase("other"));
  }
  auto db = StateDb::Open(db_path());
  ASSERT_OK(db);
  Result<std::optional<std::string>> v = (*db)->Get("current_model");
  ASSERT_OK(v);
  EXPECT_EQ(v->value_or(""), "gemma3-4b");
  Result<std::optional<std::string>> gone = (*db)->Get("other");
  ASSERT_OK(gone);
  EXPECT_FALSE(gone->has_value());
}

TEST_F(StateDbTest, ParametersAndTypedColumns) {
  auto db = StateDb::Open(db_path());
  ASSERT_OK(db);
  ASSERT_OK((*db)->Exec("CREATE TABLE t(a INTEGER, b REAL, c TEXT, d TEXT)"));
  Result<int64_t> changed = (*db)->Exec("INSERT INTO t VALUES(?, ?, ?, ?)",
                                        {int64_t{1} << 40, 2.5, std::string("it's"), SqlValue{}});
  ASSERT_OK(changed);
  EXPECT_EQ(*changed, 1);
  auto row = (*db)->QueryOne("SELECT a, b, c, d FROM t WHERE c = ?", {std::string("it's")});
  ASSERT_OK(row);
  ASSERT_TRUE(row->has_value());
  EXPECT_EQ((*row)->Int(0), int64_t{1} << 40);
  EXPECT_DOUBLE_EQ((*row)->Real(1), 2.5);
  EXPECT_EQ((*row)->Text(2), "it's");
  EXPECT_TRUE((*row)->IsNull(3));
  EXPECT_THAT((*db)->Exec("INSERT INTO t VALUES(?)", {int64_t{1}}),
              StatusIs(StatusCode::kInternal));  // wrong parameter count
  EXPECT_THAT((*db)->Query("SELEKT 1"), StatusIs(StatusCode::kInternal));
}

TEST_F(StateDbTest, TransactionRollsBackOnError) {
  auto db = StateDb::Open(db_path());
  ASSERT_OK(db);
  StateDb& d = **db;
  Status s = d.Transaction([&]() -> Status {
    RETURN_IF_ERROR(d.Put("a", "1"));
    return DataLossError("boom");
  });
  EXPECT_THAT(s, StatusIs(StatusCode::kDataLoss));
  auto a = d.Get("a");
  ASSERT_OK(a);
  EXPECT_FALSE(a->has_value());
  EXPECT_OK(d.Transaction([&] { return d.Put("a", "2"); }));
  EXPECT_EQ(d.Get("a")->value_or(""), "2");
}

TEST_F(StateDbTest, ForeignKeysCascade) {
  auto db = StateDb::Open(db_path());
  ASSERT_OK(db);
  StateDb& d = **db;
  ASSERT_OK(d.Exec(
      "INSERT INTO models(id, name, source, ref, primary_path, size_bytes, managed, installed_at) "
      "VALUES('m', 'm', 'url', 'https://x/m.gguf', '/m.gguf', 1, 1, 0)"));
  ASSERT_OK(
      d.Exec("INSERT INTO model_files(model_id, role, path, blob, size_bytes) "
             "VALUES('m', 'weights', '/m.gguf', '/m.gguf', 1)"));
  EXPECT_THAT(d.Exec("INSERT INTO model_files(model_id, role, path, blob, size_bytes) "
                     "VALUES('nope', 'weights', '/n', '/n', 1)"),
              StatusIs(StatusCode::kAlreadyExists));  // constraint
  ASSERT_OK(d.Exec("DELETE FROM models WHERE id = 'm'"));
  EXPECT_TRUE(d.Query("SELECT * FROM model_files")->empty());
}

TEST_F(StateDbTest, MigratesAnOldFileAndRefusesANewerOne) {
  const Migration v1[] = {{1, "CREATE TABLE kv(key TEXT PRIMARY KEY, value TEXT NOT NULL);"}};
  const Migration v2[] = {{1, "CREATE TABLE kv(key TEXT PRIMARY KEY, value TEXT NOT NULL);"},
                          {2, "CREATE TABLE extra(x INTEGER); INSERT INTO extra VALUES(7);"}};
  {
    auto db = StateDb::Open(db_path(), v1);
    ASSERT_OK(db);
    EXPECT_EQ((*db)->schema_version(), 1);
    ASSERT_OK((*db)->Put("kept", "yes"));
  }
  {
    auto db = StateDb::Open(db_path(), v2);
    ASSERT_OK(db);
    EXPECT_EQ((*db)->schema_version(), 2);
    EXPECT_EQ((*db)->Get("kept")->value_or(""), "yes");
    EXPECT_EQ((*db)->QueryOne("SELECT x FROM extra", {}).value()->Int(0), 7);
  }
  Result<std::unique_ptr<StateDb>> old = StateDb::Open(db_path(), v1);
  EXPECT_THAT(old, StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_THAT(old, StatusHasMessage(HasSubstr("newer")));
}

TEST_F(StateDbTest, AFailedMigrationLeavesTheOldVersion) {
  const Migration bad[] = {{1, "CREATE TABLE kv(key TEXT PRIMARY KEY, value TEXT NOT NULL);"},
                           {2, "CREATE TABLE y(a); THIS IS NOT SQL;"}};
  EXPECT_THAT(StateDb::Open(db_path(), bad), StatusIs(StatusCode::kInternal));
  const Migration good[] = {bad[0]};
  auto db = StateDb::Open(db_path(), good);
  ASSERT_OK(db);
  EXPECT_EQ((*db)->schema_version(), 1);
  EXPECT_TRUE((*db)->Query("SELECT name FROM sqlite_master WHERE name = 'y'")->empty());
}

TEST_F(StateDbTest, NotADatabaseIsDataLoss) {
  fs::create_directories(db_path().parent_path());
  std::ofstream(db_path()) << std::string(4096, 'x');
  Result<std::unique_ptr<StateDb>> db = StateDb::Open(db_path());
  EXPECT_THAT(db, StatusIs(StatusCode::kDataLoss));
  EXPECT_THAT(db, StatusHasMessage(HasSubstr(db_path().string())));
}

// Two connections (as two processes would have) writing at once both succeed:
// the busy timeout makes the second wait for the first.
TEST_F(StateDbTest, ConcurrentWritersWait) {
  ASSERT_OK(StateDb::Open(db_path()));
  auto writer = [&](const std::string& prefix, Status* out) {
    auto db = StateDb::Open(db_path());
    if (!db.ok()) {
      *out = db.status();
      return;
    }
    for (int i = 0; i < 200; ++i) {
      Status s = (*db)->Transaction([&] { return (*db)->Put(prefix + std::to_string(i), "v"); });
      if (!s.ok()) {
        *out = s;
        return;
      }
    }
  };
  Status a, b;
  std::thread ta(writer, "a", &a), tb(writer, "b", &b);
  ta.join();
  tb.join();
  EXPECT_OK(a);
  EXPECT_OK(b);
  auto db = StateDb::Open(db_path());
  ASSERT_OK(db);
  EXPECT_EQ((*db)->QueryOne("SELECT COUNT(*) FROM kv", {}).value()->Int(0), 400);
}

}  // namespace
}  // namespace hangar::store
