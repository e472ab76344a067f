#include "fetch/url.h"

#include <curl/curl.h>

#include <memory>

#include "core/strings.h"
#include "fetch/curl_api.h"

namespace hangar {
namespace {

struct UrlHandleDeleter {
  void operator()(CURLU* u) const { Curl().url_cleanup(u); }
};
using UrlHandle = std::unique_ptr<CURLU, UrlHandleDeleter>;

std::string Part(CURLU* u, CURLUPart part, unsigned flags = 0) {
  char* out = nullptr;
  if (Curl().url_get(u, part, &out, flags) != CURLUE_OK || out == nullptr) return "";
  std::string s(out);
  Curl().free(out);
  return s;
}

Status Invalid(std::string_view text, std::string_view why) {
  return InvalidArgumentError("not a usable http(s) URL: " + RedactUrl(text) + " (" +
                              std::string(why) + ")");
}

}  // namespace

std::string Url::Origin() const { return scheme + "://" + host + ":" + std::to_string(port); }

Result<Url> ParseUrl(std::string_view text) {
  RETURN_IF_ERROR(CurlStatus());
  UrlHandle u(Curl().url());
  if (!u) return InternalError("out of memory parsing a URL");
  std::string s(text);
  CURLUcode rc = Curl().url_set(u.get(), CURLUPART_URL, s.c_str(), 0);
  if (rc != CURLUE_OK) return Invalid(text, Curl().url_strerror(rc));
  Url url;
  url.scheme = AsciiLower(Part(u.get(), CURLUPART_SCHEME));
  if (url.scheme != "http" && url.scheme != "https") return Invalid(text, "scheme is not http(s)");
  url.host = AsciiLower(Part(u.get(), CURLUPART_HOST));
  if (url.host.empty()) return Invalid(text, "no host");
  std::string port = Part(u.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
  url.port = static_cast<uint16_t>(std::stoi(port.empty() ? "0" : port));
  url.path = Part(u.get(), CURLUPART_PATH);
  if (url.path.empty()) url.path = "/";
  url.query = Part(u.get(), CURLUPART_QUERY);
  return url;
}

Result<std::string> ResolveUrl(std::string_view base, std::string_view reference) {
  RETURN_IF_ERROR(CurlStatus());
  UrlHandle u(Curl().url());
  if (!u) return InternalError("out of memory parsing a URL");
  std::string b(base), r(reference);
  CURLUcode rc = Curl().url_set(u.get(), CURLUPART_URL, b.c_str(), 0);
  if (rc != CURLUE_OK) return Invalid(base, Curl().url_strerror(rc));
  rc = Curl().url_set(u.get(), CURLUPART_URL, r.c_str(), 0);
  if (rc != CURLUE_OK) return Invalid(reference, Curl().url_strerror(rc));
  std::string out = Part(u.get(), CURLUPART_URL);
  RETURN_IF_ERROR(ParseUrl(out).status());
  return out;
}

bool SameOrigin(std::string_view a, std::string_view b) {
  auto ua = ParseUrl(a);
  auto ub = ParseUrl(b);
  return ua.ok() && ub.ok() && ua->Origin() == ub->Origin();
}

size_t StripCredentials(HttpHeaders& headers) {
  return headers.Remove("Authorization") + headers.Remove("Cookie");
}

}  // namespace hangar
