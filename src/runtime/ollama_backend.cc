#include "runtime/ollama_backend.h"

#include <fmt/format.h>

#include "runtime/http_backend_util.h"
#include "runtime/text_assembler.h"

namespace hangar::runtime {
namespace {

class OllamaBackend final : public Backend {
 public:
  explicit OllamaBackend(const BackendContext& context)
      : context_(context),
        clock_(context.clock != nullptr ? context.clock : &SystemClock::Default()),
        base_(ServerBaseUrl(context.ollama_host, context.env.get(), "OLLAMA_HOST",
                            kDefaultOllamaHost)) {}
  ~OllamaBackend() override {
    if (loaded_) Unload();
  }

  std::string_view name() const override { return "ollama"; }
  const LoadedModel* loaded() const override { return loaded_ ? &model_ : nullptr; }

  Status Load(const ModelTarget& target, const LoadOptions& options) override;
  void Unload() override;
  Result<Completion> Stream(const GenerateRequest& request,
                            const TokenCallback& on_piece) override {
    RETURN_IF_ERROR(NeedModel());
    nlohmann::json body = Request(request);
    body["prompt"] = request.prompt;
    body["raw"] = true;
    return Run("/api/generate", body, request, on_piece,
               [](const nlohmann::json& line) { return line.value("response", std::string()); });
  }
  Result<Completion> ChatStream(std::span<const ChatMessage> messages,
                                const GenerateRequest& request,
                                const TokenCallback& on_piece) override {
    RETURN_IF_ERROR(NeedModel());
    if (messages.empty()) return InvalidArgumentError("a chat needs at least one message");
    nlohmann::json body = Request(request);
    body["messages"] = MessagesJson(messages);
    return Run("/api/chat", body, request, on_piece, [](const nlohmann::json& line) {
      const auto it = line.find("message");
      return it != line.end() && it->is_object() ? it->value("content", std::string())
                                                 : std::string();
    });
  }
  Result<Embeddings> Embed(std::span<const std::string> texts,
                           const EmbedOptions& options) override;
  Result<std::vector<int32_t>> Tokenize(std::string_view, bool) override {
    return FailedPreconditionError(
        "the Ollama API has no tokenizer endpoint; use the llama backend to count tokens");
  }

 private:
  Status NeedModel() const {
    if (!loaded_) return FailedPreconditionError("no model is loaded on the ollama backend");
    return Status::Ok();
  }
  std::string Url(std::string_view path) const { return base_ + std::string(path); }
  // The model's options plus the request's sampling.
  nlohmann::json Request(const GenerateRequest& r) const {
    nlohmann::json o = load_options_;
    const SamplingParams& s = r.sampling;
    o["temperature"] = s.temperature;
    o["top_p"] = s.top_p;
    o["top_k"] = s.top_k;
    o["min_p"] = s.min_p;
    o["repeat_penalty"] = s.repeat_penalty;
    o["repeat_last_n"] = s.repeat_last_n;
    o["seed"] = s.seed;
    o["num_predict"] = r.max_tokens;
    if (!r.stop.empty()) o["stop"] = r.stop;
    return {{"model", remote_}, {"stream", true}, {"options", o}};
  }
  using PieceOf = std::function<std::string(const nlohmann::json& line)>;
  Result<Completion> Run(std::string_view path, const nlohmann::json& body,
                         const GenerateRequest& request, const TokenCallback& on_piece,
                         const PieceOf& piece_of);

  BackendContext context_;
  const Clock* clock_;
  std::string base_;
  std::string remote_;
  nlohmann::json load_options_ = nlohmann::json::object();
  LoadedModel model_;
  bool loaded_ = false;
};

Status OllamaBackend::Load(const ModelTarget& target, const LoadOptions& options) {
  if (loaded_) Unload();
  remote_ = target.remote_name.empty() ? target.id : target.remote_name;
  if (remote_.empty()) return InvalidArgumentError("name the Ollama model to load");
  const int64_t t0 = clock_->MonotonicMicros();
  Result<nlohmann::json> show = PostJson(*context_.http, Url("/api/show"), {{"model", remote_}}, {},
                                         options.cancel, "Ollama's /api/show answer");
  if (!show.ok()) {
    if (show.status().code() == StatusCode::kNotFound) {
      return NotFoundError(
          fmt::format("the Ollama server at {} has no model {}; run 'ollama pull "
                      "{}' (or choose another backend)",
                      base_, remote_, remote_));
    }
    if (show.status().code() == StatusCode::kUnavailable) {
      return UnavailableError(fmt::format(
          "cannot reach the Ollama server at {} ({}); start it (ollama serve) or set OLLAMA_HOST",
          base_, show.status().message()));
    }
    return show.status();
  }
  load_options_ = nlohmann::json::object();
  if (options.n_ctx > 0) load_options_["num_ctx"] = options.n_ctx;
  if (options.threads > 0) load_options_["num_thread"] = options.threads;
  load_options_["num_batch"] = options.n_batch;
  if (options.n_gpu_layers) load_options_["num_gpu"] = *options.n_gpu_layers;
  load_options_["use_mmap"] = options.mmap;
  load_options_["use_mlock"] = options.mlock;

  model_ = LoadedModel{};
  model_.backend = "ollama";
  model_.target = target;
  if (model_.target.id.empty()) model_.target.id = remote_;
  model_.threads = options.threads;
  model_.n_ctx = options.n_ctx;
  model_.n_gpu_layers = options.n_gpu_layers.value_or(-1);
  model_.chat_template = show->value("template", std::string());
  if (const auto info = show->find("model_info"); info != show->end() && info->is_object()) {
    for (const auto& [key, value] : info->items()) {
      if (key.ends_with(".embedding_length") && value.is_number_integer()) {
        model_.n_embd = value.get<int32_t>();
      }
      if (options.n_ctx == 0 && key.ends_with(".context_length") && value.is_number_integer()) {
        model_.n_ctx = value.get<uint32_t>();
      }
    }
  }
  if (options.warmup) {
    // An empty generate loads the model into the server's memory.
    RETURN_IF_ERROR(PostJson(*context_.http, Url("/api/generate"),
                             {{"model", remote_}, {"stream", false}, {"options", load_options_}},
                             {}, options.cancel, "Ollama's /api/generate answer")
                        .status());
  }
  model_.load_us = clock_->MonotonicMicros() - t0;
  loaded_ = true;
  return Status::Ok();
}

void OllamaBackend::Unload() {
  if (!loaded_) return;
  loaded_ = false;
  // Best effort: the server frees the model at once instead of after its keep_alive.
  (void)PostJson(*context_.http, Url("/api/generate"),
                 {{"model", remote_}, {"keep_alive", 0}, {"stream", false}}, {}, nullptr,
                 "Ollama's /api/generate answer");
}

Result<Completion> OllamaBackend::Run(std::string_view path, const nlohmann::json& body,
                                      const GenerateRequest& request, const TokenCallback& on_piece,
                                      const PieceOf& piece_of) {
  if (request.max_tokens < 1) {
    return InvalidArgumentError(
        fmt::format("max_tokens must be at least 1, got {}", request.max_tokens));
  }
  const int64_t t0 = clock_->MonotonicMicros();
  Completion out;
  TextAssembler text;
  bool done = false;
  std::string finish = "stop";
  auto emit = [&](std::string s) -> Status {
    if (s.empty()) return Status::Ok();
    if (out.timings.ttft_us == 0) out.timings.ttft_us = clock_->MonotonicMicros() - t0;
    if (on_piece && !on_piece(s)) return CancelledError("generation stopped by the caller");
    return Status::Ok();
  };
  Status s = PostStream(
      *context_.http, Url(path), body, {}, request.cancel, [&](std::string_view line) -> Status {
        if (line.empty()) return Status::Ok();
        ASSIGN_OR_RETURN(nlohmann::json j, ParseJson(line, "a line of Ollama's stream"));
        if (j.contains("error")) {
          return InternalError(fmt::format(
              "the Ollama server reports: {}",
              j["error"].is_string() ? j["error"].get<std::string>() : j["error"].dump()));
        }
        RETURN_IF_ERROR(emit(text.Push(piece_of(j))));
        if (j.value("done", false)) {
          done = true;
          finish = j.value("done_reason", std::string("stop"));
          out.timings.prompt_tokens = j.value("prompt_eval_count", 0);
          out.timings.prompt_us = j.value("prompt_eval_duration", int64_t{0}) / 1000;
          out.timings.gen_tokens = j.value("eval_count", 0);
          out.timings.gen_us = j.value("eval_duration", int64_t{0}) / 1000;
        }
        return Status::Ok();
      });
  if (s.ok()) s = emit(text.Finish());
  if (!s.ok()) {
    if (s.code() == StatusCode::kCancelled) return CancelledError("generation cancelled");
    return s;
  }
  if (!done) return UnavailableError("the Ollama stream ended before its final line");
  out.text = text.text();
  out.finish = finish == "length" ? FinishReason::kLength : FinishReason::kStop;
  out.timings.total_us = clock_->MonotonicMicros() - t0;
  return out;
}

Result<Embeddings> OllamaBackend::Embed(std::span<const std::string> texts,
                                        const EmbedOptions& options) {
  RETURN_IF_ERROR(NeedModel());
  if (options.pooling != Pooling::kModel) {
    return InvalidArgumentError(
        "the Ollama server pools embeddings as the model says; use "
        "pooling 'model' or the llama backend");
  }
  const int64_t t0 = clock_->MonotonicMicros();
  Embeddings out;
  if (texts.empty()) return out;
  nlohmann::json body = {{"model", remote_}, {"input", texts}, {"options", load_options_}};
  ASSIGN_OR_RETURN(nlohmann::json j, PostJson(*context_.http, Url("/api/embed"), body, {}, nullptr,
                                              "Ollama's /api/embed answer"));
  const auto it = j.find("embeddings");
  if (it == j.end() || !it->is_array() || it->size() != texts.size()) {
    return DataLossError(
        fmt::format("Ollama's /api/embed answer has no {} embeddings", texts.size()));
  }
  try {
    for (const auto& e : *it) {
      std::vector<float> v = e.get<std::vector<float>>();
      if (options.normalize) NormalizeL2(v);
      out.vectors.push_back(std::move(v));
    }
  } catch (const std::exception& e) {
    return DataLossError(std::string("Ollama's embeddings are not arrays of numbers: ") + e.what());
  }
  out.prompt_tokens = j.value("prompt_eval_count", 0);
  out.total_us = clock_->MonotonicMicros() - t0;
  return out;
}

}  // namespace

Result<std::unique_ptr<Backend>> MakeOllamaBackend(const BackendContext& context) {
  if (context.http == nullptr) {
    return FailedPreconditionError("the ollama backend needs an HTTP client");
  }
  return std::unique_ptr<Backend>(std::make_unique<OllamaBackend>(context));
}

}  // namespace hangar::runtime
