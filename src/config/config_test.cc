#include "config/config.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "core/file_util.h"
#include "core/status_matchers.h"

namespace hangar {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr std::string_view kFull = R"(# Hangar configuration
default_model = "qwen2.5-coder-7b-q5"

[limits]
max_ram_usage = "75%"
gpu_memory_usage = "6GiB"
os_reserve = 1000000000

[model_presets.gemma2-2b-it]
weights = "~/models/gemma/2b-it.sbs"
tokenizer = "~/models/gemma/tokenizer.spm"
format = "sfp"
size_gb = 2.5
avg_tokens_per_sec = 45
quality = "medium"
use_case = "Fast iteration"
context_length = 8192
min_ram_gb = 4

[model_presets."qwen2.5-coder-7b-q5"]
hf_repo = "Qwen/Qwen2.5-Coder-7B-Instruct-GGUF"
hf_file = "qwen2.5-coder-7b-instruct-q5_k_m.gguf"
ollama = "qwen2.5-coder:7b"
quantization = "Q5_K_M"
family = "qwen2"
parameters = "7.6B"
purpose = "coding"
tags = ["code", "chat"]
description = "Coder"
sha256 = "ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
layers = 28
embedding = 3584
heads = 28
kv_heads = 4
head_dim = 128

[performance_profiles.code]
inherits = "precise"
max_tokens = 4096
description = "Code generation"

[performance_profiles.fast]
temperature = 0.3

[future_section]
anything = [1, 2]
)";

TEST(ConfigTest, DefaultsWithoutFile) {
  Config c;
  EXPECT_FALSE(c.exists());
  EXPECT_EQ(c.profiles(), BuiltinProfiles());
  EXPECT_THAT(c.presets(), IsEmpty());
  EXPECT_EQ(c.limits(), Limits());
  EXPECT_TRUE(c.limits().max_ram_usage.is_fraction);
  EXPECT_DOUBLE_EQ(c.limits().max_ram_usage.fraction, 0.8);
  EXPECT_DOUBLE_EQ(c.limits().gpu_memory_usage.fraction, 0.9);
  EXPECT_EQ(c.limits().os_reserve.bytes, 2'000'000'000u);
  EXPECT_FALSE(c.default_model().has_value());
  EXPECT_THAT(c.warnings(), IsEmpty());
}

TEST(ConfigTest, EmptyTextIsDefaults) {
  auto c = Config::Parse("# nothing\n", "config.toml");
  ASSERT_OK(c);
  EXPECT_TRUE(c->exists());
  EXPECT_EQ(c->profiles(), BuiltinProfiles());
  EXPECT_EQ(c->limits(), Limits());
}

TEST(ConfigTest, FullFile) {
  auto c = Config::Parse(kFull, "config.toml");
  ASSERT_OK(c);
  EXPECT_THAT(c->warnings(), IsEmpty());
  EXPECT_EQ(c->default_model(), "qwen2.5-coder-7b-q5");

  EXPECT_DOUBLE_EQ(c->limits().max_ram_usage.fraction, 0.75);
  EXPECT_FALSE(c->limits().gpu_memory_usage.is_fraction);
  EXPECT_EQ(c->limits().gpu_memory_usage.bytes, 6 * kGiB);
  EXPECT_EQ(c->limits().os_reserve.bytes, 1'000'000'000u);

  ASSERT_THAT(c->presets(), SizeIs(2));
  const ModelPreset* gemma = c->FindPreset("gemma2-2b-it");
  ASSERT_NE(gemma, nullptr);
  EXPECT_EQ(gemma->weights, "~/models/gemma/2b-it.sbs");
  EXPECT_EQ(gemma->format, "sfp");
  EXPECT_EQ(gemma->size_gb, 2.5);
  EXPECT_EQ(gemma->avg_tokens_per_sec, 45.0);
  EXPECT_EQ(gemma->context_length, 8192);
  EXPECT_EQ(gemma->min_ram_gb, 4.0);
  EXPECT_FALSE(gemma->hf_repo.has_value());
  const ModelPreset* qwen = c->FindPreset("qwen2.5-coder-7b-q5");
  ASSERT_NE(qwen, nullptr);
  EXPECT_EQ(qwen->parameters, 7'600'000'000u);
  EXPECT_EQ(qwen->tags, (std::vector<std::string>{"code", "chat"}));
  EXPECT_EQ(qwen->sha256, "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
  EXPECT_EQ(qwen->kv_heads, 4);
  EXPECT_EQ(qwen->ollama, "qwen2.5-coder:7b");
  EXPECT_EQ(c->FindPreset("nope"), nullptr);

  const Profile* code = c->FindProfile("code");
  ASSERT_NE(code, nullptr);
  EXPECT_EQ(code->max_tokens, 4096);
  EXPECT_DOUBLE_EQ(code->temperature, FindBuiltinProfile("precise")->temperature);
  EXPECT_EQ(code->origin, ProfileOrigin::kUser);
  const Profile* fast = c->FindProfile("fast");
  ASSERT_NE(fast, nullptr);
  EXPECT_DOUBLE_EQ(fast->temperature, 0.3);
  EXPECT_EQ(fast->max_tokens, FindBuiltinProfile("fast")->max_tokens);
  EXPECT_EQ(fast->origin, ProfileOrigin::kOverride);
  EXPECT_THAT(c->profiles(), SizeIs(6));
  EXPECT_THAT(c->GetProfile("missing"), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(c->GetProfile("missing"), StatusHasMessage(HasSubstr("balanced, code, creative")));
}

TEST(ConfigTest, RuntimeTable) {
  EXPECT_EQ(Config().runtime(), RuntimeConfig());
  EXPECT_EQ(Config().runtime().idle_ttl_seconds, 300);
  auto c = Config::Parse(
      "[runtime]\nbackend = \"ollama\"\nidle_ttl = \"15m\"\nollama_host = \"http://box:11434\"\n"
      "openai_base_url = \"http://127.0.0.1:9/v1\"\nopenai_api_key_env = \"MY_KEY\"\nspeed = 1\n",
      "config.toml");
  ASSERT_OK(c);
  EXPECT_EQ(c->runtime().backend, "ollama");
  EXPECT_EQ(c->runtime().idle_ttl_seconds, 900);
  EXPECT_EQ(c->runtime().ollama_host, "http://box:11434");
  EXPECT_EQ(c->runtime().openai_base_url, "http://127.0.0.1:9/v1");
  EXPECT_EQ(c->runtime().openai_api_key_env, "MY_KEY");
  ASSERT_THAT(c->warnings(), SizeIs(1));
  EXPECT_THAT(c->warnings()[0], HasSubstr("runtime.speed"));
  auto never = Config::Parse("[runtime]\nidle_ttl = 0\n", "config.toml");
  ASSERT_OK(never);
  EXPECT_EQ(never->runtime().idle_ttl_seconds, 0);
  EXPECT_EQ(ToJson(*c)["runtime"]["idle_ttl_seconds"], 900);
}

TEST(ConfigTest, Json) {
  auto c = Config::Parse(kFull, "config.toml");
  ASSERT_OK(c);
  nlohmann::json j = ToJson(*c);
  EXPECT_EQ(j["file"], "config.toml");
  EXPECT_EQ(j["exists"], true);
  EXPECT_EQ(j["default_model"], "qwen2.5-coder-7b-q5");
  EXPECT_EQ(j["limits"]["max_ram_usage"]["fraction"], 0.75);
  EXPECT_EQ(j["limits"]["os_reserve"]["bytes"], 1000000000);
  EXPECT_EQ(j["profiles"].size(), 6u);
  EXPECT_EQ(j["presets"][1]["hf_repo"], "Qwen/Qwen2.5-Coder-7B-Instruct-GGUF");
  EXPECT_TRUE(j["warnings"].is_array());
  EXPECT_TRUE(ToJson(Config())["default_model"].is_null());
}

TEST(ConfigTest, UnknownKeysWarnUnknownTablesAreIgnored) {
  auto c = Config::Parse(R"(
colour = "blue"
[limits]
max_ram = "50%"
[performance_profiles.fast]
temprature = 0.5
[model_presets.m]
weigths = "x"
[server]
port = 8080
[[hooks]]
run = "echo"
[defaults]
model = "x"
)",
                         "config.toml");
  ASSERT_OK(c);
  EXPECT_THAT(c->warnings(),
              ElementsAre(HasSubstr("config.toml:2: colour: unknown key"),
                          HasSubstr("config.toml:14: defaults.model: ignored"),
                          HasSubstr("config.toml:4: limits.max_ram: unknown key, ignored"),
                          HasSubstr("config.toml:8: model_presets.m.weigths: unknown key"),
                          HasSubstr("config.toml:6: performance_profiles.fast.temprature")));
  EXPECT_EQ(c->limits(), Limits());
  Profile fast = *c->FindProfile("fast");  // an override with no known keys changes no value
  EXPECT_EQ(fast.origin, ProfileOrigin::kOverride);
  fast.origin = ProfileOrigin::kBuiltin;
  EXPECT_EQ(fast, *FindBuiltinProfile("fast"));
}

struct BrokenCase {
  const char* name;
  const char* text;
  const char* location;  // "config.toml:LINE"
  const char* key;       // the key (or for syntax errors, the text) named
  const char* what;
};

TEST(ConfigTest, BrokenFiles) {
  const BrokenCase cases[] = {
      {"syntax", "# x\n[performance_profiles.fast]\ntemperature = \n",
       "config.toml:3:", "temperature", "TOML syntax error"},
      {"duplicate key", "[limits]\nos_reserve = \"1GB\"\nos_reserve = \"2GB\"\n",
       "config.toml:3:", "os_reserve", "TOML syntax error"},
      {"wrong type", "\n[performance_profiles.fast]\ntemperature = \"hot\"\n", "config.toml:3:",
       "performance_profiles.fast.temperature", "expected a number, got string \"hot\""},
      {"temperature range", "\n[performance_profiles.fast]\ntemperature = 3.5\n", "config.toml:3:",
       "performance_profiles.fast.temperature", "must be between 0 and 2, got 3.5"},
      {"top_p range", "[performance_profiles.x]\n\ntop_p = 1.5\n",
       "config.toml:3:", "performance_profiles.x.top_p", "must be above 0 and at most 1, got 1.5"},
      // llama.cpp cannot sample with top_p 0: config refuses what a run would.
      {"top_p zero", "[performance_profiles.x]\ntop_p = 0\n",
       "config.toml:2:", "performance_profiles.x.top_p", "must be above 0 and at most 1, got 0"},
      {"repeat_penalty zero", "[performance_profiles.x]\nrepeat_penalty = 0\n",
       "config.toml:2:", "performance_profiles.x.repeat_penalty", "must be above 0"},
      {"top_k range", "[performance_profiles.x]\ntop_k = -1\n",
       "config.toml:2:", "performance_profiles.x.top_k", "got -1"},
      {"max_tokens zero", "[performance_profiles.x]\nmax_tokens = 0\n",
       "config.toml:2:", "performance_profiles.x.max_tokens", "must be between 1 and"},
      {"max_tokens float", "[performance_profiles.x]\nmax_tokens = 1.5\n",
       "config.toml:2:", "performance_profiles.x.max_tokens", "expected an integer, got float 1.5"},
      {"min_p nan", "[performance_profiles.x]\nmin_p = nan\n",
       "config.toml:2:", "performance_profiles.x.min_p", "must be between 0 and 1"},
      {"unknown inherits", "[performance_profiles.x]\ntop_k = 1\ninherits = \"nope\"\n",
       "config.toml:3:", "performance_profiles.x.inherits", "unknown profile \"nope\""},
      {"inherits cycle",
       "[performance_profiles.a]\ninherits = \"b\"\n[performance_profiles.b]\ninherits = \"a\"\n",
       "config.toml:4:", "performance_profiles.b.inherits", "inheritance cycle b -> a -> b"},
      {"inherits type", "[performance_profiles.a]\ninherits = [\"b\"]\n",
       "config.toml:2:", "performance_profiles.a.inherits", "expected a string, got array"},
      {"profile name", "[performance_profiles.\"my profile\"]\ntop_k = 1\n",
       "config.toml:1:", "performance_profiles.\"my profile\"", "invalid profile name"},
      {"profile not a table", "[performance_profiles]\nfast = 1\n",
       "config.toml:2:", "performance_profiles.fast", "expected a table"},
      {"profiles not a table", "performance_profiles = 3\n",
       "config.toml:1:", "performance_profiles", "expected a table"},
      {"bad size", "\n[limits]\nos_reserve = \"2 parsecs\"\n",
       "config.toml:3:", "limits.os_reserve", "invalid amount \"2 parsecs\""},
      {"bad percent", "[limits]\nmax_ram_usage = \"120%\"\n",
       "config.toml:2:", "limits.max_ram_usage", "120%"},
      {"zero ram", "[limits]\nmax_ram_usage = \"0%\"\n", "config.toml:2:", "limits.max_ram_usage",
       "must be more than 0"},
      {"limit type", "[limits]\ngpu_memory_usage = 0.9\n",
       "config.toml:2:", "limits.gpu_memory_usage", "expected a share such as \"80%\""},
      {"negative limit", "[limits]\nos_reserve = -1\n", "config.toml:2:", "limits.os_reserve",
       "must be 0 or more"},
      {"limits not a table", "limits = \"80%\"\n", "config.toml:1:", "limits", "expected a table"},
      {"sha256", "[model_presets.m]\nsha256 = \"abc\"\n",
       "config.toml:2:", "model_presets.m.sha256", "64 hex digits"},
      {"context_length", "[model_presets.m]\ncontext_length = -1\n",
       "config.toml:2:", "model_presets.m.context_length", "greater than 0"},
      {"size_gb type", "[model_presets.m]\nsize_gb = \"big\"\n",
       "config.toml:2:", "model_presets.m.size_gb", "expected a number"},
      {"tags", "[model_presets.m]\ntags = \"chat\"\n", "config.toml:2:", "model_presets.m.tags",
       "expected an array of strings"},
      {"tag item", "[model_presets.m]\ntags = [\"a\", 2]\n",
       "config.toml:2:", "model_presets.m.tags[1]", "expected a string, got integer 2"},
      {"parameters", "[model_presets.m]\nparameters = \"lots\"\n",
       "config.toml:2:", "model_presets.m.parameters", "invalid parameter count"},
      {"preset name", "[model_presets.\"a/b\"]\nsize_gb = 1\n",
       "config.toml:1:", "model_presets.\"a/b\"", "invalid preset name"},
      {"default model type", "\ndefault_model = 5\n", "config.toml:2:", "default_model",
       "expected a string"},
      {"default model empty", "default_model = \" \"\n", "config.toml:1:", "default_model",
       "must name a model"},
      {"store folders type", "[store]\nfolders = \"/models\"\n", "config.toml:2:", "store.folders",
       "expected an array of strings"},
      {"connections range", "[downloads]\nconnections = 0\n",
       "config.toml:2:", "downloads.connections", "must be between 1 and 64, got 0"},
      {"connections type", "[downloads]\nconnections = \"8\"\n",
       "config.toml:2:", "downloads.connections", "expected an integer"},
      {"max speed", "[downloads]\n\nmax_speed = \"fast\"\n",
       "config.toml:3:", "downloads.max_speed", "fast"},
      {"idle ttl", "[runtime]\nidle_ttl = \"soon\"\n", "config.toml:2:", "runtime.idle_ttl",
       "soon"},
      {"idle ttl negative", "[runtime]\nidle_ttl = -5\n", "config.toml:2:", "runtime.idle_ttl",
       "must be 0 or more"},
      {"idle ttl type", "[runtime]\nidle_ttl = 1.5\n", "config.toml:2:", "runtime.idle_ttl",
       "a duration"},
      {"runtime backend empty", "[runtime]\nbackend = \"\"\n", "config.toml:2:", "runtime.backend",
       "must not be empty"},
      {"runtime not a table", "runtime = 1\n", "config.toml:1:", "runtime", "expected a table"},
  };
  for (const BrokenCase& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = Config::Parse(c.text, "config.toml");
    EXPECT_THAT(r, StatusIs(StatusCode::kInvalidArgument));
    EXPECT_THAT(r, StatusHasMessage(HasSubstr(c.location)));
    EXPECT_THAT(r, StatusHasMessage(HasSubstr(c.key)));
    EXPECT_THAT(r, StatusHasMessage(HasSubstr(c.what)));
  }
}

TEST(ConfigTest, StoreAndDownloads) {
  auto c = Config::Parse(
      "[store]\nfolders = [\"/models\", \"/srv/gguf\"]\n"
      "[downloads]\nconnections = 16\nmax_speed = \"50MB/s\"\n",
      "config.toml");
  ASSERT_OK(c);
  EXPECT_THAT(c->store().folders, testing::ElementsAre("/models", "/srv/gguf"));
  EXPECT_EQ(c->downloads().connections, 16);
  EXPECT_EQ(c->downloads().max_speed, 50'000'000u);
  EXPECT_TRUE(c->warnings().empty());
  Config defaults;
  EXPECT_EQ(defaults.downloads().connections, kDefaultDownloadConnections);
  EXPECT_EQ(defaults.downloads().max_speed, 0u);
  EXPECT_TRUE(defaults.store().folders.empty());
}

TEST(ConfigTest, ExampleMessage) {
  auto r = Config::Parse(
      "# 1\n# 2\n# 3\n[performance_profiles.fast]\n# 5\n# 6\n# 7\n# 8\n# 9\n"
      "# 10\n# 11\ntemperature = 3.5\n",
      "config.toml");
  EXPECT_THAT(r, StatusHasMessage(std::string("config.toml:12: performance_profiles.fast."
                                              "temperature: must be between 0 and 2, got 3.5")));
}

TEST(ConfigTest, TwoHundredPresets) {
  std::string text;
  for (int i = 0; i < 200; ++i) {
    text += "[model_presets.model-" + std::to_string(i) + "]\n";
    text += "hf_repo = \"org/model-" + std::to_string(i) + "-GGUF\"\n";
    text += "hf_file = \"model-q4_k_m.gguf\"\nquantization = \"Q4_K_M\"\nfamily = \"llama\"\n";
    text += "parameters = 8\nsize_gb = 4.9\ncontext_length = 131072\nmin_ram_gb = 8\n";
    text += "tags = [\"chat\", \"general\"]\nlayers = 32\nheads = 32\nkv_heads = 8\n\n";
  }
  auto c = Config::Parse(text, "config.toml");
  ASSERT_OK(c);
  ASSERT_THAT(c->presets(), SizeIs(200));
  EXPECT_EQ(c->FindPreset("model-199")->hf_repo, "org/model-199-GGUF");
  EXPECT_EQ(c->FindPreset("model-7")->parameters, 8'000'000'000u);
}

class ConfigLoadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::path(::testing::TempDir()) / "hangar_config_XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(ConfigLoadTest, MissingFileIsDefaults) {
  auto c = Config::Load(dir_ / "hangar" / "config.toml");
  ASSERT_OK(c);
  EXPECT_FALSE(c->exists());
  EXPECT_EQ(c->profiles(), BuiltinProfiles());
  EXPECT_EQ(c->file_name(), (dir_ / "hangar" / "config.toml").string());
}

TEST_F(ConfigLoadTest, LoadsAndNamesThePath) {
  fs::path path = dir_ / "config.toml";
  ASSERT_OK(WriteFileAtomic(path, kFull));
  auto c = Config::Load(path);
  ASSERT_OK(c);
  EXPECT_TRUE(c->exists());
  EXPECT_EQ(c->default_model(), "qwen2.5-coder-7b-q5");

  ASSERT_OK(WriteFileAtomic(path, "[limits]\nos_reserve = true\n"));
  EXPECT_THAT(Config::Load(path), StatusHasMessage(HasSubstr(path.string() + ":2: limits")));
}

TEST_F(ConfigLoadTest, UnreadableIsUnavailable) {
  EXPECT_THAT(Config::Load(dir_), StatusIs(StatusCode::kUnavailable));
}

TEST(ConfigTest, ClusterWorkersAreReadAndChecked) {
  auto c = Config::Parse("[cluster]\nworkers = [\"10.0.0.2:50052\", \"gpu-box:7000\"]\n", "c.toml");
  ASSERT_OK(c);
  EXPECT_EQ(c->cluster().workers, (std::vector<std::string>{"10.0.0.2:50052", "gpu-box:7000"}));
  EXPECT_TRUE(Config::Parse("", "c.toml")->cluster().workers.empty());
  for (const char* bad : {"10.0.0.2", "10.0.0.2:0", "host:65535", "::1:50052", "[::1]:50052",
                          ":50052", "a/b:1", "host:12x"}) {
    auto r = Config::Parse(fmt::format("[cluster]\nworkers = [\"{}\"]\n", bad), "c.toml");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_THAT(r.status().message(), HasSubstr("cluster.workers")) << bad;
  }
  auto twice = Config::Parse("[cluster]\nworkers = [\"a:1\", \"a:1\"]\n", "c.toml");
  ASSERT_FALSE(twice.ok());
  EXPECT_THAT(twice.status().message(), HasSubstr("listed twice"));
}

}  // namespace
}  // namespace hangar
