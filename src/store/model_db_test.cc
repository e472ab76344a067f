#include "store/model_db.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "core/status_matchers.h"

namespace hangar::store {
namespace {

namespace fs = std::filesystem;

class ModelDbTest : public testing::Test {
 protected:
  void SetUp() override {
    path_ = fs::temp_directory_path() /
            ("hangar-modeldb-" + std::to_string(getpid()) + "-" +
             testing::UnitTest::GetInstance()->current_test_info()->name() + ".db");
    fs::remove(path_);
    auto db = StateDb::Open(path_);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
  }
  void TearDown() override {
    db_.reset();
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path_.string() + suffix);
  }
  static InstalledModel Model(std::string id, std::string blob) {
    InstalledModel m;
    m.id = id;
    m.name = id;
    m.source = "hf";
    m.ref = "hf://org/repo/" + id + ".gguf";
    m.revision = "abc";
    m.primary_path = "/snap/" + id + ".gguf";
    m.size_bytes = 100;
    m.digest = std::string(64, 'a');
    m.installed_at = 1'700'000'000;
    m.metadata = {{"architecture", "qwen3"}};
    m.files.push_back({"weights", m.primary_path, blob, m.digest, 100});
    return m;
  }
  fs::path path_;
  std::unique_ptr<StateDb> db_;
};

TEST_F(ModelDbTest, PutGetListRemove) {
  ModelDb models(*db_);
  ASSERT_OK(models.Put(Model("b", "/blobs/1")));
  ASSERT_OK(models.Put(Model("a", "/blobs/2")));
  Result<std::optional<InstalledModel>> a = models.Get("a");
  ASSERT_OK(a);
  ASSERT_TRUE(a->has_value());
  EXPECT_EQ((*a)->ref, "hf://org/repo/a.gguf");
  EXPECT_EQ((*a)->metadata["architecture"], "qwen3");
  ASSERT_EQ((*a)->files.size(), 1u);
  EXPECT_EQ((*a)->files[0].blob, "/blobs/2");
  EXPECT_TRUE((*a)->managed);
  Result<std::vector<InstalledModel>> all = models.List();
  ASSERT_OK(all);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].id, "a");
  ASSERT_OK(models.Remove("a"));
  EXPECT_THAT(models.Remove("a"), StatusIs(StatusCode::kNotFound));
  EXPECT_FALSE(models.Get("a")->has_value());
  EXPECT_EQ(models.List()->size(), 1u);
}

TEST_F(ModelDbTest, TouchCountsUsesAndPutKeepsThem) {
  ModelDb models(*db_);
  ASSERT_OK(models.Put(Model("m", "/blobs/1")));
  ASSERT_OK(models.Touch("m", 1'700'000'100));
  ASSERT_OK(models.Touch("m", 1'700'000'200));
  EXPECT_THAT(models.Touch("nope", 1), StatusIs(StatusCode::kNotFound));
  InstalledModel again = Model("m", "/blobs/9");  // an update, e.g. a new revision
  ASSERT_OK(models.Put(again));
  InstalledModel m = models.Get("m")->value();
  EXPECT_EQ(m.use_count, 2);
  EXPECT_EQ(m.last_used, 1'700'000'200);
  ASSERT_EQ(m.files.size(), 1u);
  EXPECT_EQ(m.files[0].blob, "/blobs/9");  // files replaced, not appended
}

TEST_F(ModelDbTest, SharedBlobsAndPaths) {
  ModelDb models(*db_);
  ASSERT_OK(models.Put(Model("x", "/blobs/shared")));
  ASSERT_OK(models.Put(Model("y", "/blobs/shared")));
  ASSERT_OK(models.Put(Model("z", "/blobs/own")));
  EXPECT_THAT(models.ModelsUsingBlob("/blobs/shared", "x").value(), testing::ElementsAre("y"));
  EXPECT_THAT(models.ModelsUsingBlob("/blobs/own", "z").value(), testing::IsEmpty());
  Result<std::optional<InstalledModel>> by_path = models.FindByPath("/snap/y.gguf");
  ASSERT_OK(by_path);
  ASSERT_TRUE(by_path->has_value());
  EXPECT_EQ((*by_path)->id, "y");
  EXPECT_FALSE(models.FindByPath("/elsewhere")->has_value());
}

// GGUF headers are untrusted: a name that is not UTF-8 is stored, not fatal.
TEST_F(ModelDbTest, MetadataThatIsNotUtf8IsKept) {
  ModelDb models(*db_);
  InstalledModel m = Model("bad", "/blobs/1");
  m.metadata["name"] = std::string("caf\xe9 \xff\xfe", 7);
  ASSERT_OK(models.Put(m));
  ASSERT_TRUE(models.Get("bad")->has_value());
}

TEST_F(ModelDbTest, ExportHasTheSpecifiedShape) {
  ModelDb models(*db_);
  InstalledModel m = Model("qwen2.5-coder-3b-q4", "/blobs/1");
  m.catalog_id = "qwen2.5-coder-3b-q4";
  ASSERT_OK(models.Put(m));
  ASSERT_OK(models.Touch(m.id, 1'700'000'060));
  nlohmann::json doc = ExportJson(models.List().value());
  EXPECT_EQ(doc["version"], "1.0");
  ASSERT_EQ(doc["models"].size(), 1u);
  const nlohmann::json& e = doc["models"][0];
  EXPECT_EQ(e["id"], "qwen2.5-coder-3b-q4");
  EXPECT_EQ(e["path"], "/snap/qwen2.5-coder-3b-q4.gguf");
  EXPECT_EQ(e["size_bytes"], 100);
  EXPECT_EQ(e["checksum"], "sha256:" + std::string(64, 'a'));
  EXPECT_EQ(e["downloaded_at"], "2023-11-14T22:13:20Z");
  EXPECT_EQ(e["last_used"], "2023-11-14T22:14:20Z");
  EXPECT_EQ(e["use_count"], 1);
}

}  // namespace
}  // namespace hangar::store
