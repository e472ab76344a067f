// The vocabulary of a Hugging Face checkpoint written as GGUF tokenizer keys
// (`tokenizer.ggml.*`, `tokenizer.chat_template`), as llama.cpp's converter
// writes them: SentencePiece pieces with scores and types, or byte-level BPE
// tokens with types, merges and the pre-tokenizer name; special token ids,
// add_bos/add_eos and the chat template from tokenizer_config.json,
// tokenizer.json's post-processor and config.json.
//
// Plain functions: thread-safe.
#ifndef HANGAR_CHECKPOINT_VOCAB_H_
#define HANGAR_CHECKPOINT_VOCAB_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "checkpoint/hf_checkpoint.h"
#include "core/status.h"
#include "gguf/writer.h"

namespace hangar::checkpoint {

struct VocabFacts {
  std::string model;          // "llama" (SentencePiece) or "gpt2" (BPE)
  std::string pre;            // "default", "llama-bpe", "qwen2", "gpt-2"
  uint64_t tokens = 0;        // entries in tokenizer.ggml.tokens
  uint64_t source_tokens = 0; // tokens the tokenizer files define (before padding)
};

// Writes the vocabulary of `c` for GGUF architecture `arch` into `w` (when
// not null; null only reads and checks). InvalidArgument naming the file and
// what is wrong: no tokenizer, a BPE pre-tokenizer llama.cpp has no name for
// (its regular expression is quoted), a SentencePiece-style tokenizer.json
// without tokenizer.model, broken JSON.
Result<VocabFacts> ConvertVocab(const HfCheckpoint& c, std::string_view arch, gguf::GgufWriter* w);

// The llama.cpp pre-tokenizer name for a tokenizer.json "pre_tokenizer"
// object, or InvalidArgument quoting what it holds.
Result<std::string> DetectPreTokenizer(const nlohmann::json& pre_tokenizer);

}  // namespace hangar::checkpoint

#endif  // HANGAR_CHECKPOINT_VOCAB_H_
