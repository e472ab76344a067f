#include "fetch/file_lock.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "core/status_matchers.h"

namespace hangar {
namespace {

class FileLockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("hangar-lock-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(FileLockTest, ExclusiveAcrossProcesses) {
  auto path = dir_ / ".locks/models--org--repo/blob.lock";
  auto held = FileLock::TryAcquire(path);
  ASSERT_OK(held);
  EXPECT_TRUE(std::filesystem::exists(path));
  // flock locks belong to the open file, so another process is the real test.
  pid_t pid = ::fork();
  if (pid == 0) {
    auto r = FileLock::TryAcquire(path);
    ::_exit(r.status().code() == StatusCode::kFailedPrecondition ? 0 : 1);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  held->Release();
  ASSERT_OK(FileLock::TryAcquire(path));
}

TEST_F(FileLockTest, AcquireWaitsUntilReleasedOrCancelled) {
  auto path = dir_ / "x.lock";
  auto held = FileLock::TryAcquire(path);
  ASSERT_OK(held);
  int waits = 0;
  std::atomic<bool> stop{false};
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    stop = true;
  });
  auto r = FileLock::Acquire(
      path, [&] { return stop.load(); }, [&] { ++waits; }, 5);
  canceller.join();
  EXPECT_THAT(r, StatusIs(StatusCode::kCancelled));
  EXPECT_EQ(waits, 1);

  std::thread releaser([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    held->Release();
  });
  auto got = FileLock::Acquire(path, {}, {}, 5);
  releaser.join();
  EXPECT_OK(got);
}

}  // namespace
}  // namespace hangar
