#include "fetch/curl_http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>

#include "core/strings.h"
#include "fetch/curl_api.h"
#include "fetch/url.h"

namespace hangar {
namespace {

constexpr size_t kErrorBodyBytes = 64 << 10;

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// curl_global_init runs when libcurl is loaded (curl_api.cc).
void GlobalInit() { (void)Curl(); }

bool IsRedirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

struct SlistDeleter {
  void operator()(curl_slist* l) const { Curl().slist_free_all(l); }
};

// State of one exchange (one hop of a redirect chain) seen by the callbacks.
struct Exchange {
  const HttpRequest* request = nullptr;
  const HttpStreamHandler* handler = nullptr;
  HttpResponse* response = nullptr;  // url and redirects are already set
  bool follow_redirects = false;
  int64_t stall_us = 0;

  int status = 0;
  HttpHeaders headers;
  enum class Mode { kUndecided, kDiscard, kDeliver, kCollect } mode = Mode::kUndecided;
  bool delivered_response = false;
  std::string collected;  // body of a non-2xx final answer
  Status abort;           // why a callback stopped the transfer
  int64_t last_activity_us = 0;
  uint64_t body_bytes = 0;

  void DecideMode() {
    if (mode != Mode::kUndecided) return;
    if (follow_redirects && IsRedirect(status) && headers.Has("Location")) {
      mode = Mode::kDiscard;
    } else if (status >= 200 && status < 300) {
      mode = Mode::kDeliver;
    } else {
      mode = Mode::kCollect;
    }
  }

  // Fills the response with this exchange's answer and calls on_response.
  Status Deliver() {
    delivered_response = true;
    response->status = status;
    response->headers = headers;
    if (handler->on_response) return handler->on_response(*response);
    return Status::Ok();
  }
};

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  size_t len = size * n;
  ex->last_activity_us = NowMicros();
  std::string_view line(data, len);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (line.size() >= 5 && line.substr(0, 5) == "HTTP/") {
    // A new answer (an interim 1xx, or the real one): start over.
    ex->headers = HttpHeaders();
    size_t sp = line.find(' ');
    ex->status =
        sp == std::string_view::npos ? 0 : std::atoi(std::string(line.substr(sp + 1, 3)).c_str());
    return len;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return len;
  std::string_view name = line.substr(0, colon);
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  ex->headers.Add(std::string(name), std::string(value));
  return len;
}

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  size_t len = size * n;
  ex->last_activity_us = NowMicros();
  ex->DecideMode();
  switch (ex->mode) {
    case Exchange::Mode::kUndecided:
    case Exchange::Mode::kDiscard:
      return len;
    case Exchange::Mode::kCollect:
      if (ex->collected.size() < kErrorBodyBytes) {
        ex->collected.append(data, std::min(len, kErrorBodyBytes - ex->collected.size()));
      }
      return len;
    case Exchange::Mode::kDeliver:
      break;
  }
  if (!ex->delivered_response) {
    Status s = ex->Deliver();
    if (!s.ok()) {
      ex->abort = std::move(s);
      return CURL_WRITEFUNC_ERROR;
    }
  }
  Status s;
  if (ex->handler->on_body) s = ex->handler->on_body(std::string_view(data, len));
  ex->body_bytes += len;
  if (ex->request->rate_limiter != nullptr) {
    // Received bytes count against the cap whatever the callback made of them.
    ex->request->rate_limiter->Acquire(len);
    ex->last_activity_us = NowMicros();  // waiting on our own cap is no stall
  }
  if (!s.ok()) {
    ex->abort = std::move(s);
    return CURL_WRITEFUNC_ERROR;
  }
  return len;
}

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* ex = static_cast<Exchange*>(user);
  if (ex->request->cancelled && ex->request->cancelled()) {
    ex->abort = CancelledError("request to " + RedactUrl(ex->response->url) + " cancelled");
    return 1;
  }
  if (ex->stall_us > 0 && NowMicros() - ex->last_activity_us > ex->stall_us) {
    ex->abort = UnavailableError("no data from " + RedactUrl(ex->response->url) + " for " +
                                 std::to_string(ex->stall_us / 1000) + " ms (stalled) after " +
                                 std::to_string(ex->body_bytes) + " body bytes");
    return 1;
  }
  return 0;
}

Status CurlError(CURLcode rc, const char* errbuf, const std::string& url, const Exchange& ex) {
  std::string detail = errbuf[0] != '\0' ? errbuf : Curl().easy_strerror(rc);
  while (!detail.empty() && detail.back() == '\n') detail.pop_back();
  std::string where = RedactUrl(url);
  switch (rc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      return InvalidArgumentError("cannot request " + where + ": " + detail);
    case CURLE_OPERATION_TIMEDOUT:
      return UnavailableError("request to " + where + " timed out: " + detail);
    case CURLE_PARTIAL_FILE:
      return UnavailableError("connection to " + where + " closed after " +
                              std::to_string(ex.body_bytes) + " body bytes: " + detail);
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
      return UnavailableError("cannot connect to " + where + ": " + detail);
    default:
      return UnavailableError("request to " + where + " failed: " + detail);
  }
}

}  // namespace

CurlHttpClient::CurlHttpClient(CurlHttpClientOptions options) : options_(std::move(options)) {
  GlobalInit();
}

CurlHttpClient::~CurlHttpClient() {
  for (void* h : idle_) Curl().easy_cleanup(static_cast<CURL*>(h));
}

void* CurlHttpClient::AcquireHandle() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      void* h = idle_.back();
      idle_.pop_back();
      return h;
    }
  }
  return Curl().easy_init();
}

void CurlHttpClient::ReleaseHandle(void* handle) {
  {
    std::lock_guard lock(mu_);
    if (idle_.size() < options_.max_idle_handles) {
      idle_.push_back(handle);
      return;
    }
  }
  Curl().easy_cleanup(static_cast<CURL*>(handle));
}

Result<HttpResponse> CurlHttpClient::Stream(const HttpRequest& request,
                                            const HttpStreamHandler& handler) {
  RETURN_IF_ERROR(CurlStatus());
  RETURN_IF_ERROR(ParseUrl(request.url).status());
  CURL* curl = static_cast<CURL*>(AcquireHandle());
  if (curl == nullptr) return InternalError("cannot create a libcurl handle");
  struct Releaser {
    CurlHttpClient* self;
    CURL* curl;
    ~Releaser() { self->ReleaseHandle(curl); }
  } releaser{this, curl};

  const int64_t start_us = NowMicros();
  HttpResponse response;
  response.url = request.url;
  HttpMethod method = request.method;
  bool send_body = !request.body.empty() || method == HttpMethod::kPut;
  HttpHeaders headers = request.headers;
  const std::string first_url = request.url;
  bool credentials_dropped = false;

  for (int hop = 0;; ++hop) {
    if (!credentials_dropped && !SameOrigin(first_url, response.url)) {
      StripCredentials(headers);
      credentials_dropped = true;
    }
    Curl().easy_reset(curl);
    char errbuf[CURL_ERROR_SIZE];
    errbuf[0] = '\0';
    Exchange ex;
    ex.request = &request;
    ex.handler = &handler;
    ex.response = &response;
    ex.follow_redirects = request.max_redirects > 0;
    ex.stall_us = request.stall_timeout_ms * 1000;
    ex.last_activity_us = NowMicros();

    std::unique_ptr<curl_slist, SlistDeleter> list;
    auto append = [&](const std::string& line) {
      list.reset(Curl().slist_append(list.release(), line.c_str()));
    };
    for (const auto& [k, v] : headers.entries()) append(k + ": " + v);
    append("Expect:");  // no 100-continue round trip for request bodies
    if (send_body && !request.content_type.empty() && !headers.Has("Content-Type")) {
      append("Content-Type: " + request.content_type);
    }
    std::string range;
    if (request.range) range = request.range->ToHeaderValue().substr(6);

    Curl().easy_setopt(curl, CURLOPT_URL, response.url.c_str());
    Curl().easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    Curl().easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    Curl().easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    Curl().easy_setopt(curl, CURLOPT_USERAGENT, options_.user_agent.c_str());
    Curl().easy_setopt(curl, CURLOPT_HTTPHEADER, list.get());
    Curl().easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    Curl().easy_setopt(curl, CURLOPT_BUFFERSIZE, static_cast<long>(options_.receive_buffer_bytes));
    if (!options_.ca_bundle.empty())
      Curl().easy_setopt(curl, CURLOPT_CAINFO, options_.ca_bundle.c_str());
    if (!range.empty()) Curl().easy_setopt(curl, CURLOPT_RANGE, range.c_str());
    switch (method) {
      case HttpMethod::kGet:
        Curl().easy_setopt(curl, CURLOPT_HTTPGET, 1L);
        break;
      case HttpMethod::kHead:
        Curl().easy_setopt(curl, CURLOPT_NOBODY, 1L);
        break;
      case HttpMethod::kPost:
        Curl().easy_setopt(curl, CURLOPT_POST, 1L);
        break;
      case HttpMethod::kPut:
      case HttpMethod::kDelete:
        Curl().easy_setopt(curl, CURLOPT_CUSTOMREQUEST,
                           std::string(HttpMethodName(method)).c_str());
        break;
    }
    if (send_body && method != HttpMethod::kGet && method != HttpMethod::kHead) {
      Curl().easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
      Curl().easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                         static_cast<curl_off_t>(request.body.size()));
    }
    Curl().easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                       static_cast<long>(request.connect_timeout_ms));
    if (request.timeout_ms > 0) {
      int64_t left_ms = request.timeout_ms - (NowMicros() - start_us) / 1000;
      if (left_ms <= 0) {
        return UnavailableError("request to " + RedactUrl(request.url) + " timed out after " +
                                std::to_string(request.timeout_ms) + " ms (redirects)");
      }
      Curl().easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(left_ms));
    }
    Curl().easy_setopt(curl, CURLOPT_HEADERFUNCTION, &OnHeader);
    Curl().easy_setopt(curl, CURLOPT_HEADERDATA, &ex);
    Curl().easy_setopt(curl, CURLOPT_WRITEFUNCTION, &OnBody);
    Curl().easy_setopt(curl, CURLOPT_WRITEDATA, &ex);
    Curl().easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &OnProgress);
    Curl().easy_setopt(curl, CURLOPT_XFERINFODATA, &ex);
    Curl().easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);

    CURLcode rc = Curl().easy_perform(curl);
    if (!ex.abort.ok()) return ex.abort;
    if (rc != CURLE_OK) return CurlError(rc, errbuf, response.url, ex);
    long code = 0;
    Curl().easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    ex.status = static_cast<int>(code);
    ex.DecideMode();

    if (ex.mode == Exchange::Mode::kDiscard) {
      if (hop >= request.max_redirects) {
        return UnavailableError("too many redirects (more than " +
                                std::to_string(request.max_redirects) + ") from " +
                                RedactUrl(request.url));
      }
      std::string location = *ex.headers.Get("Location");
      Result<std::string> next = ResolveUrl(response.url, location);
      if (!next.ok()) {
        return UnavailableError("redirect from " + RedactUrl(response.url) +
                                " to an unusable location: " + next.status().message());
      }
      response.redirects.push_back(HttpHop{response.url, ex.status, std::move(ex.headers)});
      response.url = std::move(*next);
      if ((ex.status == 303 && method != HttpMethod::kHead) ||
          ((ex.status == 301 || ex.status == 302) && method == HttpMethod::kPost)) {
        method = HttpMethod::kGet;
        send_body = false;
        headers.Remove("Content-Type");
      }
      continue;
    }

    response.status = ex.status;
    response.headers = std::move(ex.headers);
    if (auto ra = response.headers.Get("Retry-After")) {
      response.retry_after_seconds = ParseRetryAfter(*ra, options_.clock->NowUnixSeconds());
    }
    if (ex.mode == Exchange::Mode::kDeliver) {
      if (!ex.delivered_response) {
        ex.headers = response.headers;
        RETURN_IF_ERROR(ex.Deliver());
      }
      return response;
    }
    response.body = std::move(ex.collected);
    if (response.status >= 400 && request.errors == HttpErrorMode::kStatus) {
      return HttpErrorStatus(response);
    }
    return response;
  }
}

}  // namespace hangar
