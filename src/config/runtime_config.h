// RuntimeConfig: how models are run, from the [runtime] table of config.toml:
//
//   [runtime]
//   backend = "llama"            # llama (in-process, default), ollama or openai
//   idle_ttl = "5m"              # unload a model idle this long ("0": never); see core/units.h
//   ollama_host = "http://127.0.0.1:11434"      # else $OLLAMA_HOST, else this
//   openai_base_url = "http://127.0.0.1:8080/v1" # else $OPENAI_BASE_URL, else this
//   openai_api_key_env = "OPENAI_API_KEY"       # the variable holding the key
//   gpu = "auto"                 # auto: offload what fits (the fit planner); off: CPU only
//
// Plain values: thread-safe.
#ifndef HANGAR_CONFIG_RUNTIME_CONFIG_H_
#define HANGAR_CONFIG_RUNTIME_CONFIG_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>

namespace hangar {

inline constexpr int64_t kDefaultIdleTtlSeconds = 300;

struct RuntimeConfig {
  std::string backend = "llama";
  int64_t idle_ttl_seconds = kDefaultIdleTtlSeconds;
  std::string ollama_host;
  std::string openai_base_url;
  std::string openai_api_key_env = "OPENAI_API_KEY";
  std::string gpu = "auto";  // "auto" or "off"
  friend bool operator==(const RuntimeConfig&, const RuntimeConfig&) = default;
};

// backend, idle_ttl, ollama_host, openai_base_url, openai_api_key_env, gpu.
std::span<const std::string_view> RuntimeKeys();

// {"backend", "idle_ttl_seconds", "ollama_host", "openai_base_url", "openai_api_key_env", "gpu"}
nlohmann::json ToJson(const RuntimeConfig& runtime);

}  // namespace hangar

#endif  // HANGAR_CONFIG_RUNTIME_CONFIG_H_
