#include "runtime/usage_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/status_matchers.h"
#include "fit/test_models.h"
#include "hardware/process.h"

namespace hangar::runtime {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

class UsageStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fit::testing::FreshDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    auto db = store::StateDb::Open(dir_ / "state.db");
    ASSERT_OK(db);
    db_ = std::move(*db);
    usage_ = std::make_unique<UsageStore>(db_.get(), &clock_);
  }

  UsageRecord Request(std::string model, Outcome outcome, int64_t total_ms, int gen_tokens = 20,
                      int64_t gen_ms = 1000) {
    UsageRecord r;
    r.model = std::move(model);
    r.backend = "llama";
    r.outcome = outcome;
    r.at_unix = clock_.NowUnixSeconds();
    r.total_us = total_ms * 1000;
    r.timings.prompt_tokens = 10;
    r.timings.cached_tokens = 2;
    r.timings.prompt_us = 100'000;
    r.timings.gen_tokens = gen_tokens;
    r.timings.gen_us = gen_ms * 1000;
    r.timings.ttft_us = 120'000;
    r.peak_rss = 1000;
    if (outcome == Outcome::kFailure) r.error = "Internal: boom";
    return r;
  }

  std::filesystem::path dir_;
  FakeClock clock_;
  std::unique_ptr<store::StateDb> db_;
  std::unique_ptr<UsageStore> usage_;
};

TEST_F(UsageStoreTest, AggregatesUsesOutcomesTimesAndSpeeds) {
  ASSERT_OK(usage_->Record(Request("m", Outcome::kSuccess, 1200)));
  clock_.AdvanceSeconds(10);
  UsageRecord loaded = Request("m", Outcome::kSuccess, 3000);
  loaded.load_us = 2'500'000;  // 2.5 s of it was loading: 500 ms of inference
  loaded.peak_rss = 5000;
  ASSERT_OK(usage_->Record(loaded));
  ASSERT_OK(usage_->Record(Request("m", Outcome::kFailure, 50)));
  ASSERT_OK(usage_->Record(Request("m", Outcome::kCancelled, 70)));
  ASSERT_OK(usage_->Record(Request("other", Outcome::kSuccess, 10)));

  Result<std::vector<ModelStats>> all = usage_->Stats();
  ASSERT_OK(all);
  ASSERT_THAT(*all, SizeIs(2));
  const ModelStats& m = (*all)[0];
  EXPECT_EQ(m.model, "m");
  EXPECT_EQ(m.uses, 4);
  EXPECT_EQ(m.successes, 2);
  EXPECT_EQ(m.failures, 1);
  EXPECT_EQ(m.cancelled, 1);
  EXPECT_DOUBLE_EQ(m.SuccessRate(), 0.5);
  EXPECT_EQ(m.infer_count, 2);
  EXPECT_DOUBLE_EQ(m.infer_ms_avg, 850);
  EXPECT_DOUBLE_EQ(m.infer_ms_min, 500);
  EXPECT_DOUBLE_EQ(m.infer_ms_max, 1200);
  EXPECT_EQ(m.prompt_tokens, 16);  // 8 read per successful request
  EXPECT_DOUBLE_EQ(m.prompt_tokens_per_second, 80);
  EXPECT_EQ(m.gen_tokens, 40);
  EXPECT_DOUBLE_EQ(m.gen_tokens_per_second, 20);
  EXPECT_DOUBLE_EQ(m.ttft_ms_avg, 120);
  EXPECT_EQ(m.peak_rss, 5000u);
  EXPECT_EQ(m.last_used, clock_.NowUnixSeconds());
  EXPECT_EQ(m.last_error, "Internal: boom");
  EXPECT_FALSE(m.baseline_gen_tokens_per_second);

  Result<std::vector<ModelStats>> one = usage_->Stats("OTHER");
  ASSERT_OK(one);
  ASSERT_THAT(*one, SizeIs(1));
  EXPECT_EQ((*one)[0].model, "other");
  EXPECT_THAT(usage_->Stats("never-run"), StatusIs(StatusCode::kNotFound));
}

TEST_F(UsageStoreTest, BaselinesJoinTheStatsAndStandAlone) {
  ASSERT_OK(usage_->Record(Request("m", Outcome::kSuccess, 100)));
  ASSERT_OK(usage_->SaveBaseline({"m", "llama", 500, 40, 300, 2, 0, 1}));
  ASSERT_OK(usage_->SaveBaseline({"benched-only", "llama", 100, 10, 200, 2, 0, 1}));
  ASSERT_OK(usage_->SaveBaseline({"m", "llama", 600, 42, 280, 2, 0, 2}));  // replaces
  Result<std::vector<ModelStats>> all = usage_->Stats();
  ASSERT_OK(all);
  ASSERT_THAT(*all, SizeIs(2));
  EXPECT_EQ((*all)[0].model, "benched-only");
  EXPECT_EQ((*all)[0].uses, 0);
  EXPECT_EQ((*all)[0].baseline_gen_tokens_per_second, 10);
  EXPECT_EQ((*all)[1].baseline_gen_tokens_per_second, 42);
  EXPECT_EQ((*all)[1].baseline_prompt_tokens_per_second, 600);
  Result<std::vector<SpeedBaseline>> b = usage_->Baselines();
  ASSERT_OK(b);
  EXPECT_THAT(*b, SizeIs(2));
}

TEST_F(UsageStoreTest, RecentSpeedsAreNewestFirstAndBounded) {
  for (int i = 1; i <= kRecentEvents + 10; ++i) {
    ASSERT_OK(usage_->Record(Request("m", Outcome::kSuccess, 10, 20, 1000 * i)));
  }
  ASSERT_OK(usage_->Record(Request("m", Outcome::kSuccess, 10, 2, 1000)));  // too short to count
  ASSERT_OK(usage_->Record(Request("m", Outcome::kFailure, 10)));
  Result<std::vector<double>> r = usage_->RecentGenSpeeds("m", "llama", 3);
  ASSERT_OK(r);
  ASSERT_THAT(*r, SizeIs(3));
  EXPECT_DOUBLE_EQ((*r)[0], 20.0 / (kRecentEvents + 10));
  Result<std::vector<store::Row>> n = db_->Query("SELECT COUNT(*) FROM usage_events");
  ASSERT_OK(n);
  EXPECT_EQ((*n)[0].Int(0), kRecentEvents);
}

TEST_F(UsageStoreTest, RecentEventsAreOldestFirstWithTheirFigures) {
  ASSERT_OK(usage_->Record(Request("m", Outcome::kSuccess, 1500, 20, 1000)));
  ASSERT_OK(usage_->Record(Request("m", Outcome::kFailure, 50)));
  ASSERT_OK(usage_->Record(Request("m", Outcome::kSuccess, 900, 40, 500)));
  ASSERT_OK(usage_->Record(Request("other", Outcome::kSuccess, 10)));
  Result<std::vector<UsageEvent>> r = usage_->RecentEvents("M", 2);
  ASSERT_OK(r);
  ASSERT_THAT(*r, SizeIs(2));
  EXPECT_EQ((*r)[0].outcome, "failure");
  EXPECT_EQ((*r)[1].outcome, "success");
  EXPECT_EQ((*r)[1].gen_tokens, 40);
  EXPECT_EQ((*r)[1].gen_us, 500'000);
  EXPECT_EQ((*r)[1].ttft_us, 120'000);
  EXPECT_EQ((*r)[1].infer_us, 900'000);
  Result<std::vector<UsageEvent>> none = usage_->RecentEvents("nobody", 5);
  ASSERT_OK(none);
  EXPECT_TRUE(none->empty());
}

TEST_F(UsageStoreTest, CurrentModelKeepsItsTimestamp) {
  Result<std::optional<CurrentModel>> none = usage_->Current();
  ASSERT_OK(none);
  EXPECT_FALSE(*none);
  ASSERT_OK(usage_->SetCurrent({"qwen", "llama", 1'700'000'123}));
  Result<std::optional<CurrentModel>> c = usage_->Current();
  ASSERT_OK(c);
  ASSERT_TRUE(*c);
  EXPECT_EQ((*c)->model, "qwen");
  EXPECT_EQ((*c)->since, 1'700'000'123);
  // Another connection (another process) sees it.
  auto other = store::StateDb::Open(dir_ / "state.db");
  ASSERT_OK(other);
  UsageStore second(other->get(), &clock_);
  Result<std::optional<CurrentModel>> seen = second.Current();
  ASSERT_OK(seen);
  EXPECT_EQ((*seen)->model, "qwen");
}

TEST_F(UsageStoreTest, DeadProcessesDropOutOfTheRegistry) {
  // A child that has exited: its pid no longer runs.
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ASSERT_GT(child, 0);
  ::waitpid(child, nullptr, 0);
  ASSERT_FALSE(ProcessStartTicks("/", child));
  const std::optional<uint64_t> mine = ProcessStartTicks("/", ::getpid());
  ASSERT_TRUE(mine);

  ProcessEntry alive;
  alive.pid = ::getpid();
  alive.start_ticks = *mine;
  alive.model = "m";
  alive.backend = "llama";
  alive.command = "run";
  ProcessEntry dead = alive;
  dead.pid = child;
  ProcessEntry reused = alive;  // our pid, but started at another time: another process
  reused.model = "old";
  reused.start_ticks = *mine + 1;
  ASSERT_OK(usage_->RegisterProcess(alive));
  ASSERT_OK(usage_->RegisterProcess(dead));
  ASSERT_OK(usage_->RegisterProcess(reused));
  Result<std::vector<ProcessEntry>> live = usage_->LiveProcesses();
  ASSERT_OK(live);
  ASSERT_THAT(*live, SizeIs(1));
  EXPECT_EQ((*live)[0].model, "m");
  Result<std::vector<store::Row>> rows = db_->Query("SELECT COUNT(*) FROM runtime_processes");
  ASSERT_OK(rows);
  EXPECT_EQ((*rows)[0].Int(0), 1);
  ASSERT_OK(usage_->TouchProcess(::getpid(), "m", 50, 99));
  live = usage_->LiveProcesses();
  ASSERT_OK(live);
  EXPECT_EQ((*live)[0].idle_until, 99);
  ASSERT_OK(usage_->RemoveProcess(::getpid(), "m"));
  live = usage_->LiveProcesses();
  ASSERT_OK(live);
  EXPECT_THAT(*live, SizeIs(0));
}

TEST_F(UsageStoreTest, RecorderRegistersWhileLoadedAndRecordsRequests) {
  {
    UsageRecorder recorder(usage_.get(), "run");
    LoadedModel m;
    m.backend = "llama";
    m.target.id = "m";
    m.host_bytes = 123;
    m.n_ctx = 512;
    recorder.OnLoaded(m, 0);
    Result<std::vector<ProcessEntry>> live = usage_->LiveProcesses();
    ASSERT_OK(live);
    ASSERT_THAT(*live, SizeIs(1));
    EXPECT_EQ((*live)[0].host_bytes, 123u);
    EXPECT_EQ((*live)[0].command, "run");
    EXPECT_EQ((*live)[0].idle_until, 0);
    recorder.OnRequest(Request("m", Outcome::kSuccess, 10), clock_.NowUnixSeconds() + 300);
    live = usage_->LiveProcesses();
    ASSERT_OK(live);
    EXPECT_EQ((*live)[0].idle_until, clock_.NowUnixSeconds() + 300);
  }  // the recorder's end removes the row
  Result<std::vector<ProcessEntry>> live = usage_->LiveProcesses();
  ASSERT_OK(live);
  EXPECT_THAT(*live, SizeIs(0));
  Result<std::vector<ModelStats>> stats = usage_->Stats("m");
  ASSERT_OK(stats);
  EXPECT_EQ((*stats)[0].uses, 1);
}

}  // namespace
}  // namespace hangar::runtime
