// Vocab: the tokenizer of a real model, read from one of llama.cpp's
// ggml-vocab-*.gguf files (metadata only, no tensors), so generated models
// tokenize text the way the real ones do.
//
// A Vocab owns the parsed GGUF metadata of its file; it is movable, not
// copyable, and safe to read from several threads.
#ifndef HANGAR_TOOLS_MKMODEL_VOCAB_H_
#define HANGAR_TOOLS_MKMODEL_VOCAB_H_

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

struct gguf_context;

namespace hangar::mkmodel {

// The chat template written when the vocabulary file has none (ChatML).
inline constexpr std::string_view kDefaultChatTemplate =
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\\n' }}{% endif %}";

// The folder of ggml-vocab-*.gguf files: $HANGAR_VOCAB_DIR when set, else the
// one of the llama.cpp build this program was built against.
std::filesystem::path DefaultVocabDir();

// Names ("qwen2", "llama-spm", ...) of the ggml-vocab-<name>.gguf files in
// `dir`, sorted; empty when the folder cannot be read.
std::vector<std::string> ListVocabs(const std::filesystem::path& dir);

class Vocab {
 public:
  // Opens `vocab`: a name resolved to `dir`/ggml-vocab-<name>.gguf, or a path
  // to a .gguf file (anything containing '/' or ending in ".gguf").
  // NotFound when the file does not exist (naming the available vocabularies),
  // InvalidArgument when it is not GGUF or has no tokenizer.ggml.tokens.
  static Result<Vocab> Open(std::string_view vocab, const std::filesystem::path& dir);

  Vocab(Vocab&&) noexcept;
  Vocab& operator=(Vocab&&) noexcept;
  ~Vocab();

  const std::string& name() const { return name_; }
  const std::filesystem::path& path() const { return path_; }
  uint32_t n_tokens() const { return n_tokens_; }
  // Bytes the tokenizer metadata takes in a model file (about the vocabulary
  // file's size).
  uint64_t metadata_bytes() const { return metadata_bytes_; }
  bool has_chat_template() const;
  // The id of the token whose text is exactly `text`; nullopt when none is.
  std::optional<uint32_t> FindToken(std::string_view text) const;

  // Copies every tokenizer.* key into `dst`, and sets tokenizer.chat_template
  // to kDefaultChatTemplate when the file has none.
  void CopyTokenizerTo(gguf_context* dst) const;

 private:
  Vocab() = default;

  std::string name_;
  std::filesystem::path path_;
  uint32_t n_tokens_ = 0;
  uint64_t metadata_bytes_ = 0;
  gguf_context* ctx_ = nullptr;  // owned
};

}  // namespace hangar::mkmodel

#endif  // HANGAR_TOOLS_MKMODEL_VOCAB_H_
