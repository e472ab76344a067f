#include "runtime/session.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "core/status_matchers.h"
#include "fit/test_models.h"
#include "runtime/testing/fake_backend.h"

namespace hangar::runtime {
namespace {

using ::testing::ElementsAre;
using testing::FakeBackend;
using testing::FakeStats;
using ::testing::HasSubstr;

struct RecordingObserver : SessionObserver {
  std::vector<std::string> events;
  std::vector<UsageRecord> records;
  void OnLoaded(const LoadedModel& m, int64_t until) override {
    events.push_back("loaded " + m.target.id + " until " + std::to_string(until));
  }
  void OnUnloaded(const std::string& id) override { events.push_back("unloaded " + id); }
  void OnRequest(const UsageRecord& r, int64_t) override { records.push_back(r); }
};

class SessionTest : public ::testing::Test {
 protected:
  SessionTest() {
    registry_.Register("fake", "test", [this](const BackendContext&) {
      return Result<std::unique_ptr<Backend>>(std::make_unique<FakeBackend>(&stats_));
    });
  }
  ModelSpec Spec(std::string id) {
    ModelSpec s;
    s.backend = "fake";
    s.target.id = std::move(id);
    return s;
  }
  GenerateRequest Prompt(std::string p) {
    GenerateRequest r;
    r.prompt = std::move(p);
    return r;
  }

  FakeStats stats_;
  BackendRegistry registry_;
  FakeClock clock_;
  RecordingObserver observer_;
};

TEST_F(SessionTest, LoadsLazilyOnFirstUse) {
  SessionManager s(&registry_, {}, &clock_, 300, &observer_);
  EXPECT_THAT(s.Generate(Prompt("hi")), StatusIs(StatusCode::kFailedPrecondition));
  ASSERT_OK(s.Use(Spec("a")));
  EXPECT_EQ(stats_.loads, 0);
  EXPECT_FALSE(s.loaded());
  Result<Completion> c = s.Generate(Prompt("hi"));
  ASSERT_OK(c);
  EXPECT_EQ(c->text, "echo: hi");
  EXPECT_EQ(stats_.loads, 1);
  ASSERT_OK(s.Generate(Prompt("again")));
  EXPECT_EQ(stats_.loads, 1);
  ASSERT_TRUE(s.loaded());
  EXPECT_EQ(s.loaded()->target.id, "a");
  EXPECT_EQ(s.idle_until(), clock_.NowUnixSeconds() + 300);
}

TEST_F(SessionTest, UseSwitchesAndUnloadsThePrevious) {
  SessionManager s(&registry_, {}, &clock_, 0, &observer_);
  ASSERT_OK(s.Use(Spec("a")));
  ASSERT_OK(s.Load());
  ASSERT_OK(s.Use(Spec("b")));
  EXPECT_EQ(stats_.unloads, 1);
  EXPECT_FALSE(s.loaded());
  ASSERT_OK(s.Generate(Prompt("x")));
  EXPECT_THAT(stats_.loaded_ids, ElementsAre("a", "b"));
  EXPECT_THAT(observer_.events, ElementsAre("loaded a until 0", "unloaded a", "loaded b until 0"));
  // An unknown backend changes nothing.
  ModelSpec bad = Spec("c");
  bad.backend = "nope";
  EXPECT_THAT(s.Use(bad), StatusIs(StatusCode::kNotFound));
  EXPECT_EQ(s.current()->target.id, "b");
  EXPECT_TRUE(s.loaded());
}

TEST_F(SessionTest, IdleModelIsUnloadedAfterTheTtl) {
  SessionManager s(&registry_, {}, &clock_, 60, &observer_);
  ASSERT_OK(s.Use(Spec("a")));
  EXPECT_FALSE(s.UnloadIfIdle());  // nothing loaded
  ASSERT_OK(s.Generate(Prompt("x")));
  clock_.AdvanceSeconds(59);
  EXPECT_FALSE(s.UnloadIfIdle());
  ASSERT_OK(s.Generate(Prompt("y")));  // a use restarts the clock
  clock_.AdvanceSeconds(59);
  EXPECT_FALSE(s.UnloadIfIdle());
  clock_.AdvanceSeconds(1);
  EXPECT_TRUE(s.UnloadIfIdle());
  EXPECT_FALSE(s.loaded());
  EXPECT_EQ(stats_.unloads, 1);
  // The next request loads it again.
  ASSERT_OK(s.Generate(Prompt("z")));
  EXPECT_EQ(stats_.loads, 2);
}

TEST_F(SessionTest, ZeroTtlNeverUnloads) {
  SessionManager s(&registry_, {}, &clock_, 0, &observer_);
  ASSERT_OK(s.Use(Spec("a")));
  ASSERT_OK(s.Load());
  clock_.AdvanceSeconds(1'000'000);
  EXPECT_FALSE(s.UnloadIfIdle());
  EXPECT_EQ(s.idle_until(), std::nullopt);
}

TEST_F(SessionTest, EveryRequestIsRecordedWithItsOutcome) {
  SessionManager s(&registry_, {}, &clock_, 0, &observer_);
  ASSERT_OK(s.Use(Spec("a")));
  ASSERT_OK(s.Generate(Prompt("ok")));
  EXPECT_THAT(s.Generate(Prompt("fail")), StatusIs(StatusCode::kInternal));
  EXPECT_THAT(s.Generate(Prompt("cancel")), StatusIs(StatusCode::kCancelled));
  const std::vector<ChatMessage> chat = {{"user", "hello"}};
  ASSERT_OK(s.Chat(chat, Prompt("")));
  const std::vector<std::string> texts = {"t"};
  ASSERT_OK(s.Embed(texts, {}));
  ASSERT_EQ(observer_.records.size(), 5u);
  EXPECT_EQ(observer_.records[0].outcome, Outcome::kSuccess);
  EXPECT_EQ(observer_.records[0].timings.gen_tokens, 2);
  EXPECT_EQ(observer_.records[0].model, "a");
  EXPECT_EQ(observer_.records[0].backend, "fake");
  EXPECT_GT(observer_.records[0].peak_rss, 0u);
  EXPECT_EQ(observer_.records[1].outcome, Outcome::kFailure);
  EXPECT_THAT(observer_.records[1].error, HasSubstr("boom"));
  EXPECT_EQ(observer_.records[2].outcome, Outcome::kCancelled);
  EXPECT_EQ(observer_.records[3].kind, RequestKind::kChat);
  EXPECT_EQ(observer_.records[4].kind, RequestKind::kEmbed);
  // A load that fails is a failed request too.
  ASSERT_OK(s.Use(Spec("broken")));
  EXPECT_THAT(s.Generate(Prompt("x")), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_EQ(observer_.records.back().outcome, Outcome::kFailure);
  EXPECT_EQ(observer_.records.back().model, "broken");
}

TEST_F(SessionTest, ConcurrentRequestsLoadOnceAndNeverOverlap) {
  SessionManager s(&registry_, {}, &clock_, 0, &observer_);
  ASSERT_OK(s.Use(Spec("a")));
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        if (s.Generate(Prompt("p")).ok()) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, 160);
  EXPECT_EQ(stats_.loads, 1);
  EXPECT_EQ(stats_.overlaps, 0);
}

TEST_F(SessionTest, ReaperThreadStopsWithTheManager) {
  auto s = std::make_unique<SessionManager>(&registry_, BackendContext{}, &clock_, 1, &observer_);
  ASSERT_OK(s->Use(Spec("a")));
  ASSERT_OK(s->Load());
  clock_.AdvanceSeconds(5);
  s->StartIdleReaper(1);
  // Whether or not the reaper ran yet, UnloadIfIdle agrees with it.
  s->UnloadIfIdle();
  EXPECT_FALSE(s->loaded());
  s.reset();  // joins the reaper
  EXPECT_EQ(stats_.unloads, 1);
}

TEST(SessionLlamaTest, RealModelLoadsOnFirstRequest) {
  SessionManager s(&DefaultRegistry(), {}, &SystemClock::Default(), 300);
  ModelSpec spec;
  spec.target = {.id = "tiny", .file = fit::testing::TinyModel("llama")};
  spec.load.n_ctx = 256;
  spec.load.threads = 1;
  ASSERT_OK(s.Use(spec));
  EXPECT_FALSE(s.loaded());
  GenerateRequest r;
  r.prompt = "Hello";
  r.max_tokens = 4;
  r.ignore_eos = true;
  r.sampling.temperature = 0;
  Result<Completion> c = s.Generate(r);
  ASSERT_OK(c);
  EXPECT_EQ(c->timings.gen_tokens, 4);
  ASSERT_TRUE(s.loaded());
  EXPECT_EQ(s.loaded()->n_ctx, 256u);
}

}  // namespace
}  // namespace hangar::runtime
