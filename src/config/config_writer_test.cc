#include "config/config_writer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <toml++/toml.h>

#include <filesystem>

#include "config/settings.h"
#include "core/file_util.h"
#include "core/status_matchers.h"

namespace hangar {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr std::string_view kOriginal = R"(# My settings
default_model = "gemma2-2b-it"
editor = "vim"

[limits]
max_ram_usage = "70%"
os_reserve = "3GB"

[model_presets.gemma2-2b-it]
weights = "~/models/2b-it.sbs"
size_gb = 2.5
avg_tokens_per_sec = 45
tags = ["small", "chat"]

[model_presets."qwen2.5-7b"]
hf_repo = "Qwen/Qwen2.5-7B-Instruct-GGUF"
parameters = 7.6

[performance_profiles.mine]
temperature = 0.65
top_k = 0x20
description = "Mine"

[performance_profiles.fast]
max_tokens = 256

[server]
port = 8080
origins = ["http://localhost", "http://127.0.0.1"]
started = 2024-05-27T07:32:00Z
tls = { enabled = false, cert = "" }

[server.auth.tokens]
admin = "s3cr3t"

[[hooks]]
event = "pull"
run = "notify-send done"

[[hooks]]
event = "rm"
)";

toml::table ParseTree(std::string_view text) {
  return toml::parse(text, std::string_view("config.toml"));
}

class ConfigWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::path(::testing::TempDir()) / "hangar_writer_XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = dir_ / "config.toml";
    ASSERT_OK(WriteFileAtomic(path_, kOriginal));
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Contents() {
    auto text = ReadFile(path_);
    EXPECT_OK(text);
    return text.value_or("");
  }
  toml::table Tree() { return ParseTree(Contents()); }

  // Only config.toml is in the folder: no temporary file was left behind.
  void ExpectNoStrayFiles() {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename());
    EXPECT_THAT(names, ElementsAre("config.toml"));
  }

  fs::path dir_;
  fs::path path_;
};

TEST_F(ConfigWriterTest, EveryChangeKeepsAllOtherKeys) {
  ProfilePatch create;
  create.inherits = "mine";
  create.max_tokens = 2048;
  create.description = "Code generation";
  auto c = CreateProfile(path_, "code", create);
  ASSERT_OK(c);
  EXPECT_EQ(c->FindProfile("code")->max_tokens, 2048);
  EXPECT_DOUBLE_EQ(c->FindProfile("code")->temperature, 0.65);

  ProfilePatch update;
  update.temperature = 0.2;
  update.unset = {"top_k"};
  ASSERT_OK(UpdateProfile(path_, "mine", update));

  ASSERT_OK(DeleteProfile(path_, "fast"));
  ASSERT_OK(SetDefaultModel(path_, "qwen2.5-7b"));

  toml::table expected = ParseTree(kOriginal);
  expected.insert_or_assign("default_model", "qwen2.5-7b");
  toml::table& profiles = *expected["performance_profiles"].as_table();
  profiles.erase("fast");
  profiles["mine"].as_table()->insert_or_assign("temperature", 0.2);
  profiles["mine"].as_table()->erase("top_k");
  profiles.insert("code", toml::table{{"inherits", "mine"},
                                      {"max_tokens", int64_t{2048}},
                                      {"description", "Code generation"}});
  EXPECT_EQ(Tree(), expected) << Contents();

  std::string text = Contents();
  EXPECT_THAT(text, HasSubstr("temperature = 0.2\n"));
  EXPECT_THAT(text, HasSubstr("avg_tokens_per_sec = 45\n"));
  EXPECT_THAT(text, HasSubstr("[[hooks]]"));
  ExpectNoStrayFiles();

  auto loaded = Config::Load(path_);
  ASSERT_OK(loaded);
  EXPECT_THAT(loaded->warnings(), ElementsAre(HasSubstr("editor: unknown key")));
  EXPECT_EQ(loaded->default_model(), "qwen2.5-7b");
  EXPECT_EQ(*loaded->FindProfile("fast"), *FindBuiltinProfile("fast"));
  EXPECT_EQ(loaded->FindProfile("mine")->top_k, FindBuiltinProfile("balanced")->top_k);
  EXPECT_EQ(loaded->limits().os_reserve.bytes, 3'000'000'000u);
  EXPECT_EQ(loaded->FindPreset("qwen2.5-7b")->parameters, 7'600'000'000u);
}

TEST_F(ConfigWriterTest, CreateExistingIsAlreadyExists) {
  EXPECT_THAT(CreateProfile(path_, "mine", {}), StatusIs(StatusCode::kAlreadyExists));
  EXPECT_THAT(CreateProfile(path_, "quality", {}), StatusIs(StatusCode::kAlreadyExists));
  EXPECT_THAT(CreateProfile(path_, "quality", {}), StatusHasMessage(HasSubstr("built-in")));
  EXPECT_EQ(Contents(), kOriginal);
}

TEST_F(ConfigWriterTest, UpdateAndDeleteMissingAreNotFound) {
  ProfilePatch p;
  p.top_k = 3;
  EXPECT_THAT(UpdateProfile(path_, "ghost", p), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(DeleteProfile(path_, "ghost"), StatusIs(StatusCode::kNotFound));
  EXPECT_EQ(Contents(), kOriginal);
}

TEST_F(ConfigWriterTest, DeleteBuiltinAndOverride) {
  auto r = DeleteProfile(path_, "quality");
  EXPECT_THAT(r, StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_THAT(r, StatusHasMessage(HasSubstr("built in")));
  EXPECT_EQ(Contents(), kOriginal);

  auto c = DeleteProfile(path_, "fast");  // the override goes, the built-in stays
  ASSERT_OK(c);
  EXPECT_EQ(*c->FindProfile("fast"), *FindBuiltinProfile("fast"));
  EXPECT_THAT(DeleteProfile(path_, "fast"), StatusIs(StatusCode::kFailedPrecondition));
}

TEST_F(ConfigWriterTest, ModelPresetsAddedAndRemovedKeepEverythingElse) {
  auto added = AddModelPreset(path_, "made", dir_ / "blob.gguf", "created from a blob");
  ASSERT_OK(added);
  ASSERT_NE(added->FindPreset("made"), nullptr);
  EXPECT_EQ(*added->FindPreset("made")->weights, (dir_ / "blob.gguf").string());
  EXPECT_TRUE(Tree().contains("performance_profiles"));
  EXPECT_THAT(AddModelPreset(path_, "made", dir_ / "x.gguf", ""),
              StatusIs(StatusCode::kAlreadyExists));
  EXPECT_THAT(AddModelPreset(path_, "../evil", dir_ / "x.gguf", ""),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(AddModelPreset(path_, "name:tag", dir_ / "x.gguf", ""),
              StatusIs(StatusCode::kInvalidArgument));
  // Chat defaults (Ollama's create system/template/parameters) are written
  // and read back; a bad one names its key and writes nothing.
  ModelPreset more;
  more.system = "Be brief.";
  more.chat_template = "{{ messages[0].content }}";
  more.temperature = 0.2;
  more.max_tokens = 64;
  more.stop = std::vector<std::string>{"END", "STOP"};
  auto chatty = AddModelPreset(path_, "chatty", dir_ / "blob.gguf", "", more);
  ASSERT_OK(chatty);
  const ModelPreset* read = chatty->FindPreset("chatty");
  ASSERT_NE(read, nullptr);
  EXPECT_EQ(read->system, more.system);
  EXPECT_EQ(read->chat_template, more.chat_template);
  EXPECT_EQ(read->temperature, more.temperature);
  EXPECT_EQ(read->max_tokens, more.max_tokens);
  EXPECT_EQ(read->stop, more.stop);
  more.temperature = 7;
  auto bad = AddModelPreset(path_, "hot", dir_ / "blob.gguf", "", more);
  EXPECT_THAT(bad, StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(bad, StatusHasMessage(HasSubstr("temperature")));
  ASSERT_OK(RemoveModelPreset(path_, "chatty"));
  auto removed = RemoveModelPreset(path_, "made");
  ASSERT_OK(removed);
  EXPECT_EQ(removed->FindPreset("made"), nullptr);
  EXPECT_THAT(RemoveModelPreset(path_, "made"), StatusIs(StatusCode::kNotFound));
  EXPECT_TRUE(Tree().contains("server"));
  ExpectNoStrayFiles();
}

TEST_F(ConfigWriterTest, DeletingTheLastProfileRemovesTheTable) {
  ASSERT_OK(DeleteProfile(path_, "fast"));
  ASSERT_OK(DeleteProfile(path_, "mine"));
  EXPECT_FALSE(Tree().contains("performance_profiles"));
  EXPECT_TRUE(Tree().contains("server"));
}

TEST_F(ConfigWriterTest, DeletingAParentIsRefused) {
  ProfilePatch child;
  child.inherits = "mine";
  ASSERT_OK(CreateProfile(path_, "child", child));
  std::string before = Contents();
  auto r = DeleteProfile(path_, "mine");
  EXPECT_THAT(r, StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_THAT(r, StatusHasMessage(HasSubstr("\"child\" inherits from it")));
  EXPECT_EQ(Contents(), before);
}

TEST_F(ConfigWriterTest, UpdatingABuiltinCreatesTheOverride) {
  ProfilePatch p;
  p.top_p = 0.5;
  auto c = UpdateProfile(path_, "creative", p);
  ASSERT_OK(c);
  const Profile* creative = c->FindProfile("creative");
  EXPECT_EQ(creative->origin, ProfileOrigin::kOverride);
  EXPECT_DOUBLE_EQ(creative->top_p, 0.5);
  EXPECT_EQ(creative->max_tokens, FindBuiltinProfile("creative")->max_tokens);
  EXPECT_EQ(Tree()["performance_profiles"]["creative"]["top_p"].value<double>(), 0.5);
}

struct InvalidChange {
  const char* name;
  std::function<Result<Config>(const fs::path&)> change;
  const char* message;
};

TEST_F(ConfigWriterTest, InvalidChangesLeaveTheFileUntouched) {
  const InvalidChange cases[] = {
      {"temperature",
       [](const fs::path& p) {
         ProfilePatch patch;
         patch.temperature = 3.5;
         return CreateProfile(p, "hot", patch);
       },
       "performance_profiles.hot.temperature: must be between 0 and 2, got 3.5"},
      {"unknown parent",
       [](const fs::path& p) {
         ProfilePatch patch;
         patch.inherits = "nope";
         return UpdateProfile(p, "mine", patch);
       },
       "unknown profile \"nope\""},
      {"cycle",
       [](const fs::path& p) {
         ProfilePatch patch;
         patch.inherits = "fast";
         auto r = UpdateProfile(p, "mine", patch);
         if (!r.ok()) return r;
         patch.inherits = "mine";
         return UpdateProfile(p, "fast", patch);
       },
       "inheritance cycle"},
      {"name", [](const fs::path& p) { return CreateProfile(p, "two words", {}); },
       "invalid profile name"},
      {"unset key",
       [](const fs::path& p) {
         ProfilePatch patch;
         patch.unset = {"colour"};
         return UpdateProfile(p, "mine", patch);
       },
       "not a profile key"},
      {"empty update", [](const fs::path& p) { return UpdateProfile(p, "mine", {}); },
       "nothing to change"},
      {"default model", [](const fs::path& p) { return SetDefaultModel(p, "bad\nid"); },
       "control characters"},
      {"empty default model", [](const fs::path& p) { return SetDefaultModel(p, ""); }, "empty id"},
  };
  for (const InvalidChange& c : cases) {
    SCOPED_TRACE(c.name);
    ASSERT_OK(WriteFileAtomic(path_, kOriginal));
    auto r = c.change(path_);
    EXPECT_THAT(r, StatusIs(StatusCode::kInvalidArgument));
    EXPECT_THAT(r, StatusHasMessage(HasSubstr(c.message)));
    if (std::string_view(c.name) != "cycle") {
      EXPECT_EQ(Contents(), kOriginal);
    }
    ExpectNoStrayFiles();
  }
}

TEST_F(ConfigWriterTest, BrokenFileIsNotChanged) {
  std::string broken = std::string(kOriginal) + "\n[limits.oops\n";
  ASSERT_OK(WriteFileAtomic(path_, broken));
  EXPECT_THAT(SetDefaultModel(path_, "x"), StatusIs(StatusCode::kInvalidArgument));
  std::string invalid = "[performance_profiles.a]\ntop_p = 7\n";
  ASSERT_OK(WriteFileAtomic(path_, invalid));
  auto r = CreateProfile(path_, "b", {});
  EXPECT_THAT(r, StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(r, StatusHasMessage(HasSubstr(path_.string() + ":2: performance_profiles.a.top_p")));
  EXPECT_THAT(r, StatusHasMessage(HasSubstr("fix the file before changing it")));
  EXPECT_EQ(Contents(), invalid);
}

TEST_F(ConfigWriterTest, MissingFileIsCreated) {
  fs::path fresh = dir_ / "sub" / "config.toml";
  ProfilePatch p;
  p.max_tokens = 64;
  ASSERT_OK(CreateProfile(fresh, "tiny", p));
  auto c = Config::Load(fresh);
  ASSERT_OK(c);
  EXPECT_EQ(c->FindProfile("tiny")->max_tokens, 64);

  fs::path other = dir_ / "other.toml";
  auto cleared = ClearDefaultModel(other);
  ASSERT_OK(cleared);
  EXPECT_FALSE(cleared->exists());
  EXPECT_FALSE(fs::exists(other));
}

TEST_F(ConfigWriterTest, ClearDefaultModel) {
  auto c = ClearDefaultModel(path_);
  ASSERT_OK(c);
  EXPECT_FALSE(c->default_model().has_value());
  toml::table expected = ParseTree(kOriginal);
  expected.erase("default_model");
  EXPECT_EQ(Tree(), expected);
}

TEST_F(ConfigWriterTest, SettingsAreSetRemovedAndReadBack) {
  auto c = ChangeSettings(path_, {{"limits.max_ram_usage", "60%"},
                                  {"limits.os_reserve", nullptr},
                                  {"downloads.connections", 4},
                                  {"downloads.max_speed", "25MB"},
                                  {"runtime.gpu", "off"},
                                  {"runtime.idle_ttl", "10m"},
                                  {"updates.check", "1d"}});
  ASSERT_OK(c);
  EXPECT_DOUBLE_EQ(c->limits().max_ram_usage.fraction, 0.6);
  EXPECT_EQ(c->limits().os_reserve, Limits().os_reserve);  // the default again
  EXPECT_EQ(c->downloads().connections, 4);
  EXPECT_EQ(c->downloads().max_speed, 25'000'000u);
  EXPECT_EQ(c->runtime().gpu, "off");
  EXPECT_EQ(c->runtime().idle_ttl_seconds, 600);
  EXPECT_EQ(c->updates().check_interval_seconds, 86400);
  // What SettingsJson reports is what a change writes back to the same values.
  nlohmann::json shown = SettingsJson(*c);
  nlohmann::json again = nlohmann::json::object();
  for (const nlohmann::json& s : shown) again[s["key"].get<std::string>()] = s["value"];
  EXPECT_EQ(again.size(), SettingKeys().size());
  EXPECT_EQ(again["limits.max_ram_usage"], "60%");
  EXPECT_EQ(again["limits.os_reserve"], "2GB");
  EXPECT_EQ(again["downloads.max_speed"], "25MB");
  EXPECT_EQ(again["runtime.idle_ttl"], "10m");
  EXPECT_EQ(again["updates.check"], "1d");
  auto same = ChangeSettings(path_, again);
  ASSERT_OK(same);
  EXPECT_EQ(SettingsJson(*same), shown);
  // Everything else in the file is kept.
  EXPECT_EQ(same->default_model(), "gemma2-2b-it");
  EXPECT_NE(Tree()["server"].as_table(), nullptr);
  ExpectNoStrayFiles();
}

TEST_F(ConfigWriterTest, BadSettingsChangeNothingAndNameTheKey) {
  const std::string before = Contents();
  EXPECT_THAT(ChangeSettings(path_, {{"limits.max_ram", "50%"}}),
              StatusHasMessage(HasSubstr("limits.max_ram: not a setting")));
  EXPECT_THAT(ChangeSettings(path_, {{"downloads.connections", 0}}),
              StatusHasMessage(HasSubstr("downloads.connections")));
  EXPECT_THAT(ChangeSettings(path_, {{"downloads.connections", "many"}}),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ChangeSettings(path_, {{"runtime.gpu", "always"}}),
              StatusHasMessage(HasSubstr("\"auto\" or \"off\"")));
  EXPECT_THAT(ChangeSettings(path_, {{"updates.check", "10s"}}),
              StatusHasMessage(HasSubstr("at least a minute")));
  // One bad value among good ones: none is written.
  EXPECT_THAT(ChangeSettings(path_, {{"limits.os_reserve", "1GB"}, {"limits.max_ram_usage", "150%"}}),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ChangeSettings(path_, nlohmann::json::object()), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_EQ(Contents(), before);
  ExpectNoStrayFiles();
}

}  // namespace
}  // namespace hangar
