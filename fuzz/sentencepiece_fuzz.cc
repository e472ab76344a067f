// libFuzzer target: SentencePiece models (tokenizer.model) through the wire
// reader. Any input must give a model or an error, never a crash, a leak or
// undefined behaviour.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "checkpoint/sentencepiece.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)hangar::checkpoint::ParseSentencePiece(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
