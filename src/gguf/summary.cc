#include "gguf/summary.h"

#include <fmt/format.h>

#include <algorithm>
#include <string_view>

#include "gguf/ggml_types.h"
#include "gguf/parser.h"

namespace hangar::gguf {
namespace {

// llama.cpp's sliding-window layer pattern per architecture when the file
// has no sliding_window_pattern key (load_swa_pattern calls in src/models/).
struct SwaDefault {
  std::string_view arch;
  uint32_t period;
  bool dense_first;  // the full-attention layer comes first in each period
};
constexpr SwaDefault kSwaDefaults[] = {
    {"gemma2", 2, false},          {"gemma3", 6, false},     {"gemma3n", 5, false},
    {"gemma-embedding", 6, false}, {"cohere2", 4, false},    {"cohere2moe", 4, true},
    {"llama4", 4, false},          {"gpt-oss", 2, false},    {"olmo2", 4, false},
    {"exaone4", 4, false},         {"exaone-moe", 4, false}, {"smallthinker", 4, true},
    {"modern-bert", 3, true},      {"plamo3", 8, false},     {"afmoe", 4, false},
    {"mellum", 4, false},          {"laguna", 4, true},      {"muse-glimmer", 4, false},
};

std::vector<bool> SwaPattern(uint64_t layers, uint64_t period, bool dense_first) {
  std::vector<bool> out(layers);
  for (uint64_t il = 0; il < layers; ++il) {
    if (period == 0) {
      out[il] = true;
    } else if (dense_first) {
      out[il] = il % period != 0;
    } else {
      out[il] = il % period < period - 1;
    }
  }
  return out;
}

// The unsigned numbers of a kept array, or nothing when any is not one.
std::vector<uint64_t> UintElements(const Array& array) {
  std::vector<uint64_t> out;
  for (const Value& v : array.elements) {
    std::optional<uint64_t> u = v.AsUint();
    if (!u) return {};
    out.push_back(*u);
  }
  return out;
}

// A number key that may instead be an array of per-layer numbers.
void NumberOrPerLayer(const GgufFile& file, const std::string& key, std::optional<uint64_t>* max,
                      std::vector<uint64_t>* per_layer) {
  const KeyValue* kv = file.Find(key);
  if (kv == nullptr) return;
  if (const Array* a = kv->value.AsArray()) {
    *per_layer = UintElements(*a);
    if (!per_layer->empty()) *max = *std::max_element(per_layer->begin(), per_layer->end());
    return;
  }
  *max = kv->value.AsUint();
}

// `text` with every byte sequence that is not UTF-8 replaced by U+FFFD.
std::string Utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    size_t len = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      len = 1;
      cp = c;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    }
    bool ok = len != 0 && i + len <= text.size();
    for (size_t k = 1; ok && k < len; ++k) {
      const auto cc = static_cast<unsigned char>(text[i + k]);
      ok = (cc & 0xC0) == 0x80;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (ok) {
      static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
      ok = cp >= kMin[len] && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
    }
    if (ok) {
      out.append(text.substr(i, len));
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

nlohmann::json OptionalJson(const std::optional<uint64_t>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

std::string Quote(std::string_view s, size_t max_string) {
  std::string out = "\"";
  const size_t n = std::min(s.size(), max_string);
  for (size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += fmt::format("\\x{:02x}", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += "\"";
  if (s.size() > max_string) out += fmt::format("... ({} bytes)", s.size());
  return Utf8(out);
}

std::string TypeText(const Value& value) {
  if (const Array* a = value.AsArray()) {
    return fmt::format("[{}; {}]", ValueTypeName(a->element_type), a->count);
  }
  return std::string(ValueTypeName(value.type));
}

}  // namespace

std::string ModelSummary::FileTypeTag() const {
  if (!file_type) return "";
  const FileType* t = FindFileType(*file_type);
  return t ? std::string(t->tag) : fmt::format("type {}", *file_type);
}

ModelSummary Summarize(const GgufFile& file) { return Summarize(std::span(&file, 1)); }

ModelSummary Summarize(std::span<const GgufFile> parts) {
  ModelSummary s;
  if (parts.empty()) return s;
  const GgufFile& f = parts[0];
  s.version = f.version;
  s.alignment = f.alignment;
  s.data_offset = f.data_offset;
  s.kv_count = f.kvs.size();
  for (size_t p = 0; p < parts.size(); ++p) {
    s.files.push_back(parts[p].name);
    s.header_bytes += parts[p].header_size;
    s.tensor_bytes += parts[p].tensor_bytes;
    s.file_size += parts[p].file_size;
    for (TensorInfo t : parts[p].tensors) {
      t.part = static_cast<uint32_t>(p);
      s.parameter_count += t.elements;
      const GgmlType* type = FindGgmlType(t.type);
      TypeShare& share = s.types[type ? std::string(type->name) : fmt::format("type {}", t.type)];
      ++share.tensors;
      share.bytes += t.size;
      s.tensors.push_back(std::move(t));
    }
  }

  if (const std::string* arch = f.GetString("general.architecture")) s.architecture = *arch;
  if (const std::string* name = f.GetString("general.name")) s.name = *name;
  if (std::optional<uint64_t> ft = f.GetUint("general.file_type"); ft && *ft <= UINT32_MAX) {
    s.file_type = static_cast<uint32_t>(*ft);
  } else if (!s.types.empty()) {
    // llama.cpp's guess: the type of most tensors.
    uint32_t best = 0;
    uint64_t best_count = 0, best_bytes = 0;
    for (const TensorInfo& t : s.tensors) {
      const GgmlType* type = FindGgmlType(t.type);
      if (type == nullptr) continue;
      const TypeShare& share = s.types[std::string(type->name)];
      if (share.tensors > best_count || (share.tensors == best_count && share.bytes > best_bytes)) {
        best = t.type;
        best_count = share.tensors;
        best_bytes = share.bytes;
      }
    }
    if (const FileType* guess = GuessFileType(best)) {
      s.file_type = guess->id;
      s.file_type_guessed = true;
    }
  }

  const std::string a = s.architecture + ".";
  s.context_length = f.GetUint(a + "context_length");
  s.block_count = f.GetUint(a + "block_count");
  s.embedding_length = f.GetUint(a + "embedding_length");
  NumberOrPerLayer(f, a + "feed_forward_length", &s.feed_forward_length,
                   &s.feed_forward_length_per_layer);
  NumberOrPerLayer(f, a + "attention.head_count", &s.head_count, &s.head_count_per_layer);
  NumberOrPerLayer(f, a + "attention.head_count_kv", &s.head_count_kv, &s.head_count_kv_per_layer);
  if (!s.head_count_kv && s.head_count) s.head_count_kv = s.head_count;  // llama.cpp default
  s.key_length = f.GetUint(a + "attention.key_length");
  s.value_length = f.GetUint(a + "attention.value_length");
  if (s.embedding_length && s.head_count && *s.head_count > 0) {
    if (!s.key_length) s.key_length = *s.embedding_length / *s.head_count;
    if (!s.value_length) s.value_length = *s.embedding_length / *s.head_count;
  }
  s.expert_count = f.GetUint(a + "expert_count");
  s.expert_used_count = f.GetUint(a + "expert_used_count");
  s.expert_feed_forward_length = f.GetUint(a + "expert_feed_forward_length");
  s.kv_lora_rank = f.GetUint(a + "attention.kv_lora_rank");
  s.rope_dimension_count = f.GetUint(a + "rope.dimension_count");
  s.ssm_conv_kernel = f.GetUint(a + "ssm.conv_kernel");
  s.ssm_inner_size = f.GetUint(a + "ssm.inner_size");
  s.ssm_state_size = f.GetUint(a + "ssm.state_size");
  s.ssm_time_step_rank = f.GetUint(a + "ssm.time_step_rank");
  s.ssm_group_count = f.GetUint(a + "ssm.group_count");

  s.sliding_window = f.GetUint(a + "attention.sliding_window");
  if (s.sliding_window && *s.sliding_window > 0 && s.architecture != "phi3") {
    const SwaDefault* def = nullptr;
    for (const SwaDefault& d : kSwaDefaults) {
      if (d.arch == s.architecture) def = &d;
    }
    const KeyValue* pattern = f.Find(a + "attention.sliding_window_pattern");
    const Array* flags = pattern ? pattern->value.AsArray() : nullptr;
    if (flags != nullptr && flags->complete()) {
      for (const Value& v : flags->elements) {
        s.sliding_window_layers.push_back(v.AsBool().value_or(v.AsUint().value_or(0) != 0));
      }
    } else if (s.block_count && *s.block_count <= kSmallArrayElements) {
      std::optional<uint64_t> period = pattern ? pattern->value.AsUint() : std::nullopt;
      if (!period && def) period = def->period;
      if (period) {
        s.sliding_window_layers = SwaPattern(*s.block_count, *period, def && def->dense_first);
      }
    }
  }

  if (const Array* tokens = f.GetArray("tokenizer.ggml.tokens")) {
    s.vocab_size = tokens->count;
  } else {
    s.vocab_size = f.GetUint(a + "vocab_size");
  }
  if (const std::string* model = f.GetString("tokenizer.ggml.model")) s.tokenizer_model = *model;
  s.has_chat_template = f.Find("tokenizer.chat_template") != nullptr;
  s.bos_token_id = f.GetUint("tokenizer.ggml.bos_token_id");
  s.eos_token_id = f.GetUint("tokenizer.ggml.eos_token_id");
  return s;
}

nlohmann::json ToJson(const ModelSummary& s, bool with_tensors) {
  using nlohmann::json;
  json j;
  json files = json::array();
  for (const std::string& f : s.files) files.push_back(Utf8(f));
  j["files"] = std::move(files);
  j["version"] = s.version;
  j["architecture"] = Utf8(s.architecture);
  j["name"] = Utf8(s.name);
  j["parameters"] = s.parameter_count;
  if (s.file_type) {
    const FileType* t = FindFileType(*s.file_type);
    j["file_type"] = {{"id", *s.file_type},
                      {"tag", s.FileTypeTag()},
                      {"description", t ? std::string(t->description) : ""},
                      {"guessed", s.file_type_guessed}};
  } else {
    j["file_type"] = nullptr;
  }
  json types = json::object();
  for (const auto& [name, share] : s.types) {
    types[Utf8(name)] = {{"tensors", share.tensors}, {"bytes", share.bytes}};
  }
  j["types"] = std::move(types);

  json h;
  h["context_length"] = OptionalJson(s.context_length);
  h["block_count"] = OptionalJson(s.block_count);
  h["embedding_length"] = OptionalJson(s.embedding_length);
  h["feed_forward_length"] = OptionalJson(s.feed_forward_length);
  h["head_count"] = OptionalJson(s.head_count);
  h["head_count_kv"] = OptionalJson(s.head_count_kv);
  h["key_length"] = OptionalJson(s.key_length);
  h["value_length"] = OptionalJson(s.value_length);
  h["sliding_window"] = OptionalJson(s.sliding_window);
  h["expert_count"] = OptionalJson(s.expert_count);
  h["expert_used_count"] = OptionalJson(s.expert_used_count);
  h["expert_feed_forward_length"] = OptionalJson(s.expert_feed_forward_length);
  h["kv_lora_rank"] = OptionalJson(s.kv_lora_rank);
  h["rope_dimension_count"] = OptionalJson(s.rope_dimension_count);
  if (!s.head_count_per_layer.empty()) h["head_count_per_layer"] = s.head_count_per_layer;
  if (!s.head_count_kv_per_layer.empty()) h["head_count_kv_per_layer"] = s.head_count_kv_per_layer;
  if (!s.feed_forward_length_per_layer.empty()) {
    h["feed_forward_length_per_layer"] = s.feed_forward_length_per_layer;
  }
  if (!s.sliding_window_layers.empty()) h["sliding_window_layers"] = s.sliding_window_layers;
  j["hparams"] = std::move(h);

  if (s.ssm_conv_kernel || s.ssm_inner_size || s.ssm_state_size || s.ssm_time_step_rank ||
      s.ssm_group_count) {
    j["ssm"] = {{"conv_kernel", OptionalJson(s.ssm_conv_kernel)},
                {"inner_size", OptionalJson(s.ssm_inner_size)},
                {"state_size", OptionalJson(s.ssm_state_size)},
                {"time_step_rank", OptionalJson(s.ssm_time_step_rank)},
                {"group_count", OptionalJson(s.ssm_group_count)}};
  } else {
    j["ssm"] = nullptr;
  }
  j["tokenizer"] = {{"model", Utf8(s.tokenizer_model)},
                    {"vocab_size", OptionalJson(s.vocab_size)},
                    {"bos_token_id", OptionalJson(s.bos_token_id)},
                    {"eos_token_id", OptionalJson(s.eos_token_id)},
                    {"chat_template", s.has_chat_template}};
  j["layout"] = {{"alignment", s.alignment},        {"data_offset", s.data_offset},
                 {"header_bytes", s.header_bytes},  {"tensor_bytes", s.tensor_bytes},
                 {"file_size", s.file_size},        {"kv_count", s.kv_count},
                 {"tensor_count", s.tensors.size()}};
  if (with_tensors) {
    json tensors = json::array();
    for (const TensorInfo& t : s.tensors) {
      const GgmlType* type = FindGgmlType(t.type);
      json dims = json::array();
      for (uint32_t d = 0; d < t.n_dims; ++d) dims.push_back(t.dims[d]);
      tensors.push_back({{"name", Utf8(t.name)},
                         {"type", type ? std::string(type->name) : fmt::format("type {}", t.type)},
                         {"dims", std::move(dims)},
                         {"offset", t.offset},
                         {"bytes", t.size},
                         {"part", t.part}});
    }
    j["tensors"] = std::move(tensors);
  }
  return j;
}

std::string FormatValue(const Value& value, size_t max_elements, size_t max_string) {
  if (const Array* a = value.AsArray()) {
    std::string out = "[";
    const size_t shown = std::min<size_t>(a->elements.size(), max_elements);
    for (size_t i = 0; i < shown; ++i) {
      if (i > 0) out += ", ";
      out += FormatValue(a->elements[i], max_elements, max_string);
    }
    if (shown < a->count)
      out += fmt::format("{}... ({} more)", shown > 0 ? ", " : "", a->count - shown);
    return out + "]";
  }
  if (const std::string* s = value.AsString()) return Quote(*s, max_string);
  if (std::optional<bool> b = value.AsBool()) return *b ? "true" : "false";
  if (const auto* d = std::get_if<double>(&value.data)) return fmt::format("{}", *d);
  if (const auto* u = std::get_if<uint64_t>(&value.data)) return fmt::format("{}", *u);
  if (const auto* i = std::get_if<int64_t>(&value.data)) return fmt::format("{}", *i);
  return "?";
}

std::vector<MetadataLine> MetadataLines(const GgufFile& file, size_t max_elements,
                                        size_t max_string) {
  std::vector<MetadataLine> out;
  out.reserve(file.kvs.size());
  for (const KeyValue& kv : file.kvs) {
    out.push_back(
        {Utf8(kv.key), TypeText(kv.value), FormatValue(kv.value, max_elements, max_string)});
  }
  return out;
}

}  // namespace hangar::gguf
