#include "core/paths.h"

#include <gtest/gtest.h>

#include "core/status_matchers.h"

namespace hangar {
namespace {

TEST(PathsTest, DefaultsFromHome) {
  MapEnvironment env({{"HOME", "/home/ann"}});
  Paths p = *ResolvePaths(env);
  EXPECT_EQ(p.config_file, "/home/ann/.config/hangar/config.toml");
  EXPECT_EQ(p.data_dir, "/home/ann/.local/share/hangar");
  EXPECT_EQ(p.state_db(), "/home/ann/.local/share/hangar/state.db");
  EXPECT_EQ(p.blobs_dir(), "/home/ann/.local/share/hangar/blobs");
  EXPECT_EQ(p.cache_dir, "/home/ann/.cache/hangar");
  EXPECT_EQ(p.hf_hub_cache, "/home/ann/.cache/huggingface/hub");
  EXPECT_EQ(p.ollama_models, "/home/ann/.ollama/models");
  EXPECT_EQ(p.lmstudio_models, "/home/ann/.lmstudio/models");
  EXPECT_EQ(p.llama_cache, "/home/ann/.cache/llama.cpp");
  EXPECT_EQ(p.gpt4all_models, "/home/ann/.local/share/nomic.ai/GPT4All");
}

TEST(PathsTest, XdgVariablesWin) {
  MapEnvironment env({{"HOME", "/home/ann"},
                      {"XDG_CONFIG_HOME", "/cfg"},
                      {"XDG_DATA_HOME", "/data"},
                      {"XDG_CACHE_HOME", "/cache"}});
  Paths p = *ResolvePaths(env);
  EXPECT_EQ(p.config_file, "/cfg/hangar/config.toml");
  EXPECT_EQ(p.data_dir, "/data/hangar");
  EXPECT_EQ(p.hf_hub_cache, "/cache/huggingface/hub");
  EXPECT_EQ(p.llama_cache, "/cache/llama.cpp");
}

TEST(PathsTest, HuggingFaceVariablesInOrder) {
  MapEnvironment env({{"HOME", "/h"}, {"HF_HOME", "/hf"}});
  EXPECT_EQ(ResolvePaths(env)->hf_hub_cache, "/hf/hub");
  env.Set("HF_HUB_CACHE", "/hub-cache");
  EXPECT_EQ(ResolvePaths(env)->hf_hub_cache, "/hub-cache");
}

TEST(PathsTest, ToolVariables) {
  MapEnvironment env({{"HOME", "/h"},
                      {"OLLAMA_MODELS", "/srv/ollama"},
                      {"LLAMA_CACHE", "/srv/llama"},
                      {"HANGAR_CONFIG", "/etc/hangar.toml"}});
  Paths p = *ResolvePaths(env);
  EXPECT_EQ(p.ollama_models, "/srv/ollama");
  EXPECT_EQ(p.llama_cache, "/srv/llama");
  EXPECT_EQ(p.config_file, "/etc/hangar.toml");
  EXPECT_EQ(p.config_dir(), "/etc");
}

TEST(PathsTest, EmptyValuesCountAsUnset) {
  MapEnvironment env({{"HOME", "/h"}, {"XDG_DATA_HOME", ""}});
  EXPECT_EQ(ResolvePaths(env)->data_dir, "/h/.local/share/hangar");
}

TEST(PathsTest, NoHomeIsAnError) {
  MapEnvironment env;
  EXPECT_THAT(ResolvePaths(env), StatusIs(StatusCode::kFailedPrecondition));
}

}  // namespace
}  // namespace hangar
