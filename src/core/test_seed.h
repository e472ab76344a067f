// TestSeed: the seed of a randomised test, replayable (test code only).
//
// A test that draws random moments or data calls TestSeed() once for its
// generator. The seed is HANGAR_TEST_SEED (a decimal number) when that
// variable is set, otherwise a fresh one from std::random_device. Either way
// it is printed on stderr with the test's name, so a failure can be replayed:
//
//   const uint32_t seed = TestSeed();
//   SCOPED_TRACE("kill-moment " + TestSeedNote(seed));  // in every failure message
//   std::mt19937 rng(seed);
//
//   $ HANGAR_TEST_SEED=295289727 build/tests/hangar_fetch_e2e_tests --gtest_filter='*Kill*'
//
// A HANGAR_TEST_SEED that is not a number is a test failure (the test then
// runs with a random seed). Thread-safe (reads the environment only).
#ifndef HANGAR_CORE_TEST_SEED_H_
#define HANGAR_CORE_TEST_SEED_H_

#include <gtest/gtest.h>

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <string_view>

namespace hangar {

inline constexpr char kTestSeedVariable[] = "HANGAR_TEST_SEED";

inline uint32_t TestSeed() {
  uint32_t seed = 0;
  bool from_env = false;
  if (const char* text = std::getenv(kTestSeedVariable); text != nullptr && *text != '\0') {
    const std::string_view s(text);
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), seed);
    from_env = ec == std::errc() && end == s.data() + s.size();
    if (!from_env) {
      ADD_FAILURE() << kTestSeedVariable << " is not a 32-bit decimal number: \"" << s << "\"";
    }
  }
  if (!from_env) seed = std::random_device{}();
  const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
  std::fprintf(stderr, "[   SEED   ] %s%s%s: %u (%s; replay with %s=%u)\n",
               test != nullptr ? test->test_suite_name() : "", test != nullptr ? "." : "",
               test != nullptr ? test->name() : "", seed,
               from_env ? "from the environment" : "random", kTestSeedVariable, seed);
  return seed;
}

// "seed N (replay: HANGAR_TEST_SEED=N)", for SCOPED_TRACE.
inline std::string TestSeedNote(uint32_t seed) {
  return "seed " + std::to_string(seed) + " (replay: " + kTestSeedVariable + "=" +
         std::to_string(seed) + ")";
}

}  // namespace hangar

#endif  // HANGAR_CORE_TEST_SEED_H_
