#include "app/snapshot.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "app/app.h"
#include "app/test_util.h"
#include "core/file_util.h"
#include "core/status_matchers.h"

namespace hangar::app {
namespace {

namespace fs = std::filesystem;

class SnapshotTest : public ::testing::Test {
 protected:
  App MakeApp() {
    Deps deps;
    auto env = std::make_shared<MapEnvironment>();
    env->Set("HOME", home_.path().string());
    deps.env = env;
    deps.hardware_root = fs::path(HANGAR_SOURCE_DIR) / "tests/fixtures/hw/laptop";
    return App(std::move(deps));
  }
  fs::path ConfigFile() const { return home_.path() / ".config/hangar/config.toml"; }

  // Polls `done` every 10 ms for up to 10 s (a generous bound: the watcher
  // polls every 50 ms here).
  template <typename Fn>
  bool Eventually(Fn done) {
    for (int i = 0; i < 1000; ++i) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  app_test::TempHome home_;
};

TEST_F(SnapshotTest, AnotherProcessesChangesReachAWatchingProcess) {
  App server = MakeApp();  // long-running: watches
  App other = MakeApp();   // another process: its own connections, no watcher
  ASSERT_OK(server.core().Watch(std::chrono::milliseconds(50)));
  std::shared_ptr<const Snapshot> first = *server.core().snapshot();
  EXPECT_TRUE(first->installed.empty());

  // An import in the other process.
  const fs::path file = home_.path() / "m/other.gguf";
  app_test::WriteTinyGguf(file, "llama", 4096);
  ASSERT_OK(other.store().Import(file, ImportMode::kLink).status());
  EXPECT_TRUE(Eventually([&] { return (*server.core().snapshot())->installed.size() == 1; }));

  // A profile written by the other process.
  ProfilePatch patch;
  patch.temperature = 0.3;
  ASSERT_OK(other.profiles().CreateProfile("mine", patch).status());
  EXPECT_TRUE(Eventually([&] { return server.profiles().GetProfile("mine").ok(); }));

  // Its removal.
  ASSERT_OK(other.store().Remove("other", true).status());
  EXPECT_TRUE(Eventually([&] { return (*server.core().snapshot())->installed.empty(); }));

  // The first snapshot a reader held is unchanged: snapshots are values.
  EXPECT_TRUE(first->installed.empty());
  EXPECT_FALSE(first->config.GetProfile("mine").ok());
  EXPECT_GT((*server.core().snapshot())->generation, first->generation);
}

TEST_F(SnapshotTest, ABrokenConfigKeepsTheLastGoodSnapshot) {
  App server = MakeApp();
  ASSERT_OK(server.core().Watch(std::chrono::milliseconds(50)));
  ASSERT_OK(WriteFileAtomic(ConfigFile(), "default_model = \"qwen2.5-coder-7b-q5\"\n"));
  EXPECT_TRUE(Eventually([&] {
    return (*server.core().snapshot())->config.default_model() == "qwen2.5-coder-7b-q5";
  }));
  const uint64_t builds = (*server.core().snapshot())->generation;
  const SnapshotSource* source = *server.core().snapshot_source();
  const uint64_t attempts = source->attempts();
  ASSERT_OK(WriteFileAtomic(ConfigFile(), "[limits]\nmax_ram_usage = \"lots\"\n"));
  // The watcher saw the change, tried, failed, and tries again at each poll.
  EXPECT_TRUE(Eventually([&] { return source->attempts() >= attempts + 2; }));
  std::shared_ptr<const Snapshot> kept = *server.core().snapshot();
  EXPECT_EQ(kept->generation, builds);
  EXPECT_EQ(kept->config.default_model(), "qwen2.5-coder-7b-q5");
  // A process starting now sees the error.
  EXPECT_THAT(MakeApp().core().snapshot(), StatusIs(StatusCode::kInvalidArgument));
  // Mended, it is read again.
  ASSERT_OK(WriteFileAtomic(ConfigFile(), "default_model = \"demo\"\n"));
  EXPECT_TRUE(
      Eventually([&] { return (*server.core().snapshot())->config.default_model() == "demo"; }));
}

TEST_F(SnapshotTest, AReplacedDatabaseIsNoticed) {
  App server = MakeApp();
  ASSERT_OK(server.core().Watch(std::chrono::milliseconds(50)));
  const fs::path file = home_.path() / "m/a.gguf";
  app_test::WriteTinyGguf(file, "llama", 4096);
  ASSERT_OK(server.store().Import(file, ImportMode::kLink).status());
  ASSERT_EQ((*server.core().snapshot())->installed.size(), 1u);
  // Another tool restores an empty database over it.
  const fs::path db = home_.path() / ".local/share/hangar/state.db";
  {
    Deps d;
    auto env = std::make_shared<MapEnvironment>();
    env->Set("HOME", (home_.path() / "elsewhere").string());
    d.env = env;
    App empty(std::move(d));
    ASSERT_OK(empty.core().db().status());  // creates an empty database
  }
  const fs::path fresh = home_.path() / "elsewhere/.local/share/hangar/state.db";
  for (const char* suffix : {"-wal", "-shm"}) fs::remove(fs::path(db.string() + suffix));
  fs::rename(fresh, db);
  EXPECT_TRUE(Eventually([&] { return (*server.core().snapshot())->installed.empty(); }));
  // And the pool writes to the new file.
  ASSERT_OK(server.store().Import(file, ImportMode::kLink).status());
  App reader = MakeApp();
  EXPECT_EQ((*reader.core().snapshot())->installed.size(), 1u);
}

TEST_F(SnapshotTest, ManyReadersOneRefresher) {
  App app = MakeApp();
  ASSERT_OK(app.core().snapshot().status());
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 8; ++t) {
    readers.emplace_back([&] {
      uint64_t last = 0;
      while (!stop) {
        std::shared_ptr<const Snapshot> s = *app.core().snapshot();
        if (s->generation < last) ++bad;  // never goes back
        last = s->generation;
      }
    });
  }
  for (int i = 0; i < 50; ++i) ASSERT_OK(app.core().Refresh().status());
  stop = true;
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ((*app.core().snapshot())->generation, 51u);
}

}  // namespace
}  // namespace hangar::app
