#include "config/runtime_config.h"

namespace hangar {

std::span<const std::string_view> RuntimeKeys() {
  static constexpr std::string_view kKeys[] = {"backend", "idle_ttl", "ollama_host",
                                               "openai_base_url", "openai_api_key_env", "gpu"};
  return kKeys;
}

nlohmann::json ToJson(const RuntimeConfig& r) {
  return {{"backend", r.backend},
          {"idle_ttl_seconds", r.idle_ttl_seconds},
          {"ollama_host", r.ollama_host},
          {"openai_base_url", r.openai_base_url},
          {"openai_api_key_env", r.openai_api_key_env},
          {"gpu", r.gpu}};
}

}  // namespace hangar
