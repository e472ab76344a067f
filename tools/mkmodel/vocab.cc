#include "mkmodel/vocab.h"

#include <gguf.h>

#include <algorithm>
#include <cstdlib>
#include <system_error>
#include <utility>

namespace hangar::mkmodel {
namespace {

constexpr std::string_view kPrefix = "ggml-vocab-";
constexpr std::string_view kSuffix = ".gguf";

bool LooksLikePath(std::string_view vocab) {
  return vocab.find('/') != std::string_view::npos ||
         (vocab.size() > kSuffix.size() && vocab.ends_with(kSuffix));
}

std::string Join(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

}  // namespace

std::filesystem::path DefaultVocabDir() {
  if (const char* env = std::getenv("HANGAR_VOCAB_DIR"); env != nullptr && *env != '\0') {
    return env;
  }
#ifdef HANGAR_DEFAULT_VOCAB_DIR
  return HANGAR_DEFAULT_VOCAB_DIR;
#else
  return {};
#endif
}

std::vector<std::string> ListVocabs(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string file = entry.path().filename().string();
    if (file.starts_with(kPrefix) && file.ends_with(kSuffix)) {
      names.push_back(file.substr(kPrefix.size(), file.size() - kPrefix.size() - kSuffix.size()));
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

Result<Vocab> Vocab::Open(std::string_view vocab, const std::filesystem::path& dir) {
  Vocab v;
  if (LooksLikePath(vocab)) {
    v.path_ = std::filesystem::path(vocab);
    v.name_ = v.path_.stem().string();
    if (v.name_.starts_with(kPrefix)) v.name_ = v.name_.substr(kPrefix.size());
  } else {
    v.name_ = std::string(vocab);
    v.path_ = dir / (std::string(kPrefix) + v.name_ + std::string(kSuffix));
  }
  std::error_code ec;
  if (!std::filesystem::is_regular_file(v.path_, ec)) {
    std::string msg = "vocabulary file " + v.path_.string() + " not found";
    if (!LooksLikePath(vocab)) {
      const std::vector<std::string> known = ListVocabs(dir);
      msg += known.empty() ? "; set --vocab-dir or HANGAR_VOCAB_DIR to the folder of "
                             "llama.cpp's ggml-vocab-*.gguf files"
                           : "; available: " + Join(known);
    }
    return NotFoundError(msg);
  }
  const uintmax_t size = std::filesystem::file_size(v.path_, ec);
  v.metadata_bytes_ = ec ? 0 : static_cast<uint64_t>(size);

  gguf_init_params params{.no_alloc = true, .ctx = nullptr};
  v.ctx_ = gguf_init_from_file(v.path_.c_str(), params);
  if (v.ctx_ == nullptr) {
    return InvalidArgumentError("vocabulary file " + v.path_.string() +
                                " is not a readable GGUF file");
  }
  const int64_t tokens = gguf_find_key(v.ctx_, "tokenizer.ggml.tokens");
  if (tokens < 0 || gguf_get_kv_type(v.ctx_, tokens) != GGUF_TYPE_ARRAY ||
      gguf_get_arr_n(v.ctx_, tokens) == 0) {
    return InvalidArgumentError("vocabulary file " + v.path_.string() +
                                " has no tokenizer.ggml.tokens; use a ggml-vocab-*.gguf file");
  }
  v.n_tokens_ = static_cast<uint32_t>(gguf_get_arr_n(v.ctx_, tokens));
  return v;
}

Vocab::Vocab(Vocab&& other) noexcept
    : name_(std::move(other.name_)),
      path_(std::move(other.path_)),
      n_tokens_(other.n_tokens_),
      metadata_bytes_(other.metadata_bytes_),
      ctx_(std::exchange(other.ctx_, nullptr)) {}

Vocab& Vocab::operator=(Vocab&& other) noexcept {
  if (this != &other) {
    if (ctx_ != nullptr) gguf_free(ctx_);
    name_ = std::move(other.name_);
    path_ = std::move(other.path_);
    n_tokens_ = other.n_tokens_;
    metadata_bytes_ = other.metadata_bytes_;
    ctx_ = std::exchange(other.ctx_, nullptr);
  }
  return *this;
}

Vocab::~Vocab() {
  if (ctx_ != nullptr) gguf_free(ctx_);
}

bool Vocab::has_chat_template() const {
  return gguf_find_key(ctx_, "tokenizer.chat_template") >= 0;
}

std::optional<uint32_t> Vocab::FindToken(std::string_view text) const {
  const int64_t tokens = gguf_find_key(ctx_, "tokenizer.ggml.tokens");
  if (tokens < 0) return std::nullopt;
  for (uint32_t i = 0; i < n_tokens_; ++i) {
    if (text == gguf_get_arr_str(ctx_, tokens, i)) return i;
  }
  return std::nullopt;
}

void Vocab::CopyTokenizerTo(gguf_context* dst) const {
  const int64_t n = gguf_get_n_kv(ctx_);
  for (int64_t i = 0; i < n; ++i) {
    const char* key = gguf_get_key(ctx_, i);
    if (std::string_view(key).rfind("tokenizer.", 0) != 0) continue;
    switch (gguf_get_kv_type(ctx_, i)) {
      case GGUF_TYPE_UINT8:
        gguf_set_val_u8(dst, key, gguf_get_val_u8(ctx_, i));
        break;
      case GGUF_TYPE_INT8:
        gguf_set_val_i8(dst, key, gguf_get_val_i8(ctx_, i));
        break;
      case GGUF_TYPE_UINT16:
        gguf_set_val_u16(dst, key, gguf_get_val_u16(ctx_, i));
        break;
      case GGUF_TYPE_INT16:
        gguf_set_val_i16(dst, key, gguf_get_val_i16(ctx_, i));
        break;
      case GGUF_TYPE_UINT32:
        gguf_set_val_u32(dst, key, gguf_get_val_u32(ctx_, i));
        break;
      case GGUF_TYPE_INT32:
        gguf_set_val_i32(dst, key, gguf_get_val_i32(ctx_, i));
        break;
      case GGUF_TYPE_FLOAT32:
        gguf_set_val_f32(dst, key, gguf_get_val_f32(ctx_, i));
        break;
      case GGUF_TYPE_UINT64:
        gguf_set_val_u64(dst, key, gguf_get_val_u64(ctx_, i));
        break;
      case GGUF_TYPE_INT64:
        gguf_set_val_i64(dst, key, gguf_get_val_i64(ctx_, i));
        break;
      case GGUF_TYPE_FLOAT64:
        gguf_set_val_f64(dst, key, gguf_get_val_f64(ctx_, i));
        break;
      case GGUF_TYPE_BOOL:
        gguf_set_val_bool(dst, key, gguf_get_val_bool(ctx_, i));
        break;
      case GGUF_TYPE_STRING:
        gguf_set_val_str(dst, key, gguf_get_val_str(ctx_, i));
        break;
      case GGUF_TYPE_ARRAY: {
        const gguf_type type = gguf_get_arr_type(ctx_, i);
        const size_t count = gguf_get_arr_n(ctx_, i);
        if (type == GGUF_TYPE_STRING) {
          std::vector<const char*> items(count);
          for (size_t j = 0; j < count; ++j) items[j] = gguf_get_arr_str(ctx_, i, j);
          gguf_set_arr_str(dst, key, items.data(), count);
        } else {
          gguf_set_arr_data(dst, key, type, gguf_get_arr_data(ctx_, i), count);
        }
        break;
      }
      default:
        break;  // no other types exist in GGUF v3
    }
  }
  if (!has_chat_template()) {
    gguf_set_val_str(dst, "tokenizer.chat_template", std::string(kDefaultChatTemplate).c_str());
  }
}

}  // namespace hangar::mkmodel
