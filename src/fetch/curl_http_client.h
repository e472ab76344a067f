// CurlHttpClient: the HttpClient over libcurl (HTTP/1.1 and HTTP/2, TLS with
// the system's certificates).
//
// Thread-safe: concurrent Stream() calls each take an idle curl handle from a
// pool (or make one) and give it back afterwards, so connections are kept
// alive and reused by later requests. Redirects are followed by
// HttpClient's rules (http_client.h), not by libcurl. Stall detection and
// cancellation run in libcurl's progress callback, which libcurl calls at
// least about once a second even while nothing arrives.
#ifndef HANGAR_FETCH_CURL_HTTP_CLIENT_H_
#define HANGAR_FETCH_CURL_HTTP_CLIENT_H_

#include <cstddef>
#include <mutex>
#include <string>
#include <vector>

#include "core/clock.h"
#include "fetch/http_client.h"

namespace hangar {

struct CurlHttpClientOptions {
  std::string user_agent = "hangar/0.1";
  // Largest piece handed to a body callback; bigger pieces mean fewer calls.
  size_t receive_buffer_bytes = 512 << 10;
  std::string ca_bundle;  // a CA file instead of the system's; empty: system
  size_t max_idle_handles = 32;
  // Turns HTTP-dates of Retry-After into seconds. Not owned.
  const Clock* clock = &SystemClock::Default();
};

class CurlHttpClient final : public HttpClient {
 public:
  explicit CurlHttpClient(CurlHttpClientOptions options = {});
  ~CurlHttpClient() override;

  CurlHttpClient(const CurlHttpClient&) = delete;
  CurlHttpClient& operator=(const CurlHttpClient&) = delete;

  Result<HttpResponse> Stream(const HttpRequest& request,
                              const HttpStreamHandler& handler) override;

 private:
  void* AcquireHandle();
  void ReleaseHandle(void* handle);

  const CurlHttpClientOptions options_;
  std::mutex mu_;
  std::vector<void*> idle_;  // CURL* easy handles, guarded by mu_
};

}  // namespace hangar

#endif  // HANGAR_FETCH_CURL_HTTP_CLIENT_H_
