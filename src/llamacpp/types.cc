#include "llamacpp/types.h"

#include <fmt/format.h>

namespace hangar::llamacpp {

llama_flash_attn_type FlashAttnType(std::optional<bool> forced) {
  if (!forced) return LLAMA_FLASH_ATTN_TYPE_AUTO;
  return *forced ? LLAMA_FLASH_ATTN_TYPE_ENABLED : LLAMA_FLASH_ATTN_TYPE_DISABLED;
}

std::optional<bool> FlashAttnForced(llama_flash_attn_type type) {
  switch (type) {
    case LLAMA_FLASH_ATTN_TYPE_ENABLED:
      return true;
    case LLAMA_FLASH_ATTN_TYPE_DISABLED:
      return false;
    case LLAMA_FLASH_ATTN_TYPE_AUTO:
      break;
  }
  return std::nullopt;
}

Result<ggml_type> ToGgmlType(uint32_t id) {
  if (gguf::FindGgmlType(id) == nullptr) {
    return InvalidArgumentError(
        fmt::format("ggml type id {} is not a tensor type this build of Hangar knows", id));
  }
  return static_cast<ggml_type>(id);
}

const gguf::GgmlType* FromGgmlType(ggml_type type) {
  return gguf::FindGgmlType(static_cast<uint32_t>(type));
}

}  // namespace hangar::llamacpp
