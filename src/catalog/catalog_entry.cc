#include "catalog/catalog_entry.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <limits>
#include <utility>

#include "core/strings.h"

namespace hangar {
namespace {

// Looks `text` up in a {name, value} table; InvalidArgument listing the names.
template <typename E, size_t N>
Result<E> ParseEnum(std::string_view what, std::string_view text,
                    const std::array<std::pair<std::string_view, E>, N>& table) {
  for (const auto& [name, value] : table) {
    if (EqualsIgnoreCase(name, text)) return value;
  }
  std::string names;
  for (const auto& [name, value] : table) {
    if (!names.empty()) names += ", ";
    names += name;
  }
  return InvalidArgumentError("unknown " + std::string(what) + " \"" + std::string(text) +
                              "\"; use one of: " + names);
}

constexpr std::array<std::pair<std::string_view, ModelFormat>, 4> kFormats = {{
    {"gguf", ModelFormat::kGguf},
    {"onnx", ModelFormat::kOnnx},
    {"safetensors", ModelFormat::kSafetensors},
    {"pytorch", ModelFormat::kPytorch},
}};
constexpr std::array<std::pair<std::string_view, Purpose>, 4> kPurposes = {{
    {"speed", Purpose::kSpeed},
    {"balanced", Purpose::kBalanced},
    {"quality", Purpose::kQuality},
    {"specialized", Purpose::kSpecialized},
}};
constexpr std::array<std::pair<std::string_view, SourceKind>, 4> kSourceKinds = {{
    {"huggingface", SourceKind::kHuggingFace},
    {"ollama", SourceKind::kOllama},
    {"url", SourceKind::kUrl},
    {"hf", SourceKind::kHuggingFace},
}};

template <typename E, size_t N>
std::string_view EnumName(E value, const std::array<std::pair<std::string_view, E>, N>& table) {
  for (const auto& [name, v] : table) {
    if (v == value) return name;
  }
  return "unknown";
}

// Reads typed members of a JSON object, remembering the first error.
class JsonReader {
 public:
  explicit JsonReader(const nlohmann::json& object, std::string context)
      : object_(object), context_(std::move(context)) {}

  void String(const char* key, std::string& out) {
    const nlohmann::json* v = Find(key);
    if (v == nullptr) return;
    if (!v->is_string()) return Fail(key, "a string");
    out = v->get<std::string>();
  }
  template <typename T>
  void Unsigned(const char* key, T& out) {
    const nlohmann::json* v = Find(key);
    if (v == nullptr) return;
    if (!v->is_number_unsigned() && !(v->is_number_integer() && v->get<int64_t>() >= 0)) {
      return Fail(key, "a non-negative integer");
    }
    uint64_t value = v->get<uint64_t>();
    if (value > std::numeric_limits<T>::max()) return Fail(key, "a smaller integer");
    out = static_cast<T>(value);
  }
  void Int(const char* key, int& out) {
    const nlohmann::json* v = Find(key);
    if (v == nullptr) return;
    if (!v->is_number_integer()) return Fail(key, "an integer");
    out = v->get<int>();
  }
  void Double(const char* key, double& out) {
    const nlohmann::json* v = Find(key);
    if (v == nullptr) return;
    if (!v->is_number()) return Fail(key, "a number");
    out = v->get<double>();
  }
  void Bool(const char* key, bool& out) {
    const nlohmann::json* v = Find(key);
    if (v == nullptr) return;
    if (!v->is_boolean()) return Fail(key, "true or false");
    out = v->get<bool>();
  }
  void Strings(const char* key, std::vector<std::string>& out) {
    const nlohmann::json* v = Find(key);
    if (v == nullptr) return;
    if (!v->is_array()) return Fail(key, "an array of strings");
    out.clear();
    for (const auto& item : *v) {
      if (!item.is_string()) return Fail(key, "an array of strings");
      out.push_back(item.get<std::string>());
    }
  }
  template <typename E>
  void Enum(const char* key, E& out, Result<E> (*parse)(std::string_view)) {
    std::string text;
    String(key, text);
    if (text.empty() || !status_.ok()) return;
    Result<E> parsed = parse(text);
    if (!parsed.ok()) {
      status_ =
          InvalidArgumentError(context_ + " field \"" + key + "\": " + parsed.status().message());
      return;
    }
    out = *parsed;
  }
  const nlohmann::json* Find(const char* key) const {
    if (!status_.ok()) return nullptr;
    auto it = object_.find(key);
    if (it == object_.end() || it->is_null()) return nullptr;
    return &*it;
  }
  void Fail(const char* key, const char* expected) {
    if (!status_.ok()) return;
    status_ = InvalidArgumentError(context_ + " field \"" + key + "\" must be " + expected);
  }
  const Status& status() const { return status_; }

 private:
  const nlohmann::json& object_;
  std::string context_;
  Status status_;
};

Status ReadArchitecture(const nlohmann::json& json, const std::string& context,
                        ModelArchitecture& arch) {
  if (!json.is_object()) {
    return InvalidArgumentError(context + " field \"architecture\" must be an object");
  }
  JsonReader r(json, context + " architecture");
  r.String("name", arch.name);
  r.Unsigned("block_count", arch.block_count);
  r.Unsigned("embedding_length", arch.embedding_length);
  r.Unsigned("feed_forward_length", arch.feed_forward_length);
  r.Unsigned("head_count", arch.head_count);
  r.Unsigned("head_count_kv", arch.head_count_kv);
  r.Unsigned("key_length", arch.key_length);
  r.Unsigned("value_length", arch.value_length);
  r.Unsigned("vocab_size", arch.vocab_size);
  r.Unsigned("sliding_window", arch.sliding_window);
  r.Unsigned("sliding_window_pattern", arch.sliding_window_pattern);
  r.Unsigned("expert_count", arch.expert_count);
  r.Unsigned("expert_used_count", arch.expert_used_count);
  r.Unsigned("expert_shared_count", arch.expert_shared_count);
  r.Unsigned("expert_feed_forward_length", arch.expert_feed_forward_length);
  r.Unsigned("leading_dense_block_count", arch.leading_dense_block_count);
  r.Unsigned("kv_lora_rank", arch.kv_lora_rank);
  r.Unsigned("rope_dimension_count", arch.rope_dimension_count);
  return r.status();
}

Status ReadSources(const nlohmann::json& json, const std::string& context,
                   std::vector<ModelSource>& sources) {
  if (!json.is_array()) {
    return InvalidArgumentError(context + " field \"sources\" must be an array of objects");
  }
  sources.clear();
  for (const auto& item : json) {
    if (!item.is_object()) {
      return InvalidArgumentError(context + " field \"sources\" must be an array of objects");
    }
    ModelSource source;
    JsonReader r(item, context + " source");
    r.Enum("kind", source.kind, &ParseSourceKind);
    r.String("repo", source.repo);
    r.String("file", source.file);
    r.Unsigned("split_count", source.split_count);
    r.String("sha256", source.sha256);
    RETURN_IF_ERROR(r.status());
    if (source.split_count == 0) source.split_count = 1;
    sources.push_back(std::move(source));
  }
  return Status::Ok();
}

}  // namespace

std::string_view ModelFormatName(ModelFormat format) { return EnumName(format, kFormats); }
Result<ModelFormat> ParseModelFormat(std::string_view text) {
  return ParseEnum("model format", text, kFormats);
}

std::string_view PurposeName(Purpose purpose) { return EnumName(purpose, kPurposes); }
Result<Purpose> ParsePurpose(std::string_view text) {
  return ParseEnum("purpose", text, kPurposes);
}

std::string_view SourceKindName(SourceKind kind) { return EnumName(kind, kSourceKinds); }
Result<SourceKind> ParseSourceKind(std::string_view text) {
  return ParseEnum("source kind", text, kSourceKinds);
}

std::string ModelSource::Reference() const {
  switch (kind) {
    case SourceKind::kHuggingFace:
      return file.empty() ? "hf://" + repo : "hf://" + repo + "/" + file;
    case SourceKind::kOllama:
      return "ollama://" + repo;
    case SourceKind::kUrl:
      return repo;
  }
  return repo;
}

bool ModelArchitecture::IsSlidingWindowLayer(uint32_t il) const {
  if (sliding_window == 0) return false;
  if (sliding_window_pattern == 0) return true;
  return il % sliding_window_pattern < sliding_window_pattern - 1;
}

bool CatalogEntry::HasTag(std::string_view tag) const {
  return std::any_of(tags.begin(), tags.end(),
                     [&](const std::string& t) { return EqualsIgnoreCase(t, tag); });
}

const ModelSource* CatalogEntry::FirstSource(SourceKind kind) const {
  for (const ModelSource& s : sources) {
    if (s.kind == kind) return &s;
  }
  return nullptr;
}

uint64_t ApproxKvCacheBytes(const ModelArchitecture& arch, uint32_t context_tokens) {
  if (arch.block_count == 0 || context_tokens == 0) return 0;
  constexpr uint64_t kF16 = 2;
  uint64_t per_token_per_layer = 0;  // elements
  if (arch.UsesMla()) {
    per_token_per_layer = uint64_t{arch.kv_lora_rank} + arch.rope_dimension_count;
  } else {
    uint32_t head_dim = arch.head_count > 0 ? arch.embedding_length / arch.head_count : 0;
    uint32_t k = arch.key_length > 0 ? arch.key_length : head_dim;
    uint32_t v = arch.value_length > 0 ? arch.value_length : head_dim;
    uint32_t kv_heads = arch.head_count_kv > 0 ? arch.head_count_kv : arch.head_count;
    per_token_per_layer = uint64_t{kv_heads} * (uint64_t{k} + v);
  }
  uint64_t swa_cells = context_tokens;
  if (arch.HasSlidingWindow()) {
    swa_cells = std::min<uint64_t>(context_tokens,
                                   uint64_t{arch.sliding_window} + kSlidingWindowBatchTokens);
  }
  uint64_t cells = 0;
  for (uint32_t il = 0; il < arch.block_count; ++il) {
    cells += arch.IsSlidingWindowLayer(il) ? swa_cells : context_tokens;
  }
  return cells * per_token_per_layer * kF16;
}

void FillDerivedFields(CatalogEntry& entry) {
  auto context = [&](uint32_t cap) {
    return entry.context_length > 0 ? std::min(entry.context_length, cap) : cap;
  };
  if (entry.min_ram_bytes == 0) {
    entry.min_ram_bytes = entry.file_size_bytes +
                          ApproxKvCacheBytes(entry.arch, context(kMinRamContextTokens)) +
                          kRuntimeOverheadBytes;
  }
  if (entry.min_vram_bytes == 0) {
    entry.min_vram_bytes = entry.file_size_bytes +
                           ApproxKvCacheBytes(entry.arch, context(kMinVramContextTokens)) +
                           kComputeBufferBytes;
  }
  if (entry.HasTag("recommended")) entry.recommended = true;
  if (entry.recommended && !entry.HasTag("recommended")) entry.tags.push_back("recommended");
  for (std::string& tag : entry.tags) tag = AsciiLower(tag);
}

nlohmann::json ToJson(const ModelSource& source) {
  return nlohmann::json{
      {"kind", SourceKindName(source.kind)},
      {"repo", source.repo},
      {"file", source.file},
      {"split_count", source.split_count},
      {"sha256", source.sha256},
      {"reference", source.Reference()},
  };
}

nlohmann::json ToJson(const ModelArchitecture& arch) {
  return nlohmann::json{
      {"name", arch.name},
      {"block_count", arch.block_count},
      {"embedding_length", arch.embedding_length},
      {"feed_forward_length", arch.feed_forward_length},
      {"head_count", arch.head_count},
      {"head_count_kv", arch.head_count_kv},
      {"key_length", arch.key_length},
      {"value_length", arch.value_length},
      {"vocab_size", arch.vocab_size},
      {"sliding_window", arch.sliding_window},
      {"sliding_window_pattern", arch.sliding_window_pattern},
      {"expert_count", arch.expert_count},
      {"expert_used_count", arch.expert_used_count},
      {"expert_shared_count", arch.expert_shared_count},
      {"expert_feed_forward_length", arch.expert_feed_forward_length},
      {"leading_dense_block_count", arch.leading_dense_block_count},
      {"kv_lora_rank", arch.kv_lora_rank},
      {"rope_dimension_count", arch.rope_dimension_count},
  };
}

nlohmann::json ToJson(const CatalogEntry& entry) {
  nlohmann::json sources = nlohmann::json::array();
  for (const ModelSource& s : entry.sources) sources.push_back(ToJson(s));
  return nlohmann::json{
      {"id", entry.id},
      {"name", entry.name},
      {"family", entry.family},
      {"parameter_count", entry.parameter_count},
      {"parameter_label", entry.parameter_label},
      {"active_parameter_count", entry.active_parameter_count},
      {"quantization", entry.quantization},
      {"format", ModelFormatName(entry.format)},
      {"context_length", entry.context_length},
      {"file_size_bytes", entry.file_size_bytes},
      {"size_approximate", entry.size_approximate},
      {"min_ram_bytes", entry.min_ram_bytes},
      {"min_vram_bytes", entry.min_vram_bytes},
      {"purpose", PurposeName(entry.purpose)},
      {"quality_tier", entry.quality_tier},
      {"tags", entry.tags},
      {"recommended", entry.recommended},
      {"description", entry.description},
      {"use_case", entry.use_case},
      {"sources", std::move(sources)},
      {"aliases", entry.aliases},
      {"architecture", ToJson(entry.arch)},
      {"builtin", entry.builtin},
  };
}

Result<CatalogEntry> CatalogEntryFromJson(const nlohmann::json& json) {
  if (!json.is_object()) {
    return InvalidArgumentError("a catalog entry must be a JSON object, got " +
                                std::string(json.type_name()));
  }
  CatalogEntry entry;
  {
    JsonReader r(json, "catalog entry");
    r.String("id", entry.id);
    RETURN_IF_ERROR(r.status());
  }
  if (entry.id.empty()) {
    return InvalidArgumentError("catalog entry has no \"id\"; every entry needs a unique id");
  }
  const std::string context = "catalog entry \"" + entry.id + "\"";
  JsonReader r(json, context);
  r.String("name", entry.name);
  r.String("family", entry.family);
  r.Double("parameter_count", entry.parameter_count);
  r.String("parameter_label", entry.parameter_label);
  r.Double("active_parameter_count", entry.active_parameter_count);
  r.String("quantization", entry.quantization);
  r.Enum("format", entry.format, &ParseModelFormat);
  r.Unsigned("context_length", entry.context_length);
  r.Unsigned("file_size_bytes", entry.file_size_bytes);
  r.Bool("size_approximate", entry.size_approximate);
  r.Unsigned("min_ram_bytes", entry.min_ram_bytes);
  r.Unsigned("min_vram_bytes", entry.min_vram_bytes);
  r.Enum("purpose", entry.purpose, &ParsePurpose);
  r.Int("quality_tier", entry.quality_tier);
  r.Strings("tags", entry.tags);
  r.Bool("recommended", entry.recommended);
  r.String("description", entry.description);
  r.String("use_case", entry.use_case);
  r.Strings("aliases", entry.aliases);
  r.Bool("builtin", entry.builtin);
  RETURN_IF_ERROR(r.status());
  if (const nlohmann::json* sources = r.Find("sources")) {
    RETURN_IF_ERROR(ReadSources(*sources, context, entry.sources));
  }
  if (const nlohmann::json* arch = r.Find("architecture")) {
    RETURN_IF_ERROR(ReadArchitecture(*arch, context, entry.arch));
  }
  return entry;
}

}  // namespace hangar
