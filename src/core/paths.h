// Where Hangar and the tools it shares files with keep things, resolved from
// the environment (defaults from DESIGN.md, "Where things live"):
//
//   config_file   $HANGAR_CONFIG, else $XDG_CONFIG_HOME/hangar/config.toml,
//                 else ~/.config/hangar/config.toml
//   data_dir      $XDG_DATA_HOME/hangar, else ~/.local/share/hangar
//                   state.db, blobs/sha256-<hex>, manifests/
//   cache_dir     $XDG_CACHE_HOME/hangar, else ~/.cache/hangar
//   hf_hub_cache  $HF_HUB_CACHE, else $HF_HOME/hub, else
//                 $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub
//   ollama_models $OLLAMA_MODELS, else ~/.ollama/models
//   lmstudio_models  ~/.lmstudio/models
//   llama_cache   $LLAMA_CACHE, else $XDG_CACHE_HOME/llama.cpp, else ~/.cache/llama.cpp
//   gpt4all_models   $XDG_DATA_HOME/nomic.ai/GPT4All, else ~/.local/share/nomic.ai/GPT4All
//
// Resolution is pure: nothing is created on disk.
#ifndef HANGAR_CORE_PATHS_H_
#define HANGAR_CORE_PATHS_H_

#include <filesystem>

#include "core/env.h"
#include "core/status.h"

namespace hangar {

struct Paths {
  std::filesystem::path home;
  std::filesystem::path config_file;
  std::filesystem::path data_dir;
  std::filesystem::path cache_dir;
  std::filesystem::path hf_hub_cache;
  std::filesystem::path ollama_models;
  std::filesystem::path lmstudio_models;
  std::filesystem::path llama_cache;
  std::filesystem::path gpt4all_models;

  std::filesystem::path state_db() const { return data_dir / "state.db"; }
  std::filesystem::path blobs_dir() const { return data_dir / "blobs"; }
  std::filesystem::path config_dir() const { return config_file.parent_path(); }
};

// FailedPrecondition when neither HOME nor the XDG variables give a place.
Result<Paths> ResolvePaths(const Environment& env);

}  // namespace hangar

#endif  // HANGAR_CORE_PATHS_H_
