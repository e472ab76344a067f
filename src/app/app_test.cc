#include "app/app.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "app/test_util.h"
#include "core/file_util.h"
#include "core/status_matchers.h"

namespace hangar::app {
namespace {

using ::testing::HasSubstr;

class AppTest : public ::testing::Test {
 protected:
  App MakeApp(const std::string& machine = "laptop") {
    Deps deps;
    auto env = std::make_shared<MapEnvironment>();
    env->Set("HOME", home_.path().string());
    deps.env = env;
    deps.clock = &clock_;
    deps.hardware_root = std::filesystem::path(HANGAR_SOURCE_DIR) / "tests/fixtures/hw" / machine;
    return App(std::move(deps));
  }
  std::filesystem::path ConfigFile() const { return home_.path() / ".config/hangar/config.toml"; }
  app_test::TempHome home_;
  FakeClock clock_;
};

TEST_F(AppTest, FreshHomeHasNothingInstalled) {
  App app = MakeApp();
  EXPECT_TRUE(app.models().ListModels({})->empty());
  ListQuery all;
  all.scope = ListQuery::Scope::kAll;
  EXPECT_GE(app.models().ListModels(all)->size(), 40u);
}

TEST_F(AppTest, PresetWithLocalFileIsInstalledAndValid) {
  auto weights = home_.path() / "models/demo.gguf";
  app_test::WriteTinyGguf(weights, "llama", 4096);
  ASSERT_OK(WriteFileAtomic(ConfigFile(), "[model_presets.demo]\nweights = \"" + weights.string() +
                                              "\"\nsize_gb = 0.000004\n"));
  App app = MakeApp();
  auto installed = *app.models().ListModels({});
  ASSERT_EQ(installed.size(), 1u);
  EXPECT_EQ(installed[0].entry.id, "demo");
  EXPECT_TRUE(app.models().Validate("demo")->ok());
}

TEST_F(AppTest, FiltersApply) {
  App app = MakeApp();
  ListQuery q;
  q.scope = ListQuery::Scope::kAll;
  q.filter.tag = "coding";
  auto coding = *app.models().ListModels(q);
  EXPECT_FALSE(coding.empty());
  for (const auto& m : coding) EXPECT_TRUE(m.entry.HasTag("coding")) << m.entry.id;
  q.filter = {};
  q.filter.max_ram_bytes = 4'000'000'000;
  auto small = *app.models().ListModels(q);
  EXPECT_FALSE(small.empty());
  for (const auto& m : small) EXPECT_LE(m.entry.min_ram_bytes, 4'000'000'000u);
}

TEST_F(AppTest, UnknownModelIsNotFound) {
  App app = MakeApp();
  EXPECT_THAT(app.models().Info("no-such-model"), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(app.models().SetDefaultModel("no-such-model"), StatusIs(StatusCode::kNotFound));
}

TEST_F(AppTest, DefaultModelIsWrittenAndReadBack) {
  App app = MakeApp();
  EXPECT_EQ(*app.models().DefaultModel(), std::nullopt);
  EXPECT_EQ(*app.models().SetDefaultModel("Qwen2.5-Coder-7B-Q5"), "qwen2.5-coder-7b-q5");
  EXPECT_EQ(*app.models().DefaultModel(), "qwen2.5-coder-7b-q5");
  EXPECT_TRUE(app.models().Info("qwen2.5-coder-7b-q5")->is_default);
  App again = MakeApp();
  EXPECT_EQ(*again.models().DefaultModel(), "qwen2.5-coder-7b-q5");
}

TEST_F(AppTest, BrokenConfigIsAnErrorNamingTheLine) {
  ASSERT_OK(WriteFileAtomic(ConfigFile(), "[limits]\nmax_ram_usage = \"lots\"\n"));
  App app = MakeApp();
  auto r = app.models().ListModels({});
  EXPECT_THAT(r, StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(r, StatusHasMessage(HasSubstr("config.toml:2")));
}

TEST_F(AppTest, ProfilesRoundTrip) {
  App app = MakeApp();
  ProfilePatch patch;
  patch.temperature = 0.2;
  patch.inherits = "balanced";
  Profile p = *app.profiles().CreateProfile("code", patch);
  EXPECT_DOUBLE_EQ(p.temperature, 0.2);
  EXPECT_EQ(p.max_tokens, app.profiles().GetProfile("balanced")->max_tokens);
  EXPECT_THAT(app.profiles().CreateProfile("code", patch), StatusIs(StatusCode::kAlreadyExists));
  ProfilePatch upd;
  upd.max_tokens = 64;
  EXPECT_EQ(app.profiles().UpdateProfile("code", upd)->max_tokens, 64);
  EXPECT_OK(app.profiles().DeleteProfile("code"));
  EXPECT_THAT(app.profiles().GetProfile("code"), StatusIs(StatusCode::kNotFound));
}

TEST_F(AppTest, HardwareComesFromTheFixtureRoot) {
  App laptop = MakeApp("laptop");
  const HardwareInfo* hw = *laptop.fit().Hardware();
  EXPECT_TRUE(hw->gpus.empty());
  EXPECT_EQ(laptop.profiles().RecommendProfile()->profile, "fast");
  App box = MakeApp("workstation");
  EXPECT_EQ(box.profiles().RecommendProfile()->profile, "quality");
}

}  // namespace
}  // namespace hangar::app
