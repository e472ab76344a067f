#include "app/jobs.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "core/status_matchers.h"

namespace hangar::app {
namespace {

using ::testing::HasSubstr;

TEST(JobsTest, AJobReportsProgressAndSucceeds) {
  JobRegistry jobs;
  std::mutex mu;
  std::vector<uint64_t> seqs;
  bool finished = false;
  jobs.Subscribe([&](const JobInfo& info, const JobEvent* e) {
    std::lock_guard<std::mutex> lock(mu);
    if (e != nullptr) {
      seqs.push_back(e->seq);
    } else {
      finished = info.state == JobState::kSucceeded;
    }
  });
  const std::string id = jobs.Start("pull", "org/repo:Q4_K_M", [](JobContext& job) {
    for (uint64_t i = 1; i <= 5; ++i) job.Report("downloading", i * 10, 50);
    job.SetResult("installed as repo-q4_k_m");
    return Status::Ok();
  });
  EXPECT_EQ(id, "job-1");
  Result<JobInfo> done = jobs.Wait(id);
  ASSERT_OK(done.status());
  EXPECT_EQ(done->state, JobState::kSucceeded);
  EXPECT_EQ(done->kind, "pull");
  EXPECT_EQ(done->title, "org/repo:Q4_K_M");
  EXPECT_EQ(done->result, "installed as repo-q4_k_m");
  ASSERT_TRUE(done->last);
  EXPECT_EQ(done->last->completed, 50u);
  EXPECT_EQ(done->last->total, 50u);
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(seqs, (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_TRUE(finished);
}

TEST(JobsTest, ListedWhileRunningThenCancelled) {
  JobRegistry jobs;
  std::atomic<bool> started{false};
  const std::string id = jobs.Start("bench", "tiny", [&](JobContext& job) {
    started = true;
    while (!job.cancelled()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return CancelledError("bench of tiny stopped");
  });
  while (!started) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::vector<JobInfo> list = jobs.List();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].state, JobState::kRunning);
  EXPECT_EQ(list[0].finished_unix, 0);
  ASSERT_OK(jobs.Cancel(id));
  Result<JobInfo> done = jobs.Wait(id);
  ASSERT_OK(done.status());
  EXPECT_EQ(done->state, JobState::kCancelled);
  EXPECT_THAT(done->status, StatusIs(StatusCode::kCancelled));
  EXPECT_THAT(jobs.Cancel(id), StatusIs(StatusCode::kFailedPrecondition));
}

TEST(JobsTest, AFailureIsKeptWithItsStatus) {
  JobRegistry jobs;
  const std::string id =
      jobs.Start("import", "x.gguf", [](JobContext&) { return NotFoundError("x.gguf is gone"); });
  Result<JobInfo> done = jobs.Wait(id);
  ASSERT_OK(done.status());
  EXPECT_EQ(done->state, JobState::kFailed);
  EXPECT_THAT(done->status, StatusHasMessage(HasSubstr("x.gguf is gone")));
  EXPECT_THAT(jobs.Get("job-99"), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(jobs.Get("../job-1"), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(jobs.Wait("job-"), StatusIs(StatusCode::kNotFound));
}

TEST(JobsTest, AJobOutlivesTheCallerThatStartedIt) {
  JobRegistry jobs;
  std::atomic<bool> release{false};
  std::string id;
  {
    // The caller (a request handler, say) starts it and goes away.
    std::thread caller([&] {
      id = jobs.Start("pull", "big", [&](JobContext& job) {
        while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        job.Report("done", 1, 1);
        return Status::Ok();
      });
    });
    caller.join();
  }
  EXPECT_EQ(jobs.Get(id)->state, JobState::kRunning);
  release = true;
  EXPECT_EQ(jobs.Wait(id)->state, JobState::kSucceeded);
}

TEST(JobsTest, OldFinishedJobsAreForgottenRunningOnesNever) {
  JobRegistry jobs(nullptr, /*keep_finished=*/3);
  std::atomic<bool> release{false};
  const std::string running = jobs.Start("load", "slow", [&](JobContext&) {
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return Status::Ok();
  });
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) {
    ids.push_back(
        jobs.Start("import", std::to_string(i), [](JobContext&) { return Status::Ok(); }));
    ASSERT_OK(jobs.Wait(ids.back()).status());
  }
  EXPECT_THAT(jobs.Get(ids.front()), StatusIs(StatusCode::kNotFound));
  EXPECT_OK(jobs.Get(ids.back()).status());
  EXPECT_EQ(jobs.Get(running)->state, JobState::kRunning);
  EXPECT_EQ(jobs.List().size(), 4u);
  release = true;
  EXPECT_EQ(jobs.Wait(running)->state, JobState::kSucceeded);
}

TEST(JobsTest, DestroyingTheRegistryCancelsAndJoins) {
  std::atomic<bool> saw_cancel{false};
  {
    JobRegistry jobs;
    jobs.Start("pull", "endless", [&](JobContext& job) {
      while (!job.cancelled()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      saw_cancel = true;
      return CancelledError("stopped");
    });
  }
  EXPECT_TRUE(saw_cancel);
}

}  // namespace
}  // namespace hangar::app
