// The shared core under load: 16 threads of one process resolve, list, fit
// and recommend through one App for HANGAR_STRESS_SECONDS (default 30) while
// other processes (the real `hangar` binary, one after another) pull from a
// server on 127.0.0.1, import, remove and rewrite config.toml in the same
// HOME. Every answer must be consistent with a state that existed: a
// snapshot's installed models are models the writers made, each resolves to
// itself in that snapshot, and every profile read has the values written
// with it (a torn config would mix two writes). Built with the sanitizers
// (HANGAR_SANITIZE), it is also the data-race and leak check of the core.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "app/app.h"
#include "core/file_util.h"
#include "core/sha256.h"
#include "core/status_matchers.h"
#include "fetch/testing/test_http_server.h"
#include "process.h"

namespace hangar {
namespace {

namespace fs = std::filesystem;
using testing::ProcessResult;

int StressSeconds() {
  const char* s = std::getenv("HANGAR_STRESS_SECONDS");
  return s != nullptr && std::atoi(s) > 0 ? std::atoi(s) : 30;
}

class StressTest : public ::testing::Test {
 protected:
  void SetUp() override {
    home_ = fs::temp_directory_path() / ("hangar-stress-" + std::to_string(::getpid()));
    fs::remove_all(home_);
    fs::create_directories(home_ / "src");
  }
  void TearDown() override { fs::remove_all(home_); }

  ProcessResult Hangar(std::vector<std::string> args) {
    args.insert(args.begin(), HANGAR_BIN);
    return testing::RunProcess(args, {{"HOME", home_.string()}, {"PATH", "/usr/bin:/bin"}});
  }
  fs::path MakeModel(const std::string& name, int seed) {
    const fs::path path = home_ / "src" / name;
    ProcessResult made = testing::RunProcess(
        {HANGAR_MKMODEL_BIN, "--arch", "llama", "--type", "q8_0", "--vocab", "llama-spm", "--size",
         "4MiB", "--seed", std::to_string(seed), "--out", path.string()},
        {{"HOME", home_.string()}});
    EXPECT_EQ(made.exit_code, 0) << made.err;
    return path;
  }
  // config.toml as the writer leaves it at step `n`: two profiles whose
  // values are derived from n, so a reader can tell a torn read.
  static std::string ConfigAt(int n) {
    return "[performance_profiles.p-" + std::to_string(n) +
           "]\ntemperature = " + std::to_string((n % 200) / 100.0) + "\ndescription = \"gen " +
           std::to_string(n) + "\"\ninherits = \"balanced\"\n[performance_profiles.q-" +
           std::to_string(n) + "]\nmax_tokens = " + std::to_string(100 + n) + "\n";
  }

  fs::path home_;
};

TEST_F(StressTest, SixteenReadersWhileAnotherProcessChangesEverything) {
  // Three models to import in place, two to pull.
  std::vector<fs::path> local;
  for (int i = 0; i < 3; ++i)
    local.push_back(MakeModel("local-" + std::to_string(i) + ".gguf", i + 1));
  testing::TestHttpServer server;
  std::vector<std::pair<std::string, std::string>> remote;  // url, sha256
  for (int i = 0; i < 2; ++i) {
    const fs::path made = MakeModel("remote-" + std::to_string(i) + ".gguf", 10 + i);
    const std::string path = "/files/remote-" + std::to_string(i) + ".gguf";
    server.AddFile(path, *ReadFile(made));
    remote.emplace_back(server.Url(path), *Sha256File(made));
  }
  ASSERT_OK(WriteFileAtomic(home_ / ".config/hangar/config.toml", ConfigAt(0)));

  app::Deps deps;
  auto env = std::make_shared<MapEnvironment>();
  env->Set("HOME", home_.string());
  deps.env = env;
  deps.hardware_root = "/";
  app::App app(std::move(deps));
  ASSERT_OK(app.core().Watch(std::chrono::milliseconds(100)));
  ASSERT_OK(app.core().snapshot().status());

  // What the writers may have installed: imports by path, pulls by URL.
  std::set<std::string> universe;
  for (const fs::path& p : local) universe.insert("file://" + p.string());
  for (const auto& [url, sha] : remote) universe.insert(url);

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(StressSeconds());
  std::atomic<bool> stop{false};
  std::mutex problems_mu;
  std::vector<std::string> problems;
  auto problem = [&](std::string what) {
    std::lock_guard<std::mutex> lock(problems_mu);
    if (problems.size() < 20) problems.push_back(std::move(what));
  };

  // The other process: one hangar command after another.
  std::atomic<int> writes{0}, write_failures{0};
  std::thread writer([&] {
    std::mt19937 rng(7);
    for (int n = 1; !stop; ++n) {
      ProcessResult r;
      const fs::path& file = local[n % local.size()];
      const auto& [url, sha] = remote[n % remote.size()];
      switch (n % 5) {
        case 0:
          r = Hangar({"import", file.string(), "--json"});
          break;
        case 1:
          // The fit check is not what this test loads: without it a pull
          // is a download and a record, quick even in a sanitizer build.
          r = Hangar({"pull", url, "--sha256", sha, "--no-fit-check", "--json"});
          break;
        case 2:
          ASSERT_OK(WriteFileAtomic(home_ / ".config/hangar/config.toml", ConfigAt(n)));
          r.exit_code = 0;
          break;
        case 3:
          r = Hangar({"rm", "file://" + local[rng() % local.size()].string(), "--force"});
          break;
        case 4:
          r = Hangar({"rm", remote[rng() % remote.size()].first, "--force"});
          break;
      }
      ++writes;
      // Already there / already gone are answers, not failures.
      const bool benign = r.err.find("already") != std::string::npos ||
                          r.err.find("not installed") != std::string::npos;
      if (r.exit_code != 0 && !benign) {
        ++write_failures;
        problem("writer step " + std::to_string(n) + ": " + r.err);
      }
    }
  });

  std::atomic<int> reads{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 16; ++t) {
    readers.emplace_back([&, t] {
      std::mt19937 rng(t);
      uint64_t last_generation = 0;
      while (std::chrono::steady_clock::now() < deadline) {
        Result<std::shared_ptr<const app::Snapshot>> got = app.core().snapshot();
        if (!got.ok()) {
          problem("snapshot: " + got.status().message());
          continue;
        }
        const app::Snapshot& s = **got;
        if (s.generation < last_generation) problem("a snapshot older than one seen before");
        last_generation = s.generation;
        // Installed models: made by the writers, each resolving to itself.
        for (const store::InstalledModel& m : s.installed) {
          if (!universe.count(m.id)) problem("unknown installed model " + m.id);
          Result<app::Resolution> r = app::Resolve(s, m.id);
          if (!r.ok() || r->kind != app::TargetKind::kInstalled || !r->record ||
              r->record->id != m.id) {
            problem("installed " + m.id + " does not resolve to itself");
          }
        }
        // Profiles: the values written together with their names.
        for (const Profile& p : s.config.profiles()) {
          if (p.name.starts_with("p-")) {
            const int n = std::stoi(p.name.substr(2));
            if (p.description != "gen " + std::to_string(n) ||
                std::abs(p.temperature - (n % 200) / 100.0) > 1e-9) {
              problem("torn profile " + p.name);
            }
          } else if (p.name.starts_with("q-")) {
            if (p.max_tokens != 100 + std::stoi(p.name.substr(2)))
              problem("torn profile " + p.name);
          }
        }
        // The use cases on whatever is current now.
        switch (rng() % 5) {
          case 0: {
            app::ListQuery all;
            all.scope = app::ListQuery::Scope::kAll;
            if (!app.models().ListModels(all).ok()) problem("list --all failed");
            break;
          }
          case 1: {
            Result<std::vector<app::ModelView>> installed = app.models().ListModels({});
            if (!installed.ok()) problem("list failed: " + installed.status().message());
            break;
          }
          case 2: {
            app::FitQuery q;
            q.ref = rng() % 2 ? "qwen2.5-coder-7b-q5" : local[rng() % local.size()].string();
            q.probe = false;
            Result<app::FitReport> f = app.fit().Fit(q);
            if (!f.ok()) problem("fit " + q.ref + ": " + f.status().message());
            break;
          }
          case 3: {
            Result<fit::Recommendation> r = app.fit().Recommend({});
            if (!r.ok()) problem("recommend: " + r.status().message());
            break;
          }
          case 4: {
            const std::string name = "local-" + std::to_string(rng() % local.size());
            Result<app::Resolution> r = app.core().Resolve(name);
            // Installed (by its name) or not: never another error.
            if (!r.ok() && r.status().code() != StatusCode::kNotFound) {
              problem("resolve " + name + ": " + r.status().message());
            }
            break;
          }
        }
        ++reads;
        // A breath between calls: on a 2-core machine 16 spinning threads
        // would starve the other processes whose changes they must see.
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    });
  }
  for (std::thread& t : readers) t.join();
  stop = true;
  writer.join();
  std::printf("stress: %d reads by 16 threads, %d writer steps (%d failed), %llu snapshot builds\n",
              reads.load(), writes.load(), write_failures.load(),
              static_cast<unsigned long long>((*app.core().snapshot())->generation));
  for (const std::string& p : problems) ADD_FAILURE() << p;
  EXPECT_GT(reads.load(), 16);  // every thread got answers
  EXPECT_GE(writes.load(), 5);  // each kind of change at least once
  EXPECT_EQ(write_failures.load(), 0);
}

}  // namespace
}  // namespace hangar
