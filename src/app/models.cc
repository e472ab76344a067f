#include "app/models.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <system_error>

#include "checkpoint/hf_checkpoint.h"
#include "checkpoint/onnx.h"
#include "checkpoint/pytorch.h"
#include "core/sha256.h"
#include "core/strings.h"
#include "core/units.h"
#include "gguf/parser.h"
#include "gguf/split.h"
#include "gguf/summary.h"

namespace hangar::app {

namespace fs = std::filesystem;

namespace {

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         AsciiLower(s.substr(s.size() - suffix.size())) == AsciiLower(suffix);
}

Status PresetError(std::string_view config_file, std::string_view preset, std::string_view key,
                   const std::string& what) {
  return InvalidArgumentError(std::string(config_file) + ": model_presets." + std::string(preset) +
                              "." + std::string(key) + ": " + what);
}

// "high" / "medium" / "fast" (the Gemma CLI's words) or a tier 1..5.
std::optional<int> QualityTier(std::string_view quality) {
  std::string q = AsciiLower(quality);
  if (q == "best" || q == "highest") return 5;
  if (q == "high") return 4;
  if (q == "medium" || q == "balanced") return 3;
  if (q == "fast" || q == "low") return 2;
  if (q == "basic" || q == "lowest") return 1;
  if (q.size() == 1 && q[0] >= '1' && q[0] <= '5') return q[0] - '0';
  return std::nullopt;
}

std::string ParameterLabel(double count) {
  if (count <= 0) return "";
  char buf[32];
  if (count >= 1e9) {
    double b = count / 1e9;
    std::snprintf(buf, sizeof buf, b < 10 && std::fmod(b, 1.0) != 0 ? "%.1fB" : "%.0fB", b);
  } else {
    std::snprintf(buf, sizeof buf, "%.0fM", count / 1e6);
  }
  return buf;
}

// Sum of the sizes of `paths`; missing files count as zero.
uint64_t TotalSize(const std::vector<fs::path>& paths) {
  uint64_t total = 0;
  for (const auto& p : paths) {
    std::error_code ec;
    uint64_t s = fs::file_size(p, ec);
    if (!ec) total += s;
  }
  return total;
}

// Fills what the preset left unset from the GGUF header of its local file
// (parameters, quantization, architecture facts, exact size). A file that
// cannot be read is left for `hangar validate` to report.
void FillFromGguf(const fs::path& weights, const ModelPreset& p, CatalogEntry& e) {
  std::error_code ec;
  if (!fs::is_regular_file(weights, ec)) return;
  auto parts = gguf::ReadSplitModel(weights, /*check_tensor_data=*/false);
  if (!parts.ok()) return;
  gguf::ModelSummary s = gguf::Summarize(*parts);
  auto u32 = [](const std::optional<uint64_t>& v) { return static_cast<uint32_t>(v.value_or(0)); };
  if (!p.parameters && s.parameter_count > 0) {
    e.parameter_count = static_cast<double>(s.parameter_count);
    e.parameter_label = ParameterLabel(e.parameter_count);
  }
  if (!p.quantization && e.quantization.empty()) e.quantization = s.FileTypeTag();
  if (!p.context_length && e.context_length == 0) e.context_length = u32(s.context_length);
  if (!p.size_gb && s.file_size > 0) {
    e.file_size_bytes = s.file_size;
    e.size_approximate = false;
  }
  if (e.family.empty()) e.family = s.architecture;
  ModelArchitecture& a = e.arch;
  if (a.name.empty()) a.name = s.architecture;
  if (!p.layers && a.block_count == 0) a.block_count = u32(s.block_count);
  if (!p.embedding && a.embedding_length == 0) a.embedding_length = u32(s.embedding_length);
  if (a.feed_forward_length == 0) a.feed_forward_length = u32(s.feed_forward_length);
  if (!p.heads && a.head_count == 0) a.head_count = u32(s.head_count);
  if (!p.kv_heads && a.head_count_kv == 0) a.head_count_kv = u32(s.head_count_kv);
  if (!p.head_dim && a.key_length == 0) {
    a.key_length = u32(s.key_length);
    a.value_length = u32(s.value_length);
  }
  if (a.vocab_size == 0) a.vocab_size = u32(s.vocab_size);
  if (a.sliding_window == 0 && s.sliding_window) {
    a.sliding_window = u32(s.sliding_window);
    // The period of the layer pattern: the distance between full-attention layers.
    const auto& layers = s.sliding_window_layers;
    for (size_t i = 0; i < layers.size(); ++i) {
      if (!layers[i]) {
        a.sliding_window_pattern = static_cast<uint32_t>(i + 1);
        break;
      }
    }
  }
  if (a.expert_count == 0) {
    a.expert_count = u32(s.expert_count);
    a.expert_used_count = u32(s.expert_used_count);
    a.expert_feed_forward_length = u32(s.expert_feed_forward_length);
  }
  if (a.kv_lora_rank == 0) {
    a.kv_lora_rank = u32(s.kv_lora_rank);
    if (a.kv_lora_rank) a.rope_dimension_count = u32(s.rope_dimension_count);
  }
}

}  // namespace

std::string_view ModelOriginName(ModelOrigin origin) {
  switch (origin) {
    case ModelOrigin::kBuiltin:
      return "catalog";
    case ModelOrigin::kPreset:
      return "preset";
    case ModelOrigin::kOverride:
      return "catalog+preset";
    case ModelOrigin::kInstalled:
      return "installed";
  }
  return "catalog";
}

Result<CatalogEntry> EntryFromPreset(const ModelPreset& p, const CatalogEntry* base,
                                     std::string_view config_file) {
  CatalogEntry e;
  if (base != nullptr) {
    e = *base;
    e.min_ram_bytes = 0;  // derived again from the merged facts
    e.min_vram_bytes = 0;
  } else {
    e.id = p.name;
    e.name = p.name;
    e.quality_tier = 3;
  }
  e.builtin = false;
  if (p.weights) {
    std::string w = *p.weights;
    if (EndsWith(w, ".gguf"))
      e.format = ModelFormat::kGguf;
    else if (EndsWith(w, ".onnx"))
      e.format = ModelFormat::kOnnx;
    else if (EndsWith(w, ".safetensors"))
      e.format = ModelFormat::kSafetensors;
  }
  if (p.format) {
    auto f = ParseModelFormat(*p.format);
    if (f.ok()) {
      e.format = *f;
    } else if (e.quantization.empty() || base == nullptr) {
      // The Gemma CLI's "sfp", "bf16", "f32", "nuq": a weight encoding.
      e.quantization = *p.format;
    }
  }
  if (p.quantization) e.quantization = *p.quantization;
  if (p.size_gb) {
    e.file_size_bytes = static_cast<uint64_t>(std::llround(*p.size_gb * 1e9));
    e.size_approximate = true;
  }
  if (p.quality) {
    auto tier = QualityTier(*p.quality);
    if (!tier) {
      return PresetError(config_file, p.name, "quality",
                         "expected high, medium, fast or a tier 1-5, got \"" + *p.quality + "\"");
    }
    e.quality_tier = *tier;
  }
  if (p.use_case) e.use_case = *p.use_case;
  if (p.description) e.description = *p.description;
  if (p.context_length) e.context_length = static_cast<uint32_t>(*p.context_length);
  if (p.min_ram_gb) e.min_ram_bytes = static_cast<uint64_t>(std::llround(*p.min_ram_gb * 1e9));
  if (p.family) e.family = *p.family;
  if (p.parameters) {
    e.parameter_count = static_cast<double>(*p.parameters);
    e.parameter_label = ParameterLabel(e.parameter_count);
  }
  if (p.purpose) {
    auto purpose = ParsePurpose(*p.purpose);
    if (!purpose.ok())
      return PresetError(config_file, p.name, "purpose", purpose.status().message());
    e.purpose = *purpose;
  }
  if (p.tags) e.tags = *p.tags;
  if (p.hf_repo || p.hf_file) {
    ModelSource s;
    s.kind = SourceKind::kHuggingFace;
    const ModelSource* old = e.FirstSource(SourceKind::kHuggingFace);
    if (old) s = *old;
    if (p.hf_repo) s.repo = *p.hf_repo;
    if (p.hf_file) s.file = *p.hf_file;
    std::erase_if(e.sources,
                  [](const ModelSource& x) { return x.kind == SourceKind::kHuggingFace; });
    e.sources.insert(e.sources.begin(), s);
  }
  if (p.ollama) {
    std::erase_if(e.sources, [](const ModelSource& x) { return x.kind == SourceKind::kOllama; });
    ModelSource s;
    s.kind = SourceKind::kOllama;
    s.repo = *p.ollama;
    e.sources.push_back(s);
  }
  if (p.sha256) {
    if (e.sources.empty()) {
      ModelSource s;
      s.kind = SourceKind::kUrl;
      e.sources.push_back(s);
    }
    e.sources.front().sha256 = *p.sha256;
  }
  if (p.weights && EndsWith(*p.weights, ".gguf")) FillFromGguf(*p.weights, p, e);
  if (p.layers) e.arch.block_count = static_cast<uint32_t>(*p.layers);
  if (p.embedding) e.arch.embedding_length = static_cast<uint32_t>(*p.embedding);
  if (p.heads) e.arch.head_count = static_cast<uint32_t>(*p.heads);
  if (p.kv_heads) e.arch.head_count_kv = static_cast<uint32_t>(*p.kv_heads);
  if (p.head_dim) {
    e.arch.key_length = static_cast<uint32_t>(*p.head_dim);
    e.arch.value_length = static_cast<uint32_t>(*p.head_dim);
  }
  return e;
}

CatalogEntry EntryFromGgufFile(const fs::path& path, std::string_view id, std::string_view name) {
  CatalogEntry e;
  e.id = std::string(id);
  e.name = std::string(name);
  e.quality_tier = 3;
  e.builtin = false;
  e.format = ModelFormat::kGguf;
  ModelPreset none;
  FillFromGguf(path, none, e);
  if (e.file_size_bytes == 0) e.file_size_bytes = TotalSize(gguf::SplitPartPaths(path));
  e.size_approximate = false;
  FillDerivedFields(e);
  return e;
}

std::string InstalledSlug(const store::InstalledModel& m) {
  std::string base;
  if (m.format != "gguf" && m.source == "hf" && m.id == "hf://" + m.name) {
    base = m.name.substr(m.name.rfind('/') + 1);  // a whole repository: "Tiny-Llama"
  } else if (m.metadata.contains("repo_path") && m.metadata["repo_path"].is_string()) {
    base = fs::path(m.metadata["repo_path"].get<std::string>()).stem().string();
  } else if (m.source == "ollama" || m.id.starts_with("ollama://")) {
    base = m.name;  // "gemma2:2b"
  } else if (m.metadata.contains("imported_from") && m.metadata["imported_from"].is_string()) {
    base = fs::path(m.metadata["imported_from"].get<std::string>()).stem().string();
  } else if (!m.primary_path.empty()) {
    base = m.primary_path.stem().string();
  }
  if (base.empty() || base.starts_with("sha256-")) base = m.name;
  if (base.size() > 5 && AsciiLower(base.substr(base.size() - 5)) == ".gguf") {
    base.resize(base.size() - 5);
  }
  std::string slug;
  for (char c : base) {
    const char l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const bool ok = std::isalnum(static_cast<unsigned char>(l)) || l == '.' || l == '_' || l == '-';
    if (ok) {
      slug += l;
    } else if (!slug.empty() && slug.back() != '-') {
      slug += '-';
    }
  }
  while (!slug.empty() && (slug.back() == '-' || slug.back() == '.')) slug.pop_back();
  while (!slug.empty() && (slug.front() == '-' || slug.front() == '.')) slug.erase(slug.begin());
  return slug.empty() ? "model" : slug;
}

std::string EntryIdOf(const store::InstalledModel& m) {
  const auto it = m.metadata.find("entry");
  if (it != m.metadata.end() && it->is_object()) {
    std::string id = it->value("id", "");
    if (!id.empty()) return id;
  }
  return m.id;
}

bool NamesInstalled(const store::InstalledModel& m, std::string_view text) {
  const std::string entry_id = EntryIdOf(m);
  return EqualsIgnoreCase(m.id, text) || EqualsIgnoreCase(m.name, text) ||
         (!m.catalog_id.empty() && EqualsIgnoreCase(m.catalog_id, text)) ||
         (!entry_id.empty() && EqualsIgnoreCase(entry_id, text));
}

CatalogEntry EntryForInstalled(const store::InstalledModel& m) {
  CatalogEntry e;
  bool parsed = false;
  if (m.metadata.contains("entry")) {
    Result<CatalogEntry> r = CatalogEntryFromJson(m.metadata["entry"]);
    if (r.ok()) {
      e = std::move(r).value();
      parsed = true;
    }
  }
  if (!parsed) {
    e.name = m.name;
    e.quality_tier = 3;
    e.file_size_bytes = m.size_bytes;
    e.size_approximate = false;
    if (auto f = ParseModelFormat(m.format); f.ok()) e.format = *f;
    e.family = m.metadata.value("architecture", "");
    e.quantization = m.metadata.value("quantization", "");
    const double params = m.metadata.value("parameters", 0.0);
    if (params > 0) {
      e.parameter_count = params;
      e.parameter_label = ParameterLabel(params);
    }
    FillDerivedFields(e);
  }
  // The entry id is the slug chosen when the model was installed (catalog
  // ids are letters, digits, '.', '-', '_'); the store id and the display
  // name reach it as aliases.
  if (e.id.empty() || e.id == m.id) e.id = InstalledSlug(m);
  e.builtin = false;
  if (e.name.empty() || e.name == m.id) e.name = m.name;
  for (const std::string& alias : {m.id, m.name}) {
    if (!alias.empty() && AsciiLower(alias) != AsciiLower(e.id) &&
        std::find(e.aliases.begin(), e.aliases.end(), alias) == e.aliases.end()) {
      e.aliases.push_back(alias);
    }
  }
  return e;
}

Result<ModelIndex> ModelIndex::Build(Catalog base, const std::vector<ModelPreset>& presets,
                                     std::string_view config_file,
                                     const std::vector<store::InstalledModel>& installed) {
  ModelIndex index;
  index.catalog_ = std::move(base);
  // Installed models first: a preset naming the same id overrides below.
  for (const store::InstalledModel& m : installed) {
    Local local;
    local.weights = m.primary_path;
    local.record = std::make_shared<const store::InstalledModel>(m);
    const CatalogEntry* known =
        m.catalog_id.empty() ? nullptr : index.catalog_.FindById(m.catalog_id);
    if (known != nullptr) {
      // The catalog entry it is: reachable by its installed id and name too.
      CatalogEntry e = *known;
      for (const std::string& alias : {m.id, m.name}) {
        if (std::find(e.aliases.begin(), e.aliases.end(), alias) == e.aliases.end() &&
            AsciiLower(alias) != AsciiLower(e.id)) {
          e.aliases.push_back(alias);
        }
      }
      const std::string key = AsciiLower(e.id);
      local.origin = ModelOrigin::kBuiltin;
      if (index.locals_.contains(key)) continue;  // the first copy wins
      if (!index.catalog_.Upsert(std::move(e)).ok()) continue;
      index.locals_[key] = std::move(local);
      continue;
    }
    CatalogEntry e = EntryForInstalled(m);
    const std::string key = AsciiLower(e.id);
    local.origin = ModelOrigin::kInstalled;
    // An alias already taken (two installs named alike) is dropped, not fatal.
    if (!index.catalog_.Upsert(e).ok()) {
      e.aliases.clear();
      if (!index.catalog_.Upsert(std::move(e)).ok()) continue;
    }
    index.locals_[key] = std::move(local);
  }
  for (const ModelPreset& p : presets) {
    const CatalogEntry* existing = index.catalog_.FindById(p.name);
    bool overrides = existing != nullptr && AsciiLower(existing->id) == AsciiLower(p.name);
    ASSIGN_OR_RETURN(CatalogEntry entry,
                     EntryFromPreset(p, overrides ? existing : nullptr, config_file));
    std::string key = AsciiLower(entry.id);
    Status s = index.catalog_.Upsert(std::move(entry));
    if (!s.ok()) return PresetError(config_file, p.name, "name", s.message());
    Local local;
    local.origin = overrides ? ModelOrigin::kOverride : ModelOrigin::kPreset;
    if (p.weights) local.weights = *p.weights;
    if (p.tokenizer) local.tokenizer = *p.tokenizer;
    local.avg_tokens_per_sec = p.avg_tokens_per_sec;
    index.locals_[key] = std::move(local);
  }
  return index;
}

ModelView ModelIndex::View(const CatalogEntry& entry,
                           const std::optional<std::string>& default_id) const {
  ModelView v;
  v.entry = entry;
  auto it = locals_.find(AsciiLower(entry.id));
  if (it != locals_.end()) {
    v.origin = it->second.origin;
    v.weights = it->second.weights;
    v.tokenizer = it->second.tokenizer;
    v.avg_tokens_per_sec = it->second.avg_tokens_per_sec;
    if (it->second.record) v.record = *it->second.record;
  }
  if (!v.weights.empty()) {
    std::error_code ec;
    v.installed = fs::is_regular_file(v.weights, ec) &&
                  (v.tokenizer.empty() || fs::is_regular_file(v.tokenizer, ec));
  }
  v.is_default = default_id && AsciiLower(*default_id) == AsciiLower(entry.id);
  return v;
}

bool ValidationReport::ok() const {
  return std::all_of(checks.begin(), checks.end(), [](const ValidationCheck& c) { return c.ok; });
}

namespace {

// The header check of a model llama.cpp cannot run as it is: a Hugging Face
// checkpoint, an ONNX model or a PyTorch pickle, read without loading or
// unpickling anything, with what to do about it.
ValidationCheck CheckOtherFormat(const fs::path& weights, const std::string& id) {
  ValidationCheck c{.name = "header", .ok = false, .skipped = false, .detail = ""};
  const std::string name = weights.filename().string();
  if (EndsWith(name, ".safetensors")) {
    c.name = "safetensors header";
    Result<checkpoint::HfCheckpoint> ck = checkpoint::OpenCheckpoint(weights.parent_path());
    c.ok = ck.ok();
    if (!ck.ok()) {
      c.detail = ck.status().message();
    } else {
      const std::string_view arch = checkpoint::GgufArchitecture(ck->architecture_class());
      c.detail = fmt::format("{} shard(s), {} parameters, {}; cannot run here: {}", ck->shards.size(),
                             ck->parameter_count(), ck->architecture_class().empty() ? "no config.json" : ck->architecture_class(),
                             arch.empty() ? "no converter for this architecture" : "convert it with `hangar convert " + id + "`");
    }
  } else if (EndsWith(name, ".onnx")) {
    c.name = "onnx header";
    Result<checkpoint::OnnxModel> m = checkpoint::ReadOnnx(weights);
    c.ok = m.ok();
    c.detail = m.ok() ? fmt::format("IR v{}, {} parameters, {} nodes; cannot run here: llama.cpp runs GGUF models "
                                    "(an ONNX runtime runs this one)", m->ir_version, m->parameters, m->nodes)
                      : m.status().message();
  } else if (EndsWith(name, ".bin") || EndsWith(name, ".pt") || EndsWith(name, ".pth")) {
    c.name = "pytorch index";
    Result<checkpoint::PytorchCheckpoint> m = checkpoint::ReadPytorchCheckpoint(weights);
    c.ok = m.ok();
    c.detail = m.ok() ? fmt::format("{} tensors, {} parameters (never unpickled); cannot run here: save it as "
                                    "safetensors, then `hangar convert`", m->tensors.size(), m->parameter_count())
                      : m.status().message();
  } else {
    c.ok = true;
    c.skipped = true;
    c.detail = "not a model format Hangar reads";
  }
  return c;
}

}  // namespace

Result<ValidationReport> ValidateModel(const ModelView& view) {
  if (view.weights.empty()) {
    return FailedPreconditionError("model " + view.entry.id +
                                   " has no local files to validate; give it a `weights` path in "
                                   "[model_presets." +
                                   view.entry.id + "] of config.toml");
  }
  ValidationReport r;
  r.id = view.entry.id;
  // A split GGUF model is every part together.
  std::vector<fs::path> weights = {view.weights};
  bool is_gguf =
      view.entry.format == ModelFormat::kGguf || EndsWith(view.weights.string(), ".gguf");
  if (is_gguf) {
    std::vector<fs::path> parts = gguf::SplitPartPaths(view.weights);
    if (!parts.empty()) weights = parts;
  }
  if (!is_gguf && view.record && view.record->files.size() > 1) {
    // A repository of several files (shards, config, tokenizer) is all of them.
    weights.clear();
    for (const store::InstalledFile& f : view.record->files) weights.push_back(f.path);
  }
  r.files = weights;
  if (!view.tokenizer.empty()) r.files.push_back(view.tokenizer);

  ValidationCheck exists{.name = "exists", .ok = true, .skipped = false, .detail = ""};
  for (const auto& f : r.files) {
    std::error_code ec;
    if (!fs::is_regular_file(f, ec)) {
      exists.ok = false;
      exists.detail += (exists.detail.empty() ? "missing: " : ", ") + f.string();
    }
  }
  if (exists.ok) exists.detail = std::to_string(r.files.size()) + " file(s) present";
  r.checks.push_back(exists);

  uint64_t actual = TotalSize(weights);
  ValidationCheck size{.name = "size", .ok = false, .skipped = false, .detail = ""};
  uint64_t declared = view.entry.file_size_bytes;
  if (!exists.ok) {
    size.detail = "skipped: files missing";
  } else if (declared == 0) {
    size.ok = true;
    size.skipped = true;
    size.detail = FormatBytesDecimal(actual) + "; no declared size to compare";
  } else {
    double ratio = static_cast<double>(actual) / static_cast<double>(declared);
    size.ok = ratio >= 0.9 && ratio <= 1.1;
    char pct[16];
    std::snprintf(pct, sizeof pct, "%+.1f%%", (ratio - 1) * 100);
    size.detail = FormatBytesDecimal(actual) + " vs declared " + FormatBytesDecimal(declared) +
                  " (" + pct + (size.ok ? ", within 10%)" : ", more than 10% off)");
  }
  r.checks.push_back(size);

  if (is_gguf) {
    ValidationCheck header{.name = "gguf header", .ok = false, .skipped = false, .detail = ""};
    if (!exists.ok) {
      header.detail = "skipped: files missing";
    } else {
      auto parts = gguf::ReadSplitModel(view.weights);
      header.ok = parts.ok();
      if (parts.ok()) {
        size_t tensors = 0;
        for (const auto& p : *parts) tensors += p.tensors.size();
        const gguf::KeyValue* arch = parts->front().Find("general.architecture");
        header.detail = "GGUF v" + std::to_string(parts->front().version) + ", " +
                        std::to_string(tensors) + " tensors";
        if (arch && arch->value.AsString()) header.detail += ", " + *arch->value.AsString();
      } else {
        header.detail = parts.status().message();
      }
    }
    r.checks.push_back(header);
  }

  if (!is_gguf && exists.ok) r.checks.push_back(CheckOtherFormat(view.weights, view.entry.id));

  ValidationCheck digest{.name = "sha256", .ok = false, .skipped = false, .detail = ""};
  std::string expected;
  for (const auto& s : view.entry.sources) {
    if (!s.sha256.empty() && s.split_count <= 1) expected = AsciiLower(s.sha256);
  }
  // What the store verified when the model was pulled or imported.
  if (view.record && !view.record->digest.empty() && view.record->primary_path == view.weights) {
    expected = view.record->digest;
  }
  if (expected.empty()) {
    digest.ok = true;
    digest.skipped = true;
    digest.detail = "no known digest";
  } else if (!exists.ok || (weights.size() != 1 && weights.front() != view.weights)) {
    digest.detail = exists.ok ? "a digest is known for one file only" : "skipped: files missing";
  } else {
    auto got = Sha256File(view.weights);  // the primary file the digest is of
    if (!got.ok()) {
      digest.detail = got.status().message();
    } else {
      digest.ok = *got == expected;
      digest.detail = digest.ok ? "matches " + expected : "expected " + expected + ", got " + *got;
    }
  }
  r.checks.push_back(digest);
  return r;
}

nlohmann::json ToJson(const ModelView& v) {
  nlohmann::json j = ToJson(v.entry);
  j["origin"] = ModelOriginName(v.origin);
  j["installed"] = v.installed;
  j["default"] = v.is_default;
  j["weights"] = v.weights.empty() ? nlohmann::json(nullptr) : nlohmann::json(v.weights.string());
  j["tokenizer"] =
      v.tokenizer.empty() ? nlohmann::json(nullptr) : nlohmann::json(v.tokenizer.string());
  j["avg_tokens_per_sec"] =
      v.avg_tokens_per_sec ? nlohmann::json(*v.avg_tokens_per_sec) : nlohmann::json(nullptr);
  if (v.record) {
    const store::InstalledModel& m = *v.record;
    j["store"] = {
        {"id", m.id},
        {"source", m.source},
        {"ref", m.ref},
        {"revision", m.revision},
        {"size_bytes", m.size_bytes},
        {"digest", m.digest.empty() ? nlohmann::json() : nlohmann::json(m.digest)},
        {"managed", m.managed},
        {"installed_at", store::Rfc3339(m.installed_at)},
        {"last_used",
         m.last_used == 0 ? nlohmann::json() : nlohmann::json(store::Rfc3339(m.last_used))},
        {"use_count", m.use_count},
    };
  } else {
    j["store"] = nullptr;
  }
  return j;
}

nlohmann::json ToJson(const ValidationReport& r) {
  nlohmann::json checks = nlohmann::json::array();
  for (const auto& c : r.checks) {
    checks.push_back(
        {{"name", c.name}, {"ok", c.ok}, {"skipped", c.skipped}, {"detail", c.detail}});
  }
  nlohmann::json files = nlohmann::json::array();
  for (const auto& f : r.files) files.push_back(f.string());
  return {{"id", r.id}, {"ok", r.ok()}, {"files", files}, {"checks", checks}};
}

}  // namespace hangar::app
