// FakeHttpClient: an HttpClient without sockets for unit tests of code that
// speaks HTTP (sources, registries, backends). Test code only.
//
// Answers come from a table keyed by exact URL (query included); a URL not in
// the table gets 404. A GET with `Range` on a 200 answer gets 206 with that
// slice and Content-Range, as a server would. Redirects are not followed: a
// 3xx answer is returned as it is (use TestHttpServer for redirect chains).
// Failure injection: the next N requests fail with a given Status, or a body
// is cut after N bytes (Unavailable, like a dropped connection).
// Errors follow HttpClient's contract (HttpErrorMode). Thread-safe.
#ifndef HANGAR_FETCH_TESTING_FAKE_HTTP_CLIENT_H_
#define HANGAR_FETCH_TESTING_FAKE_HTTP_CLIENT_H_

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "fetch/http_client.h"

namespace hangar::testing {

class FakeHttpClient final : public HttpClient {
 public:
  struct Reply {
    int status = 200;
    HttpHeaders headers;
    std::string body;
    std::optional<uint64_t> cut_after;  // body bytes delivered before the "connection" drops
  };

  // Every later request to `url` gets `reply`.
  void Set(const std::string& url, Reply reply);
  void SetBody(const std::string& url, std::string body, std::string content_type = "");
  // The next `count` requests (any URL) fail with `error` before any answer.
  void FailNext(Status error, int count = 1);

  // Requests seen so far, in order.
  std::vector<HttpRequest> Requests() const;
  int RequestCount(const std::string& url) const;

  Result<HttpResponse> Stream(const HttpRequest& request,
                              const HttpStreamHandler& handler) override;

 private:
  mutable std::mutex mu_;
  std::map<std::string, Reply> replies_;
  Status fail_with_;
  int fail_count_ = 0;
  std::vector<HttpRequest> log_;
};

}  // namespace hangar::testing

#endif  // HANGAR_FETCH_TESTING_FAKE_HTTP_CLIENT_H_
