#include "runtime/http_backend_util.h"

#include <fmt/format.h>

#include <cmath>

#include "fetch/line_splitter.h"

namespace hangar::runtime {
namespace {

HttpRequest JsonRequest(HttpMethod method, const std::string& url, const HttpHeaders& headers,
                        const CancelFlag* cancel) {
  HttpRequest r;
  r.method = method;
  r.url = url;
  r.headers = headers;
  r.headers.Set("Accept", "application/json");
  // A model may take minutes to load before its first byte.
  r.stall_timeout_ms = 600'000;
  if (cancel != nullptr) r.cancelled = [cancel] { return cancel->cancelled(); };
  return r;
}

}  // namespace

std::string ServerBaseUrl(std::string_view configured, const Environment* env,
                          std::string_view env_var, std::string_view fallback) {
  std::string url(configured);
  if (url.empty() && env != nullptr) url = env->Get(env_var).value_or("");
  if (url.empty()) url = std::string(fallback);
  if (url.find("://") == std::string::npos) url = "http://" + url;
  const size_t host = url.find("://") + 3;
  if (url.compare(host, 7, "0.0.0.0") == 0) url.replace(host, 7, "127.0.0.1");
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

Result<nlohmann::json> ParseJson(std::string_view text, std::string_view what) {
  try {
    return nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    return DataLossError(
        fmt::format("{} is not JSON ({}): {}", what, e.what(), text.substr(0, 200)));
  }
}

Result<nlohmann::json> PostJson(HttpClient& http, const std::string& url,
                                const nlohmann::json& body, const HttpHeaders& headers,
                                const CancelFlag* cancel, std::string_view what) {
  HttpRequest r = JsonRequest(HttpMethod::kPost, url, headers, cancel);
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  r.content_type = "application/json";
  ASSIGN_OR_RETURN(HttpResponse response, http.Fetch(r));
  return ParseJson(response.body, what);
}

Result<nlohmann::json> GetJson(HttpClient& http, const std::string& url, const HttpHeaders& headers,
                               std::string_view what) {
  HttpRequest r = JsonRequest(HttpMethod::kGet, url, headers, nullptr);
  r.timeout_ms = 30'000;
  ASSIGN_OR_RETURN(HttpResponse response, http.Fetch(r));
  return ParseJson(response.body, what);
}

Status PostStream(HttpClient& http, const std::string& url, const nlohmann::json& body,
                  const HttpHeaders& headers, const CancelFlag* cancel,
                  const std::function<Status(std::string_view line)>& on_line) {
  HttpRequest r = JsonRequest(HttpMethod::kPost, url, headers, cancel);
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  r.content_type = "application/json";
  LineSplitter lines(on_line);
  HttpStreamHandler handler;
  handler.on_body = [&](std::string_view data) { return lines.Feed(data); };
  RETURN_IF_ERROR(http.Stream(r, handler).status());
  return lines.Finish();
}

nlohmann::json MessagesJson(std::span<const ChatMessage> messages) {
  nlohmann::json out = nlohmann::json::array();
  for (const ChatMessage& m : messages) out.push_back({{"role", m.role}, {"content", m.content}});
  return out;
}

void NormalizeL2(std::vector<float>& v) {
  double sum = 0;
  for (float x : v) sum += static_cast<double>(x) * x;
  if (sum <= 0) return;
  const auto inv = static_cast<float>(1.0 / std::sqrt(sum));
  for (float& x : v) x *= inv;
}

}  // namespace hangar::runtime
