#include "fetch/prefix_hasher.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <random>
#include <thread>

#include "core/sha256.h"
#include "core/status_matchers.h"
#include "fetch/range_set.h"

namespace hangar {
namespace {

class PrefixHasherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = std::filesystem::temp_directory_path() /
            ("hangar-prefix-" + std::to_string(::getpid()) + ".bin");
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(fd_, 0);
    std::mt19937 rng(1);
    content_.resize(9 * 1000 * 1000 + 17);
    for (char& c : content_) c = static_cast<char>(rng());
    Sha256 h;
    h.Update(content_);
    sha_ = h.FinishHex();
  }
  void TearDown() override {
    ::close(fd_);
    std::filesystem::remove(path_);
  }

  // Writes [b, e) to the file and records it.
  void Write(uint64_t b, uint64_t e) {
    ASSERT_EQ(::pwrite(fd_, content_.data() + b, e - b, static_cast<off_t>(b)),
              static_cast<ssize_t>(e - b));
    std::lock_guard lock(mu_);
    done_.Add(b, e);
  }
  PrefixHasher MakeHasher() {
    return PrefixHasher(
        fd_, path_,
        [this] {
          std::lock_guard lock(mu_);
          return PrefixHasher::Frontier{done_.PrefixEnd(), content_.size(), epoch_};
        },
        [this](uint64_t, const std::optional<Sha256Midstate>& mid, uint64_t hashed) {
          if (mid) last_mid_ = mid;
          last_hashed_ = hashed;
        });
  }

  std::filesystem::path path_;
  int fd_ = -1;
  std::string content_, sha_;
  std::mutex mu_;
  RangeSet done_;
  uint64_t epoch_ = 0;
  std::optional<Sha256Midstate> last_mid_;
  uint64_t last_hashed_ = 0;
};

TEST_F(PrefixHasherTest, OutOfOrderWritesFromManyThreadsGiveTheFilesDigest) {
  PrefixHasher hasher = MakeHasher();
  hasher.Start(0, std::nullopt);
  // Chunks of 300 kB written by four threads in a scrambled order; each hashes
  // from its own buffer when it can.
  std::vector<uint64_t> starts;
  for (uint64_t b = 0; b < content_.size(); b += 300'000) starts.push_back(b);
  std::shuffle(starts.begin(), starts.end(), std::mt19937(5));
  std::atomic<size_t> next{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (size_t i; (i = next++) < starts.size();) {
        uint64_t b = starts[i], e = std::min<uint64_t>(b + 300'000, content_.size());
        Write(b, e);
        ASSERT_OK(hasher.Advance(std::string_view(content_).substr(b, e - b), b, 4, false));
      }
    });
  }
  for (auto& t : threads) t.join();
  while (hasher.hashed() < content_.size()) ASSERT_OK(hasher.Advance({}, 0, 8, true));
  EXPECT_EQ(last_hashed_, content_.size());
  EXPECT_EQ(hasher.Finish(), sha_);
}

TEST_F(PrefixHasherTest, MidstatesResumeAndEpochsRestart) {
  Write(0, 5'000'000);
  {
    PrefixHasher first = MakeHasher();
    first.Start(0, std::nullopt);
    ASSERT_OK(first.Advance({}, 0, 8, true));
    EXPECT_EQ(first.hashed(), 5'000'000u - 5'000'000u % 64);
  }
  ASSERT_TRUE(last_mid_.has_value());
  // A new process resumes from the midstate.
  Write(5'000'000, content_.size());
  PrefixHasher second = MakeHasher();
  second.Start(0, last_mid_);
  EXPECT_EQ(second.hashed(), last_mid_->bytes);
  ASSERT_OK(second.Advance({}, 0, 8, true));
  EXPECT_EQ(second.Finish(), sha_);

  // A new epoch (the written bytes were discarded) starts from 0.
  PrefixHasher third = MakeHasher();
  third.Start(0, last_mid_);
  epoch_ = 1;
  ASSERT_OK(third.Advance({}, 0, 8, true));
  EXPECT_EQ(third.hashed(), content_.size());
  EXPECT_EQ(third.Finish(), sha_);
}

}  // namespace
}  // namespace hangar
