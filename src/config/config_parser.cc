#include "config/config_parser.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <exception>
#include <type_traits>

#include "config/toml_text.h"
#include "core/units.h"

namespace hangar {

namespace {

constexpr size_t kMaxShownValue = 60;

// `s` cut to kMaxShownValue bytes on a UTF-8 character boundary.
std::string Shorten(std::string s) {
  if (s.size() <= kMaxShownValue) return s;
  size_t cut = kMaxShownValue - 3;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return s.substr(0, cut) + "...";
}

std::string ShownValue(const toml::node& node) { return Shorten(TomlValueText(node)); }

std::string JoinKeys(std::span<const std::string_view> keys) {
  std::string out;
  for (std::string_view k : keys) {
    if (!out.empty()) out += ", ";
    out += k;
  }
  return out;
}

// " (in: temperature = )": the line the parser stopped on, for context.
std::string LineExcerpt(std::string_view text, uint32_t line) {
  if (line == 0) return "";
  size_t start = 0;
  for (uint32_t i = 1; i < line; ++i) {
    start = text.find('\n', start);
    if (start == std::string_view::npos) return "";
    ++start;
  }
  std::string_view rest = text.substr(start);
  std::string_view excerpt = rest.substr(0, rest.find('\n'));
  while (!excerpt.empty() && std::isspace(static_cast<unsigned char>(excerpt.back()))) {
    excerpt.remove_suffix(1);
  }
  while (!excerpt.empty() && std::isspace(static_cast<unsigned char>(excerpt.front()))) {
    excerpt.remove_prefix(1);
  }
  if (excerpt.empty()) return "";
  return " (in: " + Shorten(std::string(excerpt)) + ")";
}

// Reads typed values out of one document, naming file, line and key in errors.
class Reader {
 public:
  Reader(std::string_view file, std::vector<std::string>* warnings)
      : file_(file), warnings_(warnings) {}

  std::string Where(const toml::node& node, std::string_view key) const {
    uint32_t line = node.source().begin.line;
    if (line > 0) return fmt::format("{}:{}: {}", file_, line, key);
    return fmt::format("{}: {}", file_, key);
  }

  Status Error(const toml::node& node, std::string_view key, std::string_view what) const {
    return InvalidArgumentError(fmt::format("{}: {}", Where(node, key), what));
  }

  Status TypeError(const toml::node& node, std::string_view key, std::string_view expected) const {
    return Error(
        node, key,
        fmt::format("expected {}, got {} {}", expected, TomlTypeName(node), ShownValue(node)));
  }

  void Warn(const toml::node& node, std::string_view key, std::string_view what) {
    warnings_->push_back(fmt::format("{}: {}", Where(node, key), what));
  }

  void WarnUnknown(const toml::node& node, std::string_view key,
                   std::span<const std::string_view> known) {
    Warn(node, key, fmt::format("unknown key, ignored (known keys: {})", JoinKeys(known)));
  }

  Result<std::string> String(const toml::node& node, std::string_view key) const {
    if (const auto* s = node.as_string()) return s->get();
    return TypeError(node, key, "a string");
  }

  Result<double> Number(const toml::node& node, std::string_view key) const {
    if (const auto* f = node.as_floating_point()) return f->get();
    if (const auto* i = node.as_integer()) return static_cast<double>(i->get());
    return TypeError(node, key, "a number");
  }

  Result<int64_t> Integer(const toml::node& node, std::string_view key) const {
    if (const auto* i = node.as_integer()) return i->get();
    return TypeError(node, key, "an integer");
  }

  Result<const toml::table*> Table(const toml::node& node, std::string_view key,
                                   std::string_view example) const {
    if (const auto* t = node.as_table()) return t;
    return TypeError(node, key, fmt::format("a table such as {}", example));
  }

  Result<std::vector<std::string>> StringList(const toml::node& node, std::string_view key) const {
    const toml::array* a = node.as_array();
    if (a == nullptr) return TypeError(node, key, "an array of strings");
    std::vector<std::string> out;
    out.reserve(a->size());
    for (size_t i = 0; i < a->size(); ++i) {
      const toml::node& e = *a->get(i);
      std::string item_key = fmt::format("{}[{}]", key, i);
      ASSIGN_OR_RETURN(std::string s, String(e, item_key));
      if (s.empty()) return Error(e, item_key, "must not be empty");
      out.push_back(std::move(s));
    }
    return out;
  }

 private:
  std::string_view file_;
  std::vector<std::string>* warnings_;
};

Status ReadDefaultModel(Reader& r, const toml::node& node, std::optional<std::string>* out) {
  ASSIGN_OR_RETURN(std::string id, r.String(node, "default_model"));
  bool blank = std::all_of(id.begin(), id.end(),
                           [](char c) { return std::isspace(static_cast<unsigned char>(c)); });
  if (blank) return r.Error(node, "default_model", "must name a model, got an empty string");
  for (char c : id) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return r.Error(node, "default_model", "must not contain control characters");
    }
  }
  *out = std::move(id);
  return Status::Ok();
}

Status ReadRuntime(Reader& r, const toml::table& table, RuntimeConfig* runtime) {
  for (auto&& [k, v] : table) {
    const std::string key = TomlKeyPath({"runtime", k.str()});
    const std::string_view name = k.str();
    if (name == "idle_ttl") {
      int64_t seconds = 0;
      if (const auto* i = v.as_integer()) {
        seconds = i->get();
      } else if (const auto* s = v.as_string()) {
        Result<int64_t> parsed = ParseDuration(s->get());
        if (!parsed.ok()) return r.Error(v, key, parsed.status().message());
        seconds = *parsed;
      } else {
        return r.TypeError(v, key, "a duration such as \"5m\" or a number of seconds");
      }
      if (seconds < 0) return r.Error(v, key, fmt::format("must be 0 or more, got {}", seconds));
      runtime->idle_ttl_seconds = seconds;
      continue;
    }
    std::string* field = name == "backend"              ? &runtime->backend
                         : name == "ollama_host"        ? &runtime->ollama_host
                         : name == "openai_base_url"    ? &runtime->openai_base_url
                         : name == "openai_api_key_env" ? &runtime->openai_api_key_env
                         : name == "gpu"                ? &runtime->gpu
                                                        : nullptr;
    if (field == nullptr) {
      r.WarnUnknown(v, key, RuntimeKeys());
      continue;
    }
    ASSIGN_OR_RETURN(*field, r.String(v, key));
    if (field->empty()) return r.Error(v, key, "must not be empty");
    if (name == "gpu" && *field != "auto" && *field != "off") {
      return r.Error(v, key, fmt::format("must be \"auto\" or \"off\", got \"{}\"", *field));
    }
  }
  return Status::Ok();
}

// [updates]: check = "1d" (how often installed models are checked for a
// newer revision; "0" or unset: never). At least a minute.
Status ReadUpdates(Reader& r, const toml::table& table, UpdateSettings* updates) {
  static constexpr std::string_view kKeys[] = {"check"};
  for (auto&& [k, v] : table) {
    const std::string key = TomlKeyPath({"updates", k.str()});
    if (k.str() != "check") {
      r.WarnUnknown(v, key, kKeys);
      continue;
    }
    int64_t seconds = 0;
    if (const auto* i = v.as_integer()) {
      seconds = i->get();
    } else if (const auto* s = v.as_string()) {
      if (s->get() != "off") {
        Result<int64_t> parsed = ParseDuration(s->get());
        if (!parsed.ok()) return r.Error(v, key, parsed.status().message());
        seconds = *parsed;
      }
    } else {
      return r.TypeError(v, key, "a duration such as \"1d\", or \"off\"");
    }
    if (seconds < 0 || (seconds > 0 && seconds < 60)) {
      return r.Error(v, key, fmt::format("must be off or at least a minute, got {} s", seconds));
    }
    updates->check_interval_seconds = seconds;
  }
  return Status::Ok();
}

// [cluster]: workers = ["host:port", ...].
Status ReadCluster(Reader& r, const toml::table& table, ClusterSettings* cluster) {
  static constexpr std::string_view kKeys[] = {"workers"};
  for (auto&& [k, v] : table) {
    const std::string key = TomlKeyPath({"cluster", k.str()});
    if (k.str() != "workers") {
      r.WarnUnknown(v, key, kKeys);
      continue;
    }
    ASSIGN_OR_RETURN(std::vector<std::string> workers, r.StringList(v, key));
    for (const std::string& w : workers) {
      if (Status s = ValidateWorkerEndpoint(w); !s.ok()) return r.Error(v, key, s.message());
      if (std::count(workers.begin(), workers.end(), w) > 1) {
        return r.Error(v, key, fmt::format("{} is listed twice", w));
      }
    }
    cluster->workers = std::move(workers);
  }
  return Status::Ok();
}

// [store]: folders = ["/models", ...] (searched by `hangar discover`).
Status ReadStore(Reader& r, const toml::table& table, StoreSettings* store) {
  static constexpr std::string_view kKeys[] = {"folders"};
  for (auto&& [k, v] : table) {
    const std::string key = TomlKeyPath({"store", k.str()});
    if (k.str() == "folders") {
      ASSIGN_OR_RETURN(store->folders, r.StringList(v, key));
    } else {
      r.WarnUnknown(v, key, kKeys);
    }
  }
  return Status::Ok();
}

// [downloads]: connections = 8, max_speed = "50MB" (bytes per second; "0"
// or unset: no cap).
Status ReadDownloads(Reader& r, const toml::table& table, DownloadSettings* downloads) {
  static constexpr std::string_view kKeys[] = {"connections", "max_speed"};
  for (auto&& [k, v] : table) {
    const std::string key = TomlKeyPath({"downloads", k.str()});
    if (k.str() == "connections") {
      ASSIGN_OR_RETURN(int64_t n, r.Integer(v, key));
      if (n < 1 || n > kMaxDownloadConnections) {
        return r.Error(v, key,
                       fmt::format("must be between 1 and {}, got {}", kMaxDownloadConnections, n));
      }
      downloads->connections = static_cast<int>(n);
    } else if (k.str() == "max_speed") {
      if (const auto* i = v.as_integer()) {
        if (i->get() < 0) return r.Error(v, key, "must be 0 or more");
        downloads->max_speed = static_cast<uint64_t>(i->get());
        continue;
      }
      ASSIGN_OR_RETURN(std::string text, r.String(v, key));
      Result<uint64_t> bytes = ParseRate(text);
      if (!bytes.ok()) return r.Error(v, key, bytes.status().message());
      downloads->max_speed = *bytes;
    } else {
      r.WarnUnknown(v, key, kKeys);
    }
  }
  return Status::Ok();
}

Status ReadLimits(Reader& r, const toml::table& table, Limits* limits) {
  for (auto&& [k, v] : table) {
    const std::string key = TomlKeyPath({"limits", k.str()});
    Amount* field = LimitField(*limits, k.str());
    if (field == nullptr) {
      r.WarnUnknown(v, key, LimitKeys());
      continue;
    }
    Amount amount;
    if (const auto* s = v.as_string()) {
      Result<Amount> parsed = ParseAmount(s->get());
      if (!parsed.ok()) return r.Error(v, key, parsed.status().message());
      amount = *parsed;
    } else if (const auto* i = v.as_integer()) {
      if (i->get() < 0) return r.Error(v, key, fmt::format("must be 0 or more, got {}", i->get()));
      amount.bytes = static_cast<uint64_t>(i->get());
    } else {
      return r.TypeError(v, key, "a share such as \"80%\" or a size such as \"2GB\"");
    }
    std::string problem = CheckLimit(k.str(), amount);
    if (!problem.empty()) return r.Error(v, key, problem);
    *field = amount;
  }
  return Status::Ok();
}

Status ReadPresetField(Reader& r, const toml::node& v, const std::string& key,
                       const ModelPresetField& field, ModelPreset* preset) {
  return std::visit(
      [&](auto member) -> Status {
        using T = typename std::remove_reference_t<decltype(preset->*member)>::value_type;
        if constexpr (std::is_same_v<T, std::string>) {
          ASSIGN_OR_RETURN(std::string s, r.String(v, key));
          std::string problem = CheckPresetString(field.key, s);
          if (!problem.empty()) return r.Error(v, key, problem);
          if (field.key == "sha256") {
            std::transform(s.begin(), s.end(), s.begin(),
                           [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
          }
          preset->*member = std::move(s);
        } else if constexpr (std::is_same_v<T, double>) {
          ASSIGN_OR_RETURN(double d, r.Number(v, key));
          std::string problem = CheckPresetNumber(field.key, d);
          if (!problem.empty()) return r.Error(v, key, problem);
          preset->*member = d;
        } else if constexpr (std::is_same_v<T, int64_t>) {
          ASSIGN_OR_RETURN(int64_t n, r.Integer(v, key));
          std::string problem = CheckPresetNumber(field.key, static_cast<double>(n));
          if (!problem.empty()) return r.Error(v, key, problem);
          preset->*member = n;
        } else if constexpr (std::is_same_v<T, uint64_t>) {  // parameters
          // A bare number means billions.
          std::string text;
          if (const auto* s = v.as_string()) {
            text = s->get();
          } else if (v.is_number()) {
            ASSIGN_OR_RETURN(double billions, r.Number(v, key));
            text = fmt::format("{}", billions);
          } else {
            return r.TypeError(v, key, "a number of billions or a string such as \"7B\"");
          }
          Result<uint64_t> count = ParseParameterCount(text);
          if (!count.ok()) return r.Error(v, key, count.status().message());
          preset->*member = *count;
        } else {
          static_assert(std::is_same_v<T, std::vector<std::string>>);
          ASSIGN_OR_RETURN(preset->*member, r.StringList(v, key));
        }
        return Status::Ok();
      },
      field.member);
}

Status ReadPresets(Reader& r, const toml::table& table, std::vector<ModelPreset>* presets) {
  static const std::vector<std::string_view> known = [] {
    std::vector<std::string_view> keys;
    for (const ModelPresetField& f : ModelPresetFields()) keys.push_back(f.key);
    return keys;
  }();
  presets->reserve(table.size());
  for (auto&& [k, v] : table) {
    const std::string path = TomlKeyPath({"model_presets", k.str()});
    std::string problem = CheckPresetName(k.str());
    if (!problem.empty()) return r.Error(v, path, problem);
    ASSIGN_OR_RETURN(const toml::table* t, r.Table(v, path, "[model_presets.NAME]"));
    ModelPreset preset;
    preset.name = std::string(k.str());
    for (auto&& [fk, fv] : *t) {
      const std::string key = TomlKeyPath({"model_presets", k.str(), fk.str()});
      auto field = std::find_if(ModelPresetFields().begin(), ModelPresetFields().end(),
                                [&](const ModelPresetField& f) { return f.key == fk.str(); });
      if (field == ModelPresetFields().end()) {
        r.WarnUnknown(fv, key, known);
        continue;
      }
      RETURN_IF_ERROR(ReadPresetField(r, fv, key, *field, &preset));
    }
    presets->push_back(std::move(preset));
  }
  return Status::Ok();  // toml::table iterates in key order: already sorted
}

Status ReadProfile(Reader& r, std::string_view name, const toml::table& table,
                   ProfileDefinition* def) {
  ProfilePatch& p = def->patch;
  for (auto&& [k, v] : table) {
    const std::string_view field = k.str();
    const std::string key = TomlKeyPath({"performance_profiles", name, field});
    std::optional<int64_t>* int_field = field == "max_tokens" ? &p.max_tokens
                                        : field == "top_k"    ? &p.top_k
                                                              : nullptr;
    std::optional<double>* num_field = field == "temperature"      ? &p.temperature
                                       : field == "top_p"          ? &p.top_p
                                       : field == "min_p"          ? &p.min_p
                                       : field == "repeat_penalty" ? &p.repeat_penalty
                                                                   : nullptr;
    std::optional<std::string>* str_field = field == "description" ? &p.description
                                            : field == "use_case"  ? &p.use_case
                                            : field == "inherits"  ? &p.inherits
                                                                   : nullptr;
    if (int_field != nullptr) {
      ASSIGN_OR_RETURN(int64_t n, r.Integer(v, key));
      std::string problem = CheckProfileNumber(field, static_cast<double>(n));
      if (!problem.empty()) return r.Error(v, key, problem);
      *int_field = n;
    } else if (num_field != nullptr) {
      ASSIGN_OR_RETURN(double d, r.Number(v, key));
      std::string problem = CheckProfileNumber(field, d);
      if (!problem.empty()) return r.Error(v, key, problem);
      *num_field = d;
    } else if (str_field != nullptr) {
      ASSIGN_OR_RETURN(*str_field, r.String(v, key));
      if (field == "inherits") def->inherits_location = r.Where(v, key);
    } else {
      r.WarnUnknown(v, key, ProfileKeys());
    }
  }
  return Status::Ok();
}

Status ReadProfiles(Reader& r, const toml::table& table, std::vector<ProfileDefinition>* defs) {
  defs->reserve(table.size());
  for (auto&& [k, v] : table) {
    const std::string path = TomlKeyPath({"performance_profiles", k.str()});
    std::string problem = CheckProfileName(k.str());
    if (!problem.empty()) return r.Error(v, path, problem);
    ASSIGN_OR_RETURN(const toml::table* t, r.Table(v, path, "[performance_profiles.NAME]"));
    ProfileDefinition def;
    def.name = std::string(k.str());
    RETURN_IF_ERROR(ReadProfile(r, k.str(), *t, &def));
    defs->push_back(std::move(def));
  }
  return Status::Ok();
}

}  // namespace

Result<toml::table> ConfigParser::ParseToml(std::string_view text, std::string_view file_name) {
  try {
    return toml::parse(text, file_name);
  } catch (const toml::parse_error& e) {
    const toml::source_position& at = e.source().begin;
    std::string where = at.line > 0 ? fmt::format("{}:{}:{}", file_name, at.line, at.column)
                                    : std::string(file_name);
    return InvalidArgumentError(fmt::format("{}: TOML syntax error: {}{}; fix the file and retry",
                                            where, e.description(), LineExcerpt(text, at.line)));
  } catch (const std::exception& e) {
    return InternalError(fmt::format("{}: cannot parse: {}", file_name, e.what()));
  }
}

Config ConfigParser::Missing(std::string_view file_name) {
  Config config;
  config.file_name_ = std::string(file_name);
  return config;
}

Result<Config> ConfigParser::FromTable(const toml::table& root, std::string_view file_name) {
  Config config;
  config.file_name_ = std::string(file_name);
  config.exists_ = true;
  Reader r(file_name, &config.warnings_);
  std::vector<ProfileDefinition> definitions;
  for (auto&& [k, v] : root) {
    const std::string_view key = k.str();
    if (key == "default_model") {
      RETURN_IF_ERROR(ReadDefaultModel(r, v, &config.default_model_));
    } else if (key == "limits") {
      ASSIGN_OR_RETURN(const toml::table* t, r.Table(v, key, "[limits]"));
      RETURN_IF_ERROR(ReadLimits(r, *t, &config.limits_));
    } else if (key == "store") {
      ASSIGN_OR_RETURN(const toml::table* t, r.Table(v, key, "[store]"));
      RETURN_IF_ERROR(ReadStore(r, *t, &config.store_));
    } else if (key == "downloads") {
      ASSIGN_OR_RETURN(const toml::table* t, r.Table(v, key, "[downloads]"));
      RETURN_IF_ERROR(ReadDownloads(r, *t, &config.downloads_));
    } else if (key == "runtime") {
      ASSIGN_OR_RETURN(const toml::table* t, r.Table(v, key, "[runtime]"));
      RETURN_IF_ERROR(ReadRuntime(r, *t, &config.runtime_));
    } else if (key == "updates") {
      ASSIGN_OR_RETURN(const toml::table* t, r.Table(v, key, "[updates]"));
      RETURN_IF_ERROR(ReadUpdates(r, *t, &config.updates_));
    } else if (key == "cluster") {
      ASSIGN_OR_RETURN(const toml::table* t, r.Table(v, key, "[cluster]"));
      RETURN_IF_ERROR(ReadCluster(r, *t, &config.cluster_));
    } else if (key == "model_presets") {
      ASSIGN_OR_RETURN(const toml::table* t, r.Table(v, key, "[model_presets.NAME]"));
      RETURN_IF_ERROR(ReadPresets(r, *t, &config.presets_));
    } else if (key == "performance_profiles") {
      ASSIGN_OR_RETURN(const toml::table* t, r.Table(v, key, "[performance_profiles.NAME]"));
      RETURN_IF_ERROR(ReadProfiles(r, *t, &definitions));
    } else if (v.is_table() || v.is_array_of_tables()) {
      // A section for a later version or another tool: kept, not read.
      if (key == "defaults" && v.as_table() != nullptr && v.as_table()->contains("model")) {
        r.Warn(*v.as_table()->get("model"), "defaults.model",
               "ignored; the default model is set by default_model at the top level");
      }
    } else {
      r.Warn(v, TomlKeyPath({key}),
             "unknown key, ignored (known top-level keys: default_model; tables: limits, "
             "store, downloads, runtime, updates, cluster, model_presets, performance_profiles)");
    }
  }
  ASSIGN_OR_RETURN(config.profiles_, ResolveProfiles(definitions));
  return config;
}

}  // namespace hangar
