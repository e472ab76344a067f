#include "config/profile.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/status_matchers.h"
#include "core/units.h"

namespace hangar {
namespace {

using ::testing::HasSubstr;

TEST(BuiltinProfilesTest, FiveSortedProfilesWithValidValues) {
  std::vector<std::string> names;
  for (const Profile& p : BuiltinProfiles()) {
    names.push_back(p.name);
    EXPECT_EQ(p.origin, ProfileOrigin::kBuiltin);
    EXPECT_FALSE(p.description.empty()) << p.name;
    EXPECT_EQ(CheckProfileNumber("max_tokens", p.max_tokens), "") << p.name;
    EXPECT_EQ(CheckProfileNumber("temperature", p.temperature), "") << p.name;
    EXPECT_EQ(CheckProfileNumber("top_p", p.top_p), "") << p.name;
    EXPECT_EQ(CheckProfileNumber("top_k", p.top_k), "") << p.name;
    EXPECT_EQ(CheckProfileNumber("min_p", p.min_p), "") << p.name;
    EXPECT_EQ(CheckProfileNumber("repeat_penalty", p.repeat_penalty), "") << p.name;
  }
  EXPECT_THAT(names, ::testing::ElementsAre("balanced", "creative", "fast", "precise", "quality"));
}

TEST(BuiltinProfilesTest, BalancedMatchesSpec) {
  const Profile* p = FindBuiltinProfile("balanced");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->max_tokens, 1024);
  EXPECT_DOUBLE_EQ(p->temperature, 0.7);
  EXPECT_DOUBLE_EQ(p->top_p, 0.95);
  EXPECT_EQ(p->top_k, 50);
  EXPECT_EQ(p->use_case, "general");
  EXPECT_EQ(FindBuiltinProfile("nope"), nullptr);
}

struct NumberCase {
  const char* key;
  double value;
  bool ok;
};

TEST(CheckProfileNumberTest, Ranges) {
  const NumberCase cases[] = {
      {"max_tokens", 1, true},      {"max_tokens", 0, false},
      {"max_tokens", -5, false},    {"max_tokens", 3e9, false},
      {"temperature", 0, true},     {"temperature", 2, true},
      {"temperature", 2.01, false}, {"temperature", -0.1, false},
      {"temperature", NAN, false},  {"top_p", 1, true},
      {"top_p", 1.5, false},        {"top_k", 0, true},
      {"top_k", -1, false},         {"min_p", 0, true},
      {"min_p", 1.1, false},        {"repeat_penalty", 1, true},
      {"repeat_penalty", 0, false}, {"repeat_penalty", INFINITY, false},
      {"description", 99, true},
  };
  for (const NumberCase& c : cases) {
    EXPECT_EQ(CheckProfileNumber(c.key, c.value).empty(), c.ok) << c.key << "=" << c.value;
  }
  EXPECT_EQ(CheckProfileNumber("temperature", 3.5), "must be between 0 and 2, got 3.5");
}

TEST(CheckProfileNameTest, Names) {
  EXPECT_EQ(CheckProfileName("my_profile-2"), "");
  EXPECT_NE(CheckProfileName(""), "");
  EXPECT_NE(CheckProfileName("has space"), "");
  EXPECT_NE(CheckProfileName("dot.ted"), "");
  EXPECT_NE(CheckProfileName(std::string(65, 'a')), "");
}

ProfileDefinition Def(std::string name, ProfilePatch patch) {
  ProfileDefinition d;
  d.inherits_location = "config.toml:9: performance_profiles." + name + ".inherits";
  d.name = std::move(name);
  d.patch = std::move(patch);
  return d;
}

const Profile& Get(const std::vector<Profile>& v, std::string_view name) {
  for (const Profile& p : v) {
    if (p.name == name) return p;
  }
  static Profile none;
  ADD_FAILURE() << "no profile " << name;
  return none;
}

TEST(ResolveProfilesTest, NoDefinitionsGivesBuiltins) {
  auto r = ResolveProfiles({});
  ASSERT_OK(r);
  EXPECT_EQ(*r, BuiltinProfiles());
}

TEST(ResolveProfilesTest, ChainInheritsUnsetKeys) {
  ProfilePatch base;
  base.inherits = "creative";
  base.max_tokens = 300;
  ProfilePatch mid;
  mid.inherits = "base";
  mid.temperature = 0.3;
  ProfilePatch leaf;
  leaf.inherits = "mid";
  leaf.top_k = 7;
  leaf.description = "leaf";
  std::vector<ProfileDefinition> defs = {Def("leaf", leaf), Def("mid", mid), Def("base", base)};
  auto r = ResolveProfiles(defs);
  ASSERT_OK(r);
  const Profile& p = Get(*r, "leaf");
  const Profile& creative = *FindBuiltinProfile("creative");
  EXPECT_EQ(p.max_tokens, 300);
  EXPECT_DOUBLE_EQ(p.temperature, 0.3);
  EXPECT_EQ(p.top_k, 7);
  EXPECT_DOUBLE_EQ(p.top_p, creative.top_p);
  EXPECT_DOUBLE_EQ(p.repeat_penalty, creative.repeat_penalty);
  EXPECT_EQ(p.description, "leaf");
  EXPECT_EQ(Get(*r, "mid").description, creative.description);
  EXPECT_EQ(p.inherits, "mid");
  EXPECT_EQ(p.origin, ProfileOrigin::kUser);
  EXPECT_EQ(r->size(), BuiltinProfiles().size() + 3);
  EXPECT_TRUE(std::is_sorted(r->begin(), r->end(),
                             [](const Profile& a, const Profile& b) { return a.name < b.name; }));
}

TEST(ResolveProfilesTest, OverrideKeepsUnsetBuiltinValues) {
  ProfilePatch fast;
  fast.temperature = 0.1;
  std::vector<ProfileDefinition> defs = {Def("fast", fast)};
  auto r = ResolveProfiles(defs);
  ASSERT_OK(r);
  Profile expected = *FindBuiltinProfile("fast");
  expected.temperature = 0.1;
  expected.origin = ProfileOrigin::kOverride;
  EXPECT_EQ(Get(*r, "fast"), expected);
  EXPECT_EQ(r->size(), BuiltinProfiles().size());
}

TEST(ResolveProfilesTest, InheritingAnOverriddenNameGetsTheOverride) {
  ProfilePatch fast;
  fast.max_tokens = 99;
  ProfilePatch child;
  child.inherits = "fast";
  std::vector<ProfileDefinition> defs = {Def("fast", fast), Def("child", child)};
  auto r = ResolveProfiles(defs);
  ASSERT_OK(r);
  EXPECT_EQ(Get(*r, "child").max_tokens, 99);
}

TEST(ResolveProfilesTest, NewProfileWithoutParentStartsFromBalancedSampling) {
  ProfilePatch mine;
  mine.max_tokens = 10;
  std::vector<ProfileDefinition> defs = {Def("mine", mine)};
  auto r = ResolveProfiles(defs);
  ASSERT_OK(r);
  const Profile& p = Get(*r, "mine");
  EXPECT_EQ(p.max_tokens, 10);
  EXPECT_DOUBLE_EQ(p.temperature, FindBuiltinProfile("balanced")->temperature);
  EXPECT_EQ(p.description, "");
  EXPECT_EQ(p.use_case, "");
}

TEST(ResolveProfilesTest, UnknownParent) {
  ProfilePatch p;
  p.inherits = "nope";
  std::vector<ProfileDefinition> defs = {Def("a", p)};
  auto r = ResolveProfiles(defs);
  EXPECT_THAT(r, StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(r, StatusHasMessage(HasSubstr("config.toml:9: performance_profiles.a.inherits")));
  EXPECT_THAT(r, StatusHasMessage(HasSubstr("unknown profile \"nope\"")));
  EXPECT_THAT(r, StatusHasMessage(HasSubstr("balanced")));
}

TEST(ResolveProfilesTest, Cycles) {
  ProfilePatch a, b, c;
  a.inherits = "b";
  b.inherits = "c";
  c.inherits = "a";
  std::vector<ProfileDefinition> defs = {Def("a", a), Def("b", b), Def("c", c)};
  auto r = ResolveProfiles(defs);
  EXPECT_THAT(r, StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(r, StatusHasMessage(HasSubstr(
                     "performance_profiles.c.inherits: inheritance cycle c -> a -> b -> c")));

  ProfilePatch self;
  self.inherits = "fast";
  std::vector<ProfileDefinition> selfdefs = {Def("fast", self)};
  EXPECT_THAT(ResolveProfiles(selfdefs),
              StatusHasMessage(HasSubstr("performance_profiles.fast.inherits: inheritance cycle "
                                         "fast -> fast")));
}

struct RecommendCase {
  uint64_t ram;
  int cores;
  const char* profile;
};

TEST(RecommendProfileTest, ByHardware) {
  const RecommendCase cases[] = {
      {64 * kGiB, 16, "quality"}, {32 * kGB, 8, "quality"},  {31 * kGiB, 8, "quality"},
      {64 * kGiB, 4, "balanced"}, {16 * kGB, 2, "balanced"}, {15 * kGiB, 8, "balanced"},
      {15 * kGB, 16, "fast"},     {8 * kGiB, 4, "fast"},     {0, 0, "fast"},
  };
  for (const RecommendCase& c : cases) {
    ProfileRecommendation r = RecommendProfile(c.ram, c.cores);
    EXPECT_EQ(r.profile, c.profile) << c.ram << " bytes, " << c.cores << " cores";
    EXPECT_FALSE(r.reason.empty());
  }
  EXPECT_THAT(RecommendProfile(64 * kGiB, 4).reason, HasSubstr("8 physical cores, found 4"));
}

TEST(ProfileJsonTest, Shape) {
  Profile p = *FindBuiltinProfile("balanced");
  nlohmann::json j = ToJson(p);
  EXPECT_EQ(j["name"], "balanced");
  EXPECT_EQ(j["max_tokens"], 1024);
  EXPECT_EQ(j["temperature"], 0.7);
  EXPECT_EQ(j["top_k"], 50);
  EXPECT_TRUE(j["inherits"].is_null());
  EXPECT_EQ(j["origin"], "builtin");
  p.inherits = "fast";
  p.origin = ProfileOrigin::kUser;
  EXPECT_EQ(ToJson(p)["inherits"], "fast");
  EXPECT_EQ(ToJson(p)["origin"], "user");
}

}  // namespace
}  // namespace hangar
