#include "config/model_preset.h"

#include <fmt/format.h>

#include <cctype>
#include <cmath>
#include <cstdlib>

namespace hangar {

namespace {

using P = ModelPreset;

const ModelPresetField kFields[] = {
    {"weights", &P::weights},
    {"tokenizer", &P::tokenizer},
    {"format", &P::format},
    {"size_gb", &P::size_gb},
    {"avg_tokens_per_sec", &P::avg_tokens_per_sec},
    {"quality", &P::quality},
    {"use_case", &P::use_case},
    {"context_length", &P::context_length},
    {"min_ram_gb", &P::min_ram_gb},
    {"hf_repo", &P::hf_repo},
    {"hf_file", &P::hf_file},
    {"ollama", &P::ollama},
    {"quantization", &P::quantization},
    {"family", &P::family},
    {"parameters", &P::parameters},
    {"purpose", &P::purpose},
    {"tags", &P::tags},
    {"description", &P::description},
    {"sha256", &P::sha256},
    {"layers", &P::layers},
    {"embedding", &P::embedding},
    {"heads", &P::heads},
    {"kv_heads", &P::kv_heads},
    {"head_dim", &P::head_dim},
    {"system", &P::system},
    {"chat_template", &P::chat_template},
    {"temperature", &P::temperature},
    {"top_p", &P::top_p},
    {"top_k", &P::top_k},
    {"min_p", &P::min_p},
    {"repeat_penalty", &P::repeat_penalty},
    {"seed", &P::seed},
    {"max_tokens", &P::max_tokens},
    {"stop", &P::stop},
};

bool IsHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

}  // namespace

std::span<const ModelPresetField> ModelPresetFields() { return kFields; }

std::string CheckPresetNumber(std::string_view key, double value) {
  // Written so that NaN fails every check.
  if (key == "size_gb" || key == "context_length" || key == "layers" || key == "embedding" ||
      key == "heads" || key == "kv_heads" || key == "head_dim") {
    if (!(value > 0 && std::isfinite(value))) {
      return fmt::format("must be greater than 0, got {:g}", value);
    }
  } else if (key == "temperature") {
    if (!(value >= 0 && value <= 2)) return fmt::format("must be 0 to 2, got {:g}", value);
  } else if (key == "top_p" || key == "min_p") {
    if (!(value >= 0 && value <= 1)) return fmt::format("must be 0 to 1, got {:g}", value);
  } else if (key == "repeat_penalty") {
    if (!(value > 0 && value <= 100)) return fmt::format("must be above 0 up to 100, got {:g}", value);
  } else if (key == "avg_tokens_per_sec" || key == "min_ram_gb" || key == "top_k" ||
             key == "seed" || key == "max_tokens") {
    if (!(value >= 0 && std::isfinite(value))) {
      return fmt::format("must be 0 or more, got {:g}", value);
    }
  }
  return "";
}

std::string CheckPresetString(std::string_view key, std::string_view value) {
  if (value.empty()) return "must not be empty";
  if (key == "sha256") {
    if (value.size() != 64) {
      return fmt::format("must be 64 hex digits, got {} characters", value.size());
    }
    for (char c : value) {
      if (!IsHex(c)) return fmt::format("must be 64 hex digits, found '{}'", c);
    }
  }
  return "";
}

std::string CheckPresetName(std::string_view name) {
  if (name.empty()) return "a preset name must not be empty";
  if (name.size() > 128)
    return fmt::format("preset name \"{}\" is longer than 128 characters", name);
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.';
    if (!ok) {
      return fmt::format("invalid preset name \"{}\": use letters, digits, '.', '_' and '-' only",
                         name);
    }
  }
  return "";
}

Result<uint64_t> ParseParameterCount(std::string_view text) {
  std::string t(text);
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.pop_back();
  size_t start = 0;
  while (start < t.size() && std::isspace(static_cast<unsigned char>(t[start]))) ++start;
  t = t.substr(start);
  double mult = 1e9;
  if (!t.empty() && std::isalpha(static_cast<unsigned char>(t.back()))) {
    switch (std::tolower(static_cast<unsigned char>(t.back()))) {
      case 'k':
        mult = 1e3;
        break;
      case 'm':
        mult = 1e6;
        break;
      case 'b':
        mult = 1e9;
        break;
      case 't':
        mult = 1e12;
        break;
      default:
        mult = 0;
    }
    t.pop_back();
    while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.pop_back();
  }
  char* end = nullptr;
  double number = t.empty() ? 0 : std::strtod(t.c_str(), &end);
  if (mult == 0 || t.empty() || end != t.c_str() + t.size() || !(number > 0) ||
      !std::isfinite(number)) {
    return InvalidArgumentError(fmt::format(
        "invalid parameter count \"{}\": expected e.g. 7B, 1.5B, 500M or a number of billions",
        text));
  }
  double count = std::round(number * mult);
  if (count >= 1e18) {
    return InvalidArgumentError(fmt::format("invalid parameter count \"{}\": too large", text));
  }
  return static_cast<uint64_t>(count);
}

nlohmann::json ToJson(const ModelPreset& preset) {
  nlohmann::json j = nlohmann::json::object();
  j["name"] = preset.name;
  for (const ModelPresetField& f : ModelPresetFields()) {
    std::visit(
        [&](auto member) {
          const auto& value = preset.*member;
          if (value) j[std::string(f.key)] = *value;
        },
        f.member);
  }
  return j;
}

}  // namespace hangar
