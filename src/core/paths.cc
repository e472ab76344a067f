#include "core/paths.h"

namespace hangar {

namespace fs = std::filesystem;

Result<Paths> ResolvePaths(const Environment& env) {
  Paths p;
  auto home = env.Get("HOME");
  auto xdg_config = env.Get("XDG_CONFIG_HOME");
  auto xdg_data = env.Get("XDG_DATA_HOME");
  auto xdg_cache = env.Get("XDG_CACHE_HOME");
  if (!home && !(xdg_config && xdg_data && xdg_cache)) {
    return FailedPreconditionError(
        "cannot tell where to keep files: HOME is not set (set HOME or XDG_CONFIG_HOME, "
        "XDG_DATA_HOME and XDG_CACHE_HOME)");
  }
  p.home = home ? fs::path(*home) : fs::path();
  fs::path config_home = xdg_config ? fs::path(*xdg_config) : p.home / ".config";
  fs::path data_home = xdg_data ? fs::path(*xdg_data) : p.home / ".local" / "share";
  fs::path cache_home = xdg_cache ? fs::path(*xdg_cache) : p.home / ".cache";

  if (auto c = env.Get("HANGAR_CONFIG")) {
    p.config_file = *c;
  } else {
    p.config_file = config_home / "hangar" / "config.toml";
  }
  p.data_dir = data_home / "hangar";
  p.cache_dir = cache_home / "hangar";

  if (auto v = env.Get("HF_HUB_CACHE")) {
    p.hf_hub_cache = *v;
  } else if (auto hf_home = env.Get("HF_HOME")) {
    p.hf_hub_cache = fs::path(*hf_home) / "hub";
  } else {
    p.hf_hub_cache = cache_home / "huggingface" / "hub";
  }
  if (auto v = env.Get("OLLAMA_MODELS")) {
    p.ollama_models = *v;
  } else {
    p.ollama_models = p.home / ".ollama" / "models";
  }
  p.lmstudio_models = p.home / ".lmstudio" / "models";
  if (auto v = env.Get("LLAMA_CACHE")) {
    p.llama_cache = *v;
  } else {
    p.llama_cache = cache_home / "llama.cpp";
  }
  p.gpt4all_models = data_home / "nomic.ai" / "GPT4All";
  return p;
}

}  // namespace hangar
