#include "config/value_rules.h"

#include <fmt/format.h>

#include <charconv>
#include <climits>
#include <cmath>

namespace hangar {
namespace {

constexpr double kIntMax = INT_MAX;

constexpr ValueRule kSampling[] = {
    {"temperature", 0, 2, false, false, "Sampling temperature, 0 (greedy) to 2"},
    {"top_p", 0, 1, true, false, "Nucleus sampling, above 0 up to 1 (1 disables it)"},
    {"top_k", 0, kIntMax, false, true, "Top-k sampling, 0 disables it"},
    {"min_p", 0, 1, false, false, "Min-p sampling, 0 to 1 (0 disables it)"},
    {"repeat_penalty", 0, 100, true, false,
     "Repetition penalty, above 0 up to 100 (1 disables it)"},
    {"seed", 0, 4294967295.0, false, true, "Random seed (the same seed repeats the same answer)"},
    {"max_tokens", 1, kIntMax, false, true, "Most tokens to generate"},
};

constexpr ValueRule kLoad[] = {
    {"ctx", 0, 16777216, false, true, "Context size in tokens (0: the model's own)"},
    {"threads", 1, 1024, false, true, "CPU threads"},
    {"batch", 1, 1048576, false, true, "Logical batch size (tokens per decode call)"},
    {"ubatch", 1, 1048576, false, true, "Physical batch size"},
    {"gpu_layers", -1, 100000, false, true, "Layers on the GPU (-1: all)"},
};

std::string Key(std::string_view key) {
  std::string k(key);
  for (char& c : k) {
    if (c == '-') c = '_';
  }
  return k;
}

std::string Number(double v) { return fmt::format("{:g}", v); }

}  // namespace

std::span<const ValueRule> SamplingRules() { return kSampling; }
std::span<const ValueRule> LoadRules() { return kLoad; }

const ValueRule* FindValueRule(std::string_view key) {
  const std::string k = Key(key);
  for (std::span<const ValueRule> rules : {SamplingRules(), LoadRules()}) {
    for (const ValueRule& r : rules) {
      if (r.key == k) return &r;
    }
  }
  return nullptr;
}

std::string CheckValue(const ValueRule& rule, double value) {
  // Written so that NaN fails every comparison.
  const bool low_ok = rule.min_exclusive ? value > rule.min : value >= rule.min;
  if (!low_ok || !(value <= rule.max) || !std::isfinite(value)) {
    if (rule.min_exclusive) {
      return fmt::format("must be above {} and at most {}, got {}", Number(rule.min),
                         Number(rule.max), Number(value));
    }
    return fmt::format("must be between {} and {}, got {}", Number(rule.min), Number(rule.max),
                       Number(value));
  }
  if (rule.whole && value != std::floor(value)) {
    return fmt::format("must be a whole number, got {}", Number(value));
  }
  return "";
}

Status CheckValue(std::string_view key, double value) {
  const ValueRule* rule = FindValueRule(key);
  if (rule == nullptr) return InvalidArgumentError("no setting named " + std::string(key));
  std::string problem = CheckValue(*rule, value);
  if (problem.empty()) return Status::Ok();
  return InvalidArgumentError(std::string(rule->key) + " " + problem);
}

Result<double> ParseValue(std::string_view key, std::string_view text) {
  const ValueRule* rule = FindValueRule(key);
  if (rule == nullptr) return InvalidArgumentError("no setting named " + std::string(key));
  double v = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (text.empty() || ec != std::errc() || ptr != end) {
    return InvalidArgumentError(fmt::format("{} must be a number, got '{}'", rule->key, text));
  }
  RETURN_IF_ERROR(CheckValue(key, v));
  return v;
}

}  // namespace hangar
