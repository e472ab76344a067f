// OpenAiBackend: models behind any OpenAI-compatible server (OpenAI itself,
// llama-server, vLLM, LM Studio, Ollama's /v1, ...): the base URL of
// [runtime] openai_base_url, else $OPENAI_BASE_URL, else
// http://127.0.0.1:8080/v1; the key, when the variable named by
// [runtime] openai_api_key_env (default OPENAI_API_KEY) is set, as
// "Authorization: Bearer KEY" (sent to that origin only).
//
//   Load      GET /models: when the server lists models, the model must be
//             among them (NotFound listing them otherwise); a server without
//             the listing (404) is taken at its word.
//   Unload    forgets the model (the server decides what it keeps).
//   Stream    POST /completions, "stream": true: server-sent events
//             "data: {choices: [{text}]}" ending with "data: [DONE]".
//   ChatStream POST /chat/completions: the server applies the model's template;
//             "data: {choices: [{delta: {content}}]}".
//   Embed     POST /embeddings {"input": [...]} (the server's pooling: only
//             Pooling::kModel); normalised here unless asked not to.
//   Tokenize  not part of the API: FailedPrecondition.
// Sampling sent: temperature, top_p, seed, max_tokens, stop (the standard
// fields; top_k, min_p and the repetition penalty are not part of the API).
// Token counts come from the "usage" the server reports
// (stream_options.include_usage); durations are measured here: prompt time is
// the wait for the first token, generation time the rest.
//
// Not thread-safe (see backend.h); the HttpClient may be shared.
#ifndef HANGAR_RUNTIME_OPENAI_BACKEND_H_
#define HANGAR_RUNTIME_OPENAI_BACKEND_H_

#include <memory>

#include "core/status.h"
#include "runtime/backend.h"

namespace hangar::runtime {

inline constexpr std::string_view kDefaultOpenAiBaseUrl = "http://127.0.0.1:8080/v1";

// FailedPrecondition when context.http is null.
Result<std::unique_ptr<Backend>> MakeOpenAiBackend(const BackendContext& context);

}  // namespace hangar::runtime

#endif  // HANGAR_RUNTIME_OPENAI_BACKEND_H_
