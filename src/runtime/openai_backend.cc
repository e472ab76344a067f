#include "runtime/openai_backend.h"

#include <fmt/format.h>

#include <algorithm>

#include "runtime/http_backend_util.h"
#include "runtime/text_assembler.h"

namespace hangar::runtime {
namespace {

class OpenAiBackend final : public Backend {
 public:
  explicit OpenAiBackend(const BackendContext& context)
      : context_(context),
        clock_(context.clock != nullptr ? context.clock : &SystemClock::Default()),
        base_(ServerBaseUrl(context.openai_base_url, context.env.get(), "OPENAI_BASE_URL",
                            kDefaultOpenAiBaseUrl)) {
    if (context.env != nullptr && !context.openai_api_key_env.empty()) {
      if (std::optional<std::string> key = context.env->Get(context.openai_api_key_env)) {
        headers_.Set("Authorization", "Bearer " + *key);
      }
    }
  }

  std::string_view name() const override { return "openai"; }
  const LoadedModel* loaded() const override { return loaded_ ? &model_ : nullptr; }

  Status Load(const ModelTarget& target, const LoadOptions& options) override;
  void Unload() override { loaded_ = false; }

  Result<Completion> Stream(const GenerateRequest& request,
                            const TokenCallback& on_piece) override {
    RETURN_IF_ERROR(NeedModel());
    nlohmann::json body = Request(request);
    body["prompt"] = request.prompt;
    return Run("/completions", body, request, on_piece,
               [](const nlohmann::json& choice) { return choice.value("text", std::string()); });
  }
  Result<Completion> ChatStream(std::span<const ChatMessage> messages,
                                const GenerateRequest& request,
                                const TokenCallback& on_piece) override {
    RETURN_IF_ERROR(NeedModel());
    if (messages.empty()) return InvalidArgumentError("a chat needs at least one message");
    nlohmann::json body = Request(request);
    body["messages"] = MessagesJson(messages);
    return Run("/chat/completions", body, request, on_piece, [](const nlohmann::json& choice) {
      const auto delta = choice.find("delta");
      if (delta == choice.end() || !delta->is_object()) return std::string();
      const auto content = delta->find("content");
      return content != delta->end() && content->is_string() ? content->get<std::string>()
                                                             : std::string();
    });
  }
  Result<Embeddings> Embed(std::span<const std::string> texts,
                           const EmbedOptions& options) override;
  Result<std::vector<int32_t>> Tokenize(std::string_view, bool) override {
    return FailedPreconditionError(
        "the OpenAI API has no tokenizer endpoint; use the llama backend to count tokens");
  }

 private:
  Status NeedModel() const {
    if (!loaded_) return FailedPreconditionError("no model is loaded on the openai backend");
    return Status::Ok();
  }
  std::string Url(std::string_view path) const { return base_ + std::string(path); }
  nlohmann::json Request(const GenerateRequest& r) const {
    nlohmann::json j = {{"model", remote_},
                        {"stream", true},
                        {"stream_options", {{"include_usage", true}}},
                        {"temperature", r.sampling.temperature},
                        {"top_p", r.sampling.top_p},
                        {"seed", r.sampling.seed},
                        {"max_tokens", r.max_tokens}};
    if (!r.stop.empty()) j["stop"] = r.stop;
    return j;
  }
  Status Explain(const Status& s) const {
    if (s.code() == StatusCode::kUnavailable) {
      return UnavailableError(
          fmt::format("cannot reach the OpenAI-compatible server at {} ({}); "
                      "start it or set OPENAI_BASE_URL",
                      base_, s.message()));
    }
    if (s.code() == StatusCode::kFailedPrecondition) {
      return FailedPreconditionError(
          fmt::format("the server at {} refuses the credentials ({}); check ${}", base_,
                      s.message(), context_.openai_api_key_env));
    }
    return s;
  }
  using PieceOf = std::function<std::string(const nlohmann::json& choice)>;
  Result<Completion> Run(std::string_view path, const nlohmann::json& body,
                         const GenerateRequest& request, const TokenCallback& on_piece,
                         const PieceOf& piece_of);

  BackendContext context_;
  const Clock* clock_;
  std::string base_;
  HttpHeaders headers_;
  std::string remote_;
  LoadedModel model_;
  bool loaded_ = false;
};

Status OpenAiBackend::Load(const ModelTarget& target, const LoadOptions& options) {
  loaded_ = false;
  remote_ = target.remote_name.empty() ? target.id : target.remote_name;
  if (remote_.empty()) return InvalidArgumentError("name the model to use on the server");
  const int64_t t0 = clock_->MonotonicMicros();
  Result<nlohmann::json> models =
      GetJson(*context_.http, Url("/models"), headers_, "the server's /models answer");
  if (!models.ok() && models.status().code() != StatusCode::kNotFound) {
    return Explain(models.status());
  }
  if (models.ok()) {
    const auto data = models->find("data");
    if (data != models->end() && data->is_array()) {
      std::vector<std::string> ids;
      for (const auto& m : *data) {
        if (m.is_object() && m.contains("id") && m["id"].is_string()) ids.push_back(m["id"]);
      }
      if (std::find(ids.begin(), ids.end(), remote_) == ids.end()) {
        std::string list;
        for (const std::string& id : ids) list += (list.empty() ? "" : ", ") + id;
        return NotFoundError(fmt::format("the server at {} has no model {}; it has: {}", base_,
                                         remote_, list.empty() ? "none" : list));
      }
    }
  }
  model_ = LoadedModel{};
  model_.backend = "openai";
  model_.target = target;
  if (model_.target.id.empty()) model_.target.id = remote_;
  model_.n_ctx = options.n_ctx;
  model_.load_us = clock_->MonotonicMicros() - t0;
  loaded_ = true;
  return Status::Ok();
}

Result<Completion> OpenAiBackend::Run(std::string_view path, const nlohmann::json& body,
                                      const GenerateRequest& request, const TokenCallback& on_piece,
                                      const PieceOf& piece_of) {
  if (request.max_tokens < 1) {
    return InvalidArgumentError(
        fmt::format("max_tokens must be at least 1, got {}", request.max_tokens));
  }
  const int64_t t0 = clock_->MonotonicMicros();
  int64_t t_first = 0;
  Completion out;
  TextAssembler text;
  bool done = false;
  std::string finish = "stop";
  int pieces = 0;
  auto emit = [&](std::string s) -> Status {
    if (s.empty()) return Status::Ok();
    if (t_first == 0) {
      t_first = clock_->MonotonicMicros();
      out.timings.ttft_us = t_first - t0;
    }
    if (on_piece && !on_piece(s)) return CancelledError("generation stopped by the caller");
    return Status::Ok();
  };
  Status s = PostStream(
      *context_.http, Url(path), body, headers_, request.cancel,
      [&](std::string_view line) -> Status {
        // Server-sent events: "data: ..." lines; comments and other fields are skipped.
        if (!line.starts_with("data:")) return Status::Ok();
        line.remove_prefix(5);
        while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
        if (line == "[DONE]") {
          done = true;
          return Status::Ok();
        }
        ASSIGN_OR_RETURN(nlohmann::json j, ParseJson(line, "an event of the server's stream"));
        if (j.contains("error")) {
          const nlohmann::json& e = j["error"];
          return InternalError(
              fmt::format("the server reports: {}", e.is_object()   ? e.value("message", e.dump())
                                                    : e.is_string() ? e.get<std::string>()
                                                                    : e.dump()));
        }
        if (const auto usage = j.find("usage"); usage != j.end() && usage->is_object()) {
          out.timings.prompt_tokens = usage->value("prompt_tokens", 0);
          out.timings.gen_tokens = usage->value("completion_tokens", 0);
        }
        if (const auto choices = j.find("choices");
            choices != j.end() && choices->is_array() && !choices->empty()) {
          const nlohmann::json& c = (*choices)[0];
          std::string piece = piece_of(c);
          if (!piece.empty()) ++pieces;
          RETURN_IF_ERROR(emit(text.Push(piece)));
          if (c.contains("finish_reason") && c["finish_reason"].is_string()) {
            finish = c["finish_reason"].get<std::string>();
          }
        }
        return Status::Ok();
      });
  if (s.ok()) s = emit(text.Finish());
  if (!s.ok()) {
    if (s.code() == StatusCode::kCancelled) return CancelledError("generation cancelled");
    return Explain(s);
  }
  if (!done) return UnavailableError("the server's stream ended without data: [DONE]");
  const int64_t t_end = clock_->MonotonicMicros();
  out.text = text.text();
  out.finish = finish == "length" ? FinishReason::kLength : FinishReason::kStop;
  if (out.timings.gen_tokens == 0) out.timings.gen_tokens = pieces;  // no usage reported
  out.timings.prompt_us = t_first > 0 ? t_first - t0 : t_end - t0;
  out.timings.gen_us = t_first > 0 ? t_end - t_first : 0;
  out.timings.total_us = t_end - t0;
  return out;
}

Result<Embeddings> OpenAiBackend::Embed(std::span<const std::string> texts,
                                        const EmbedOptions& options) {
  RETURN_IF_ERROR(NeedModel());
  if (options.pooling != Pooling::kModel) {
    return InvalidArgumentError(
        "the server pools embeddings as the model says; use pooling "
        "'model' or the llama backend");
  }
  const int64_t t0 = clock_->MonotonicMicros();
  Embeddings out;
  if (texts.empty()) return out;
  Result<nlohmann::json> r =
      PostJson(*context_.http, Url("/embeddings"), {{"model", remote_}, {"input", texts}}, headers_,
               nullptr, "the server's /embeddings answer");
  if (!r.ok()) return Explain(r.status());
  const auto data = r->find("data");
  if (data == r->end() || !data->is_array() || data->size() != texts.size()) {
    return DataLossError(
        fmt::format("the server's /embeddings answer has no {} embeddings", texts.size()));
  }
  out.vectors.resize(texts.size());
  try {
    size_t position = 0;
    for (const auto& item : *data) {
      const size_t index = item.value("index", position);
      ++position;
      if (index >= texts.size()) return DataLossError("an embedding's index is out of range");
      out.vectors[index] = item.at("embedding").get<std::vector<float>>();
      if (options.normalize) NormalizeL2(out.vectors[index]);
    }
  } catch (const std::exception& e) {
    return DataLossError(std::string("the server's embeddings are malformed: ") + e.what());
  }
  if (const auto usage = r->find("usage"); usage != r->end() && usage->is_object()) {
    out.prompt_tokens = usage->value("prompt_tokens", 0);
  }
  out.total_us = clock_->MonotonicMicros() - t0;
  return out;
}

}  // namespace

Result<std::unique_ptr<Backend>> MakeOpenAiBackend(const BackendContext& context) {
  if (context.http == nullptr) {
    return FailedPreconditionError("the openai backend needs an HTTP client");
  }
  return std::unique_ptr<Backend>(std::make_unique<OpenAiBackend>(context));
}

}  // namespace hangar::runtime
