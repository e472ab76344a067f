// Helpers shared by the HTTP backends (ollama_backend.cc, openai_backend.cc):
// server addresses from settings and the environment, JSON requests and
// streamed JSON lines, cancellation. Internal to the runtime module; pure or
// thread-safe as noted.
#ifndef HANGAR_RUNTIME_HTTP_BACKEND_UTIL_H_
#define HANGAR_RUNTIME_HTTP_BACKEND_UTIL_H_

#include <functional>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>

#include "core/env.h"
#include "core/status.h"
#include "fetch/http_client.h"
#include "runtime/backend.h"

namespace hangar::runtime {

// A base URL without a trailing '/': `configured`, else the environment
// variable `env_var`, else `fallback`. "host:port" gets "http://"; a host of
// 0.0.0.0 (a server listening everywhere) is reached at 127.0.0.1. Pure.
std::string ServerBaseUrl(std::string_view configured, const Environment* env,
                          std::string_view env_var, std::string_view fallback);

// `text` parsed, or DataLoss naming `what` (the server's answer was not JSON).
Result<nlohmann::json> ParseJson(std::string_view text, std::string_view what);

// A POST of `body` as JSON to `url`, answered as a whole. The HTTP client's
// errors (NotFound, FailedPrecondition, Unavailable, ...) pass through.
Result<nlohmann::json> PostJson(HttpClient& http, const std::string& url,
                                const nlohmann::json& body, const HttpHeaders& headers,
                                const CancelFlag* cancel, std::string_view what);
Result<nlohmann::json> GetJson(HttpClient& http, const std::string& url, const HttpHeaders& headers,
                               std::string_view what);

// A POST whose answer is a stream of lines (NDJSON, or SSE "data: ..."),
// each handed to `on_line` as it arrives; its non-OK Status stops the stream
// and is returned. Cancelled when `cancel` is set.
Status PostStream(HttpClient& http, const std::string& url, const nlohmann::json& body,
                  const HttpHeaders& headers, const CancelFlag* cancel,
                  const std::function<Status(std::string_view line)>& on_line);

// Chat messages as both APIs take them: [{"role": ..., "content": ...}]. Pure.
nlohmann::json MessagesJson(std::span<const ChatMessage> messages);

// L2 normalisation in place (a zero vector stays zero).
void NormalizeL2(std::vector<float>& v);

}  // namespace hangar::runtime

#endif  // HANGAR_RUNTIME_HTTP_BACKEND_UTIL_H_
