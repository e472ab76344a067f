#include "store/cache.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <utime.h>

#include "core/file_util.h"
#include "core/status_matchers.h"
#include "gguf/test_util.h"
#include "store/blob_store.h"
#include "store/hf_cache.h"

namespace hangar::store {
namespace {

namespace fs = std::filesystem;
using gguf::testing::TempDir;

constexpr int64_t kNow = 1'800'000'000;
constexpr int64_t kDay = 86400;

InstalledModel Model(std::string id, std::vector<std::pair<fs::path, uint64_t>> blobs,
                     int64_t last_used, bool managed = true) {
  InstalledModel m;
  m.id = id;
  m.name = id;
  m.source = managed ? "hf" : "lmstudio";
  m.managed = managed;
  m.installed_at = kNow - 100 * kDay;
  m.last_used = last_used;
  for (auto& [blob, size] : blobs) {
    m.files.push_back({"weights", blob, blob, "", size});
    m.size_bytes += size;
  }
  m.primary_path = m.files.front().path;
  return m;
}

std::vector<std::string> Ids(const std::vector<InstalledModel>& v) {
  std::vector<std::string> ids;
  for (const InstalledModel& m : v) ids.push_back(m.id);
  return ids;
}

TEST(CacheTest, PruneByAgeThenLeastRecentlyUsed) {
  const std::vector<InstalledModel> models = {
      Model("old", {{"/b/1", 100}}, kNow - 40 * kDay),
      Model("mid", {{"/b/2", 100}}, kNow - 10 * kDay),
      Model("new", {{"/b/3", 100}}, kNow - 1 * kDay),
      Model("never", {{"/b/4", 100}}, 0),  // installed 100 days ago, never used
      Model("found", {{"/b/5", 100}}, kNow - 90 * kDay, /*managed=*/false),
  };
  Result<PrunePlan> by_age = PlanPrune(models, {.older_than_s = 30 * kDay, .now = kNow});
  ASSERT_OK(by_age);
  EXPECT_THAT(Ids(by_age->remove), testing::ElementsAre("never", "old"));
  EXPECT_EQ(by_age->freed_bytes, 200u);

  Result<PrunePlan> by_size = PlanPrune(models, {.max_size = 250, .now = kNow});
  ASSERT_OK(by_size);
  // 500 bytes, 100 of them found in place: three LRU managed models go.
  EXPECT_THAT(Ids(by_size->remove), testing::ElementsAre("never", "old", "mid"));
  EXPECT_EQ(by_size->total_before, 500u);
  EXPECT_EQ(by_size->total_after, 200u);

  Result<PrunePlan> keep =
      PlanPrune(models, {.max_size = 250, .now = kNow, .keep = {"never", "old"}});
  ASSERT_OK(keep);
  EXPECT_THAT(Ids(keep->remove), testing::ElementsAre("mid", "new"));
  EXPECT_EQ(keep->notes.size(), 3u);  // two kept, and the limit is still exceeded

  EXPECT_THAT(PlanPrune(models, {.now = kNow}), StatusIs(StatusCode::kInvalidArgument));
}

TEST(CacheTest, SharedBlobsAreFreedOnlyWithTheirLastModel) {
  const std::vector<InstalledModel> models = {
      Model("a", {{"/b/shared", 100}}, kNow - 50 * kDay),
      Model("b", {{"/b/shared", 100}}, kNow - 1 * kDay),
  };
  Result<PrunePlan> plan = PlanPrune(models, {.older_than_s = 30 * kDay, .now = kNow});
  ASSERT_OK(plan);
  EXPECT_THAT(Ids(plan->remove), testing::ElementsAre("a"));
  EXPECT_EQ(plan->freed_bytes, 0u);  // b still uses the blob
  EXPECT_EQ(plan->total_before, 100u);
}

class CacheFilesTest : public testing::Test {
 protected:
  void SetUp() override {
    auto db = StateDb::Open(dir_ / "state.db");
    ASSERT_TRUE(db.ok());
    db_ = std::move(*db);
  }
  TempDir dir_;
  std::unique_ptr<StateDb> db_;
};

TEST_F(CacheFilesTest, RemoveKeepsWhatOthersUseAndFoundInPlaceFiles) {
  HfCache hf(dir_ / "hub");
  const std::string sha(64, 'a');
  ASSERT_OK(WriteFileAtomic(hf.BlobPath("o/r", sha), "0123456789"));
  const std::string commit(40, 'c');
  fs::path link1 = hf.LinkSnapshot("o/r", commit, "a.gguf", sha).value();
  fs::path link2 = hf.LinkSnapshot("o/r", commit, "copy/a.gguf", sha).value();
  InstalledModel a = Model("a", {{hf.BlobPath("o/r", sha), 10}}, 0);
  a.files[0].path = link1;
  InstalledModel b = a;
  b.id = "b";
  b.files[0].path = link2;
  const fs::path mine = dir_ / "mine.gguf";
  ASSERT_OK(WriteFileAtomic(mine, "x"));
  InstalledModel found = Model("found", {{mine, 1}}, 0, /*managed=*/false);
  ModelDb db(*db_);
  ASSERT_OK(db.Put(a));
  ASSERT_OK(db.Put(b));
  ASSERT_OK(db.Put(found));

  Result<Removal> ra = RemoveModel(a, db);
  ASSERT_OK(ra);
  EXPECT_EQ(ra->freed_bytes, 0u);
  EXPECT_FALSE(fs::exists(fs::symlink_status(link1)));
  EXPECT_TRUE(fs::exists(hf.BlobPath("o/r", sha)));  // b uses it
  Result<Removal> rb = RemoveModel(b, db);
  ASSERT_OK(rb);
  EXPECT_EQ(rb->freed_bytes, 10u);
  EXPECT_FALSE(fs::exists(hf.BlobPath("o/r", sha)));
  Result<Removal> rf = RemoveModel(found, db);
  ASSERT_OK(rf);
  EXPECT_TRUE(fs::exists(mine));  // forgotten, not deleted
  EXPECT_TRUE(db.List()->empty());
  EXPECT_THAT(RemoveModel(found, db), StatusIs(StatusCode::kNotFound));
}

TEST_F(CacheFilesTest, UsageOrphansAndStalePartials) {
  BlobStore blobs(dir_ / "data");
  HfCache hf(dir_ / "hub");
  const std::string used(64, '1'), orphan(64, '2');
  ASSERT_OK(WriteFileAtomic(blobs.BlobPath(used), "used!"));
  ASSERT_OK(WriteFileAtomic(blobs.BlobPath(orphan), "orphan"));
  ASSERT_OK(WriteFileAtomic(blobs.PartialPath(std::string(64, '3')), "fresh"));
  const fs::path stale = hf.IncompletePath("o/r", std::string(64, '4'));
  ASSERT_OK(WriteFileAtomic(stale, "stale-partial"));
  const int64_t now = static_cast<int64_t>(time(nullptr));
  const struct utimbuf old_times = {now - 2 * kDay, now - 2 * kDay};
  ASSERT_EQ(::utime(stale.c_str(), &old_times), 0);
  ASSERT_EQ(::utime(blobs.PartialPath(std::string(64, '3')).c_str(), nullptr), 0);

  std::vector<InstalledModel> models = {Model("m", {{blobs.BlobPath(used), 5}}, 0)};
  const CacheRoots roots{dir_ / "hub", dir_ / "data"};
  CacheUsage u = MeasureCache(models, roots, now);
  EXPECT_EQ(u.total_bytes, 5u);
  EXPECT_EQ(u.sources["hf"].models, 1u);
  ASSERT_EQ(u.orphan_blobs.size(), 1u);
  EXPECT_EQ(u.orphan_blobs[0].path, blobs.BlobPath(orphan));
  EXPECT_EQ(u.partials.size(), 2u);
  EXPECT_EQ(u.reclaimable_bytes, 6u + 13u);  // the orphan and the stale partial
  nlohmann::json j = ToJson(u, models);
  EXPECT_EQ(j["sources"]["hf"]["bytes"], 5);

  std::vector<PartialFile> removed = RemoveStalePartials(roots, now);
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_EQ(removed[0].path, stale);
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(blobs.PartialPath(std::string(64, '3'))));
}

}  // namespace
}  // namespace hangar::store
