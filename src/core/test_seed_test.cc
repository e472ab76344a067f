#include "core/test_seed.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <optional>
#include <string>

namespace hangar {
namespace {

// Sets HANGAR_TEST_SEED for one test and puts back what was there.
class SeedVariable {
 public:
  explicit SeedVariable(const char* value) {
    if (const char* old = std::getenv(kTestSeedVariable)) old_ = old;
    ::setenv(kTestSeedVariable, value, 1);
  }
  ~SeedVariable() {
    if (old_) {
      ::setenv(kTestSeedVariable, old_->c_str(), 1);
    } else {
      ::unsetenv(kTestSeedVariable);
    }
  }

 private:
  std::optional<std::string> old_;
};

TEST(TestSeedTest, TakesTheSeedFromTheEnvironment) {
  SeedVariable v("295289727");
  EXPECT_EQ(TestSeed(), 295289727u);
  EXPECT_EQ(TestSeed(), 295289727u);
}

TEST(TestSeedTest, NoteNamesTheVariable) {
  EXPECT_EQ(TestSeedNote(42), "seed 42 (replay: HANGAR_TEST_SEED=42)");
}

}  // namespace
}  // namespace hangar
