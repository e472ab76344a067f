#include "fetch/http_client.h"

#include <algorithm>

namespace hangar {

std::string_view HttpMethodName(HttpMethod method) {
  switch (method) {
    case HttpMethod::kGet:
      return "GET";
    case HttpMethod::kHead:
      return "HEAD";
    case HttpMethod::kPost:
      return "POST";
    case HttpMethod::kPut:
      return "PUT";
    case HttpMethod::kDelete:
      return "DELETE";
  }
  return "GET";
}

std::string ByteRange::ToHeaderValue() const {
  std::string out = "bytes=" + std::to_string(first) + "-";
  if (last) out += std::to_string(*last);
  return out;
}

std::optional<std::string> HttpResponse::FindHeader(std::string_view name) const {
  if (auto v = headers.Get(name)) return v;
  for (auto it = redirects.rbegin(); it != redirects.rend(); ++it) {
    if (auto v = it->headers.Get(name)) return v;
  }
  return std::nullopt;
}

std::optional<uint64_t> HttpResponse::ContentLength() const {
  auto v = headers.Get("Content-Length");
  if (!v) return std::nullopt;
  return ParseContentLength(*v);
}

Result<HttpResponse> HttpClient::Fetch(const HttpRequest& request, size_t max_body_bytes) {
  std::string body;
  HttpStreamHandler handler;
  handler.on_body = [&](std::string_view data) -> Status {
    if (body.size() + data.size() > max_body_bytes) {
      return ResourceExhaustedError("the answer of " + RedactUrl(request.url) + " is larger than " +
                                    std::to_string(max_body_bytes) + " bytes");
    }
    body.append(data);
    return Status::Ok();
  };
  ASSIGN_OR_RETURN(HttpResponse response, Stream(request, handler));
  if (response.is_success()) response.body = std::move(body);
  return response;
}

bool IsRetryableHttpStatus(int s) { return s == 408 || s == 425 || s == 429 || s >= 500; }

StatusCode StatusCodeForHttp(int s) {
  if (s < 400) return StatusCode::kOk;
  if (s == 404 || s == 410) return StatusCode::kNotFound;
  if (s == 401 || s == 403 || s == 407 || s == 409 || s == 412 || s == 416) {
    return StatusCode::kFailedPrecondition;
  }
  if (IsRetryableHttpStatus(s)) return StatusCode::kUnavailable;
  return StatusCode::kInvalidArgument;
}

namespace {

std::string_view ReasonPhrase(int s) {
  switch (s) {
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 407:
      return "Proxy Authentication Required";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 412:
      return "Precondition Failed";
    case 416:
      return "Range Not Satisfiable";
    case 425:
      return "Too Early";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "";
  }
}

// The first line of an error body, printable ASCII only, at most 200 chars.
std::string BodyExcerpt(std::string_view body) {
  std::string out;
  for (char c : body) {
    if (c == '\n' || c == '\r') {
      if (out.empty()) continue;
      break;
    }
    if (c >= 0x20 && c < 0x7f) out += c;
    if (out.size() >= 200) {
      out += "...";
      break;
    }
  }
  return out;
}

}  // namespace

Status HttpErrorStatus(const HttpResponse& r) {
  StatusCode code = StatusCodeForHttp(r.status);
  if (code == StatusCode::kOk) return Status::Ok();
  std::string msg = "HTTP " + std::to_string(r.status);
  std::string_view reason = ReasonPhrase(r.status);
  if (!reason.empty()) msg += " " + std::string(reason);
  msg += " from " + RedactUrl(r.url);
  if (auto ec = r.headers.Get("X-Error-Code")) msg += " (" + *ec + ")";
  std::string excerpt = BodyExcerpt(r.body);
  if (!excerpt.empty()) msg += ": " + excerpt;
  if (r.status == 401 || r.status == 403) {
    msg += "; check the access token (for Hugging Face: HF_TOKEN) and that it may read this";
  } else if (r.retry_after_seconds) {
    msg += "; the server asks to retry after " + std::to_string(*r.retry_after_seconds) + " s";
  }
  return Status(code, msg);
}

}  // namespace hangar
