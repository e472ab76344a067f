// Hangar's settings in llama.cpp's terms: the flash attention setting and
// ggml tensor types. The type ids and names are those of gguf/ggml_types.h
// (Hangar's table of ggml's types); here they become llama.cpp's enums, each
// checked, so no other code casts an integer to ggml_type.
//
// Pure functions of constant data: thread-safe.
#ifndef HANGAR_LLAMACPP_TYPES_H_
#define HANGAR_LLAMACPP_TYPES_H_

#include <cstdint>
#include <optional>

#include "core/status.h"
#include "gguf/ggml_types.h"
#include "llama.h"

namespace hangar::llamacpp {

// llama.cpp's flash attention setting for `forced`: nullopt lets llama.cpp
// decide (LLAMA_FLASH_ATTN_TYPE_AUTO), true forces it on (ENABLED), false off
// (DISABLED).
llama_flash_attn_type FlashAttnType(std::optional<bool> forced);
// The inverse of FlashAttnType.
std::optional<bool> FlashAttnForced(llama_flash_attn_type type);

// The ggml_type of ggml type id `id` (gguf::GgmlType::id, e.g. from
// fit::CacheTypeId). InvalidArgument naming the id when it is not a type of
// gguf/ggml_types.h (unknown, or removed from ggml).
Result<ggml_type> ToGgmlType(uint32_t id);
// Hangar's entry for `type` (its name, block and type sizes), or nullptr when
// gguf/ggml_types.h does not know it.
const gguf::GgmlType* FromGgmlType(ggml_type type);

}  // namespace hangar::llamacpp

#endif  // HANGAR_LLAMACPP_TYPES_H_
