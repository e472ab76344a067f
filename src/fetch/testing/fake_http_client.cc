#include "fetch/testing/fake_http_client.h"

#include <algorithm>

namespace hangar::testing {

void FakeHttpClient::Set(const std::string& url, Reply reply) {
  std::lock_guard lock(mu_);
  replies_[url] = std::move(reply);
}

void FakeHttpClient::SetBody(const std::string& url, std::string body, std::string content_type) {
  Reply r;
  r.body = std::move(body);
  if (!content_type.empty()) r.headers.Add("Content-Type", std::move(content_type));
  Set(url, std::move(r));
}

void FakeHttpClient::FailNext(Status error, int count) {
  std::lock_guard lock(mu_);
  fail_with_ = std::move(error);
  fail_count_ = count;
}

std::vector<HttpRequest> FakeHttpClient::Requests() const {
  std::lock_guard lock(mu_);
  return log_;
}

int FakeHttpClient::RequestCount(const std::string& url) const {
  std::lock_guard lock(mu_);
  return static_cast<int>(
      std::count_if(log_.begin(), log_.end(), [&](const HttpRequest& r) { return r.url == url; }));
}

Result<HttpResponse> FakeHttpClient::Stream(const HttpRequest& request,
                                            const HttpStreamHandler& handler) {
  Reply reply;
  {
    std::lock_guard lock(mu_);
    log_.push_back(request);
    if (fail_count_ > 0) {
      --fail_count_;
      return fail_with_;
    }
    auto it = replies_.find(request.url);
    if (it == replies_.end()) {
      reply.status = 404;
      reply.body = "not found";
    } else {
      reply = it->second;
    }
  }
  HttpResponse response;
  response.url = request.url;
  response.status = reply.status;
  response.headers = reply.headers;
  if (auto ra = reply.headers.Get("Retry-After"))
    response.retry_after_seconds = ParseRetryAfter(*ra, 0);
  std::string_view body = reply.body;
  if (reply.status == 200 && request.range && request.method != HttpMethod::kPost) {
    const uint64_t size = body.size();
    if (request.range->first >= size) {
      response.status = 416;
      response.headers.Set("Content-Range", "bytes */" + std::to_string(size));
      body = {};
    } else {
      uint64_t last = std::min(request.range->last.value_or(size - 1), size - 1);
      body = body.substr(request.range->first, last - request.range->first + 1);
      response.status = 206;
      response.headers.Set("Content-Range", "bytes " + std::to_string(request.range->first) + "-" +
                                                std::to_string(last) + "/" + std::to_string(size));
    }
  }
  if (request.method != HttpMethod::kHead) {
    response.headers.Set("Content-Length", std::to_string(body.size()));
  } else {
    response.headers.Set("Content-Length", std::to_string(reply.body.size()));
    body = {};
  }
  if (!response.is_success()) {
    response.body = std::string(body.substr(0, 64 << 10));
    if (response.status >= 400 && request.errors == HttpErrorMode::kStatus) {
      return HttpErrorStatus(response);
    }
    return response;
  }
  if (handler.on_response) RETURN_IF_ERROR(handler.on_response(response));
  const bool cut = reply.cut_after && *reply.cut_after < body.size();
  if (cut) body = body.substr(0, *reply.cut_after);
  if (handler.on_body && !body.empty()) RETURN_IF_ERROR(handler.on_body(body));
  if (cut) {
    return UnavailableError("connection to " + RedactUrl(request.url) + " closed after " +
                            std::to_string(body.size()) + " body bytes (injected)");
  }
  return response;
}

}  // namespace hangar::testing
