#include "runtime/backend.h"

#include <fmt/format.h>

#include <algorithm>

#include "config/value_rules.h"
#include "core/strings.h"
#include "runtime/llama_backend.h"
#include "runtime/ollama_backend.h"
#include "runtime/openai_backend.h"

namespace hangar::runtime {

SamplingParams SamplingFromProfile(const Profile& profile) {
  SamplingParams p;
  p.temperature = profile.temperature;
  p.top_p = profile.top_p;
  p.top_k = profile.top_k;
  p.min_p = profile.min_p;
  p.repeat_penalty = profile.repeat_penalty;
  return p;
}

Status CheckSampling(const SamplingParams& p, int max_tokens) {
  RETURN_IF_ERROR(CheckValue("temperature", p.temperature));
  RETURN_IF_ERROR(CheckValue("top_p", p.top_p));
  RETURN_IF_ERROR(CheckValue("top_k", p.top_k));
  RETURN_IF_ERROR(CheckValue("min_p", p.min_p));
  RETURN_IF_ERROR(CheckValue("repeat_penalty", p.repeat_penalty));
  return CheckValue("max_tokens", max_tokens);
}

std::string_view FinishReasonName(FinishReason reason) {
  switch (reason) {
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kLength:
      return "length";
    case FinishReason::kStopString:
      return "stop_string";
  }
  return "stop";
}

std::string_view PoolingName(Pooling pooling) {
  switch (pooling) {
    case Pooling::kModel:
      return "model";
    case Pooling::kMean:
      return "mean";
    case Pooling::kCls:
      return "cls";
    case Pooling::kLast:
      return "last";
  }
  return "model";
}

Result<Pooling> ParsePooling(std::string_view text) {
  for (Pooling p : {Pooling::kModel, Pooling::kMean, Pooling::kCls, Pooling::kLast}) {
    if (EqualsIgnoreCase(text, PoolingName(p))) return p;
  }
  return InvalidArgumentError(
      fmt::format("unknown pooling '{}'; use model, mean, cls or last", text));
}

double Timings::PromptTokensPerSecond() const {
  const int read = prompt_tokens - cached_tokens;
  return prompt_us > 0 ? 1e6 * read / static_cast<double>(prompt_us) : 0;
}

double Timings::GenTokensPerSecond() const {
  return gen_us > 0 ? 1e6 * gen_tokens / static_cast<double>(gen_us) : 0;
}

Result<size_t> Backend::CountTokens(std::string_view text) {
  ASSIGN_OR_RETURN(std::vector<int32_t> tokens, Tokenize(text, false));
  return tokens.size();
}

Result<BenchResult> Backend::Bench(const BenchRequest& request) {
  if (request.n_prompt < 1 || request.n_gen < 1 || request.repetitions < 1) {
    return InvalidArgumentError(
        "bench: prompt and generation tokens and repetitions must each be at least 1");
  }
  // About one token per short word.
  std::string prompt;
  for (int i = 0; i < request.n_prompt; ++i) prompt += i % 2 ? "sky " : "blue ";
  BenchResult out;
  for (int r = 0; r < request.repetitions; ++r) {
    GenerateRequest g;
    g.prompt = prompt + std::to_string(r);  // defeats a server's prompt cache
    g.max_tokens = request.n_gen;
    g.ignore_eos = true;
    g.sampling.temperature = 0;
    g.cancel = request.cancel;
    ASSIGN_OR_RETURN(Completion c, Generate(g));
    out.prompt_samples.push_back(c.timings.PromptTokensPerSecond());
    out.gen_samples.push_back(c.timings.GenTokensPerSecond());
  }
  auto mean = [](const std::vector<double>& v) {
    double s = 0;
    for (double x : v) s += x;
    return v.empty() ? 0.0 : s / static_cast<double>(v.size());
  };
  out.prompt_tokens_per_second = mean(out.prompt_samples);
  out.gen_tokens_per_second = mean(out.gen_samples);
  return out;
}

void BackendRegistry::Register(std::string name, std::string description, Factory factory) {
  auto it = std::find_if(entries_.begin(), entries_.end(),
                         [&](const Entry& e) { return e.name == name; });
  Entry e{std::move(name), std::move(description), std::move(factory)};
  if (it != entries_.end()) {
    *it = std::move(e);
  } else {
    entries_.push_back(std::move(e));
  }
}

Result<std::unique_ptr<Backend>> BackendRegistry::Create(std::string_view name,
                                                         const BackendContext& context) const {
  if (name.empty()) name = kDefaultBackend;
  for (const Entry& e : entries_) {
    if (EqualsIgnoreCase(e.name, name)) return e.factory(context);
  }
  std::string known;
  for (const Entry& e : entries_) known += (known.empty() ? "" : ", ") + e.name;
  return NotFoundError(fmt::format("no backend named '{}'; the backends are {}", name, known));
}

const BackendRegistry& DefaultRegistry() {
  static const BackendRegistry registry = [] {
    BackendRegistry r;
    r.Register("llama", "llama.cpp in this process (the default)", MakeLlamaBackend);
    r.Register("ollama", "an Ollama server ($OLLAMA_HOST)", MakeOllamaBackend);
    r.Register("openai", "an OpenAI-compatible server ($OPENAI_BASE_URL, key from $OPENAI_API_KEY)",
               MakeOpenAiBackend);
    return r;
  }();
  return registry;
}

nlohmann::json ToJson(const Timings& t) {
  return {{"prompt_tokens", t.prompt_tokens},
          {"cached_tokens", t.cached_tokens},
          {"gen_tokens", t.gen_tokens},
          {"prompt_ms", t.prompt_us / 1000.0},
          {"gen_ms", t.gen_us / 1000.0},
          {"ttft_ms", t.ttft_us / 1000.0},
          {"total_ms", t.total_us / 1000.0},
          {"prompt_tokens_per_second", t.PromptTokensPerSecond()},
          {"gen_tokens_per_second", t.GenTokensPerSecond()}};
}

nlohmann::json ToJson(const LoadedModel& m) {
  return {{"backend", m.backend},           {"model", m.target.id},
          {"file", m.target.file.string()}, {"n_ctx", m.n_ctx},
          {"n_gpu_layers", m.n_gpu_layers}, {"threads", m.threads},
          {"host_bytes", m.host_bytes},     {"gpu_bytes", m.gpu_bytes},
          {"load_ms", m.load_us / 1000.0},  {"warmup_ms", m.warmup_us / 1000.0},
          {"recoveries", m.recoveries},     {"has_chat_template", !m.chat_template.empty()}};
}

}  // namespace hangar::runtime
