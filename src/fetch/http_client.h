// HttpClient: the seam through which Hangar speaks HTTP (downloads, the
// Hugging Face and Ollama registries, the runtime's HTTP backends).
//
// One request goes in, one response comes out. Redirects are followed by the
// client itself (not by the transport), so that
//   - the headers of every hop are kept (the Hugging Face hub's 302 carries
//     X-Linked-Etag, X-Repo-Commit and X-Linked-Size; the CDN answer lacks them),
//   - credentials (`Authorization`, `Cookie`) are never sent to another origin
//     (scheme, host, port) than the one of the first request: once a redirect
//     leaves that origin they are dropped for the rest of the chain.
//
// Bodies either stream to a callback (downloads, NDJSON and SSE streams; see
// LineSplitter) or are collected whole (Fetch). Failures are Status values:
//   Unavailable          connection errors, timeouts, stalls, 408/425/429/5xx
//                        (retry later; `Retry-After` is in the response when
//                        errors come back as responses, see HttpErrorMode)
//   NotFound             404, 410
//   FailedPrecondition   401, 403, 407 (credentials), 409, 412, 416
//   InvalidArgument      a malformed URL, an unsupported scheme, other 4xx
//   Cancelled            the request's `cancelled` predicate turned true
//   ResourceExhausted    Fetch() body larger than its cap
//   (any code)           what a body callback returned to stop the transfer
// Messages name the URL with RedactUrl() (never a token or a signed query).
//
// Implementations must be safe for concurrent use: many threads may call
// Stream() and Fetch() on one client at the same time.
#ifndef HANGAR_FETCH_HTTP_CLIENT_H_
#define HANGAR_FETCH_HTTP_CLIENT_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "fetch/http_headers.h"
#include "fetch/rate_limiter.h"

namespace hangar {

enum class HttpMethod { kGet, kHead, kPost, kPut, kDelete };
std::string_view HttpMethodName(HttpMethod method);

// A byte range as in `Range: bytes=FIRST-LAST` (LAST inclusive, open when unset).
struct ByteRange {
  uint64_t first = 0;
  std::optional<uint64_t> last;

  // "bytes=0-99", "bytes=100-".
  std::string ToHeaderValue() const;
  friend bool operator==(const ByteRange&, const ByteRange&) = default;
};

// What the client does with a final answer of 400 or above.
enum class HttpErrorMode {
  kStatus,    // return the Status of the mapping above (the default)
  kResponse,  // return the response (status code, headers, first 64 KiB of the
              // body) as a value, for callers that read error headers such as
              // Hugging Face's `X-Error-Code` or Retry-After; HttpErrorStatus()
              // maps it afterwards
};

struct HttpRequest {
  HttpMethod method = HttpMethod::kGet;
  std::string url;
  HttpHeaders headers;       // sent as given; credentials stay on the first origin
  std::string body;          // sent for POST/PUT/DELETE when not empty
  std::string content_type;  // Content-Type of `body`
  std::optional<ByteRange> range;

  int64_t connect_timeout_ms = 15'000;
  int64_t timeout_ms = 0;             // whole exchange, redirects included; 0: none
  int64_t stall_timeout_ms = 30'000;  // no byte received for this long: Unavailable; 0: off
  int max_redirects = 10;             // 0: a 3xx answer is returned as it is
  HttpErrorMode errors = HttpErrorMode::kStatus;

  // Caps the rate of this transfer together with every other one sharing the
  // limiter. Not owned; must outlive the call. nullptr: no cap.
  RateLimiter* rate_limiter = nullptr;
  // Polled during the transfer (at least about once a second, also while no
  // byte arrives); true aborts it with Cancelled.
  std::function<bool()> cancelled;
};

// One redirect answer that was followed.
struct HttpHop {
  std::string url;  // the URL that answered with the redirect
  int status = 0;
  HttpHeaders headers;
};

struct HttpResponse {
  int status = 0;                  // of the final answer
  std::string url;                 // the final URL, after redirects
  HttpHeaders headers;             // of the final answer
  std::vector<HttpHop> redirects;  // hops followed, in order
  // Fetch(): the whole body. Stream(): empty for 2xx answers (the body went
  // to the callback); for other answers the first 64 KiB of their body.
  std::string body;
  // Seconds from `Retry-After` of the final answer, when it has a valid one.
  std::optional<int64_t> retry_after_seconds;

  // The header of the final answer, else of the latest hop that has it.
  std::optional<std::string> FindHeader(std::string_view name) const;
  // Content-Length of the final answer.
  std::optional<uint64_t> ContentLength() const;
  bool is_success() const { return status >= 200 && status < 300; }
};

// Callbacks of a streaming request. Both are called only for a final answer
// with a 2xx status, on the calling thread, in order: `on_response` once with
// status and headers (before any body byte, also for an empty body), then
// `on_body` with each piece of the body. A non-OK Status from either stops the
// transfer, and Stream() returns that Status unchanged (a caller that stops on
// purpose can use Cancelled and recognise it).
struct HttpStreamHandler {
  std::function<Status(const HttpResponse& response)> on_response;
  std::function<Status(std::string_view data)> on_body;
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;

  // Performs `request`, following redirects. On success returns the final
  // response (2xx, or 3xx when max_redirects is 0, or any status with
  // HttpErrorMode::kResponse) after its body has gone to `handler`. Failure
  // codes as in the header comment.
  virtual Result<HttpResponse> Stream(const HttpRequest& request,
                                      const HttpStreamHandler& handler) = 0;

  // Stream() collecting the body into the response. ResourceExhausted when
  // the body passes `max_body_bytes`.
  Result<HttpResponse> Fetch(const HttpRequest& request, size_t max_body_bytes = 64 << 20);
};

// The Status for a final answer (OK for 1xx-3xx), with the redacted URL, the
// Hugging Face `X-Error-Code` when present, Retry-After, and the start of the
// body (the server's own explanation) in the message.
Status HttpErrorStatus(const HttpResponse& response);

// Status code for an HTTP status, by the mapping in the header comment.
StatusCode StatusCodeForHttp(int http_status);

// True for answers worth retrying later: 408, 425, 429 and 5xx.
bool IsRetryableHttpStatus(int http_status);

}  // namespace hangar

#endif  // HANGAR_FETCH_HTTP_CLIENT_H_
