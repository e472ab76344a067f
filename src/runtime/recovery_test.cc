#include "runtime/recovery.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/status_matchers.h"

namespace hangar::runtime {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(NextPlanTest, Ladder) {
  struct Case {
    LoadPlan failed;
    bool gpu;
    std::optional<LoadPlan> next;
  };
  const Case cases[] = {
      {{-1, 8192}, true, LoadPlan{16, 8192}},  // all of 33 layers: half
      {{16, 8192}, true, LoadPlan{8, 8192}},
      {{8, 8192}, true, LoadPlan{4, 8192}},
      {{4, 8192}, true, LoadPlan{0, 8192}},  // below kMinGpuLayers: the CPU
      {{0, 8192}, true, LoadPlan{0, 4096}},  // then the context
      {{0, 1024}, false, LoadPlan{0, 512}},
      {{0, 700}, false, LoadPlan{0, 512}},  // not below the minimum
      {{0, 512}, false, std::nullopt},
      {{-1, 512}, false, LoadPlan{0, 512}},  // no GPU steps, but the CPU is still to try
  };
  for (const Case& c : cases) {
    EXPECT_EQ(NextPlan(c.failed, 33, c.gpu, 512), c.next) << DescribePlan(c.failed);
  }
}

TEST(LoadWithRecoveryTest, ClimbsUntilALoadSucceedsAndReportsEachStep) {
  std::vector<LoadPlan> tried;
  std::vector<std::string> reports;
  // Fits only on the CPU with a context of at most 2048.
  auto attempt = [&](const LoadPlan& p) {
    tried.push_back(p);
    if (p.n_gpu_layers == 0 && p.n_ctx <= 2048) return Status::Ok();
    return ResourceExhaustedError("out of memory");
  };
  Result<LoadPlan> r = LoadWithRecovery({-1, 8192}, 9, true, 512, true, attempt,
                                        [&](const std::string& s) { reports.push_back(s); });
  ASSERT_OK(r);
  EXPECT_EQ(*r, (LoadPlan{0, 2048}));
  EXPECT_THAT(tried, ElementsAre(LoadPlan{-1, 8192}, LoadPlan{4, 8192}, LoadPlan{0, 8192},
                                 LoadPlan{0, 4096}, LoadPlan{0, 2048}));
  ASSERT_EQ(reports.size(), 4u);
  EXPECT_EQ(reports[0],
            "out of memory with all layers on the GPU, context 8192: retrying with 4 GPU layers, "
            "context 8192");
  EXPECT_THAT(reports[1], HasSubstr("retrying with CPU only, context 8192"));
  EXPECT_THAT(reports[3], HasSubstr("retrying with CPU only, context 2048"));
}

TEST(LoadWithRecoveryTest, OtherErrorsStopAtOnce) {
  int attempts = 0;
  auto attempt = [&](const LoadPlan&) {
    ++attempts;
    return InvalidArgumentError("not a GGUF file");
  };
  EXPECT_THAT(LoadWithRecovery({-1, 4096}, 9, true, 512, true, attempt, nullptr),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_EQ(attempts, 1);
}

TEST(LoadWithRecoveryTest, EndOfLadderListsEveryPlan) {
  auto attempt = [](const LoadPlan&) { return ResourceExhaustedError("out of memory"); };
  Result<LoadPlan> r = LoadWithRecovery({0, 1024}, 9, false, 512, true, attempt, nullptr);
  EXPECT_THAT(r, StatusIs(StatusCode::kResourceExhausted));
  EXPECT_THAT(r.status().message(),
              HasSubstr("tried CPU only, context 1024; CPU only, context 512"));
}

TEST(LoadWithRecoveryTest, WithoutRecoveryOneAttempt) {
  int attempts = 0;
  auto attempt = [&](const LoadPlan&) {
    ++attempts;
    return ResourceExhaustedError("out of memory");
  };
  EXPECT_THAT(LoadWithRecovery({-1, 8192}, 9, true, 512, false, attempt, nullptr),
              StatusIs(StatusCode::kResourceExhausted));
  EXPECT_EQ(attempts, 1);
}

}  // namespace
}  // namespace hangar::runtime
